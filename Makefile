# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test suite lint bench load deploy-check docs image

# The image's one name and tag: the package version (tests/ops/test_deploy.py
# checks that compose, the manifests and the docs use exactly this).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE := syntha-redis:$(VERSION)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m syntha_redis.demo

lint: $(STAMP)
	$(BIN)/ruff check syntha_redis tests benchmarks examples
	$(BIN)/mypy

# The Dockerfile (hadolint), the compose file (compose specification) and the
# Kubernetes manifests (their API schemas), all checked offline: nothing runs them.
deploy-check: $(STAMP)
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/kubernetes-validate --strict --quiet deploy/kubernetes/*.yaml

image:
	docker build -t $(IMAGE) .

# The docs site (mkdocs-material); --strict turns every warning into a failure.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site

# The checks and the suite run side by side (-O keeps each one's output together):
# the suite's 4 workers (worksteal: an idle one takes queued tests) mostly wait on
# servers, which leaves the cores to mypy and mkdocs.
test: $(STAMP)
	$(MAKE) --no-print-directory -j4 -O lint deploy-check docs suite

suite: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 4 --dist worksteal

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_memory.py
	$(BIN)/python benchmarks/bench_server.py
	$(BIN)/python benchmarks/bench_saturation.py
	$(BIN)/python benchmarks/bench_ideas.py
	$(BIN)/python benchmarks/bench_heavy_calls.py
	$(BIN)/python benchmarks/bench_registry_flood.py
	$(BIN)/python benchmarks/bench_cache.py

# Locust, headless, against the machine's Redis (SYNTHA_REDIS_URL): the mesh's
# own User class next to a raw redis-py User in the same run.
LOAD_USERS ?= 20
load: $(STAMP)
	$(BIN)/locust -f benchmarks/locustfile.py --headless -u $(LOAD_USERS) -r $(LOAD_USERS) \
		-t 30s --only-summary --loglevel WARNING

# The durability soak (not part of `make test`): a private redis-server, a
# fresh schema in the machine's Postgres, a snapshot worker, writer processes
# checked against their models after every injected fault. Exits 1 on a violation.
SOAK_MINUTES ?= 10
soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py --minutes $(SOAK_MINUTES)
