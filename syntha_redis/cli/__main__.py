"""``python -m syntha_redis.cli``: the ``syntha-redis`` command."""

import sys

from syntha_redis.cli.main import main

sys.exit(main())
