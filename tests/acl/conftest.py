"""A private redis-server with two tenants: the machine's Redis ACLs are never touched."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import redis

from syntha_redis import Settings
from syntha_redis.acl import apply_rules, tenant_rules
from syntha_redis.scripts import SCRIPTS
from tests.support.servers import RedisProcess


@dataclass(frozen=True)
class Tenants:
    server: RedisProcess
    prefix: str
    admin: redis.Redis

    def url(self, user_id: str) -> str:
        """The URL a worker of ``user_id``'s tenant connects with."""
        name = tenant_rules(user_id, self.prefix).username
        return f"redis://{quote(name, safe='')}:pw-{quote(user_id, safe='')}@127.0.0.1:" \
               f"{self.server.port}/0"

    def acl_log(self, user_id: str) -> list[dict[str, object]]:
        name = tenant_rules(user_id, self.prefix).username
        return [e for e in self.admin.acl_log() if e["username"] == name]


def load_scripts(admin: redis.Redis) -> None:
    """What an admin (``syntha-redis scripts load``) or a trusted worker does:
    tenants may not load scripts."""
    for script in SCRIPTS.values():
        admin.script_load(script.source)


@pytest.fixture(scope="module")
def tenants() -> Iterator[Tenants]:
    server = RedisProcess().start()
    prefix = f"t{uuid.uuid4().hex[:8]}"
    admin = redis.Redis(port=server.port)
    settings = Settings(redis_url=server.url, key_prefix=prefix)
    for user in ("alice", "bob"):
        apply_rules(settings, tenant_rules(user, prefix, password=f"pw-{user}"), user)
    load_scripts(admin)
    yield Tenants(server, prefix, admin)
    admin.close()
    server.stop()


@pytest.fixture
def clean_acl_log(tenants: Tenants) -> Tenants:
    tenants.admin.acl_log_reset()
    return tenants
