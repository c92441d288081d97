# One image: the syntha_redis library and the syntha-redis CLI (snapshot worker,
# probes/metrics, MCP server), plus the example worker. Slim, non-root.
#
#   make image        # the image syntha-redis:<the version in pyproject.toml>
#   docker run --rm -e SYNTHA_REDIS_URL=redis://redis:6379/0 syntha-redis:0.1.0 health
#
# Linted by `make deploy-check` (hadolint). Keep SYNTHA_VERSION equal to the
# version in pyproject.toml (tests/ops/test_deploy.py checks it).

FROM python:3.12-slim-bookworm AS build
ARG SYNTHA_VERSION=0.1.0
WORKDIR /src
COPY pyproject.toml README.md ./
COPY syntha_redis ./syntha_redis
# every wheel the image needs, so the runtime stage installs offline and pinned
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres,metrics,mcp]"

FROM python:3.12-slim-bookworm
ARG SYNTHA_VERSION=0.1.0
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels \
        "syntha_redis[postgres,metrics,mcp]==${SYNTHA_VERSION}" \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin syntha
WORKDIR /app
COPY --chown=root:root examples/worker.py ./examples/worker.py
USER 10001
# serve: /health, /ready, /metrics; the example worker uses 8001. The listeners
# bind 127.0.0.1 unless told: in a container that is unreachable, so say 0.0.0.0.
EXPOSE 8000 8001
ENTRYPOINT ["syntha-redis"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
