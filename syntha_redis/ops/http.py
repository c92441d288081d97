"""HTTP probes for Kubernetes and Prometheus, served from a daemon thread.

    GET /health   200 while the process can answer (liveness; Redis not asked)
    GET /ready    200 if Redis answers and the scripts are loaded (loading the
                  missing ones), and the process's worker (``worker``: the
                  snapshotter of ``snapshot run``) says it works, else 503; the
                  body is the HealthReport as JSON, with the snapshot's lag and
                  why its capture fails, if it does (the given snapshotter's, else
                  the mesh-wide reading's), the worker's status and what the
                  process set aside of tenants' data (``set_aside``)
    GET /metrics  Prometheus text: this process's counters (the default registry,
                  ``metrics`` extra), and with ``mesh_metrics`` the mesh-wide
                  gauges read from Redis (``syntha_redis.ops.fleet_metrics``)

``start_http_server(settings, port)`` from code, in each worker (its own
counters); ``syntha-redis serve`` from the shell, once per mesh (it turns
``mesh_metrics`` on: one scrape target per mesh, not one copy per worker).
Liveness deliberately ignores Redis: a Redis outage should take workers out
of the load balancer (``/ready``), not restart them all.
The stdlib server is enough: probes and scrapes are a few requests a second.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from syntha_redis.core import untrusted
from syntha_redis.core.config import Settings
from syntha_redis.core.health import SnapshotSource, check_health, unreachable
from syntha_redis.core.store import Store
from syntha_redis.exceptions import SynthaConfigurationError, SynthaError
from syntha_redis.ops.fleet_metrics import CONTENT_TYPE, FleetMetrics, FleetReading

__all__ = ["ProbeServer", "describe_listener", "listen_error", "start_http_server"]

log = logging.getLogger("syntha_redis.http")


WorkerStatus = Callable[[], tuple[bool, dict[str, Any]]]


def _metrics_page(fleet: FleetMetrics | None) -> tuple[HTTPStatus, str, bytes]:
    mesh = b"" if fleet is None else fleet.exposition().encode()
    try:
        from prometheus_client import REGISTRY, generate_latest
    except ImportError:
        if mesh:
            return HTTPStatus.OK, CONTENT_TYPE, mesh
        body = b"prometheus-client is not installed: pip install 'syntha_redis[metrics]'\n"
        return HTTPStatus.NOT_IMPLEMENTED, "text/plain; charset=utf-8", body
    return HTTPStatus.OK, CONTENT_TYPE, mesh + generate_latest(REGISTRY)


def _json(status: HTTPStatus, payload: dict[str, Any]) -> tuple[HTTPStatus, str, bytes]:
    return status, "application/json", json.dumps(payload).encode() + b"\n"


def listen_error(error: Exception, host: str, port: int) -> SynthaConfigurationError | None:
    """Why a listener cannot bind ``host``:``port``, as a SynthaConfigurationError
    (None: not a bind failure). The probes and the MCP server share it."""
    if isinstance(error, socket.gaierror):
        return SynthaConfigurationError(
            f"cannot serve on host {host!r}: it does not resolve ({error.strerror})",
            config_key="host",
            suggestions=["Pass --host 127.0.0.1 (this machine), 0.0.0.0 (every interface), "
                         "or a name or address of this machine"],
        )
    if isinstance(error, OverflowError):
        return SynthaConfigurationError(
            f"cannot serve on port {port}: {error}",
            config_key="port",
            suggestions=["Pass a --port between 0 and 65535 (0 picks a free one)"],
        )
    if not isinstance(error, OSError):
        return None
    if error.errno == errno.EADDRINUSE:
        problem, fix = "is already in use", "Pass another --port, or stop the process using it"
    elif error.errno == errno.EACCES:
        problem, fix = "needs privileges", "Pass a --port above 1023"
    elif error.errno == errno.EADDRNOTAVAIL:
        problem, fix = "is not an address of this machine", "Pass --host 127.0.0.1 or 0.0.0.0"
    else:
        problem, fix = f"cannot be bound ({error.strerror})", "Check --host and --port"
    return SynthaConfigurationError(
        f"cannot serve on {host}:{port}: it {problem}", config_key="port", suggestions=[fix])


def describe_listener(host: str, port: int, path: str = "") -> str:
    """Where a listener bound to ``host`` is reached, said as it is: a wildcard
    address is every interface, not the loopback."""
    if host in ("0.0.0.0", "::", ""):
        return f"http://{host or '0.0.0.0'}:{port}{path} on every interface"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"


def _bind(host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """The listening server, or a SynthaConfigurationError saying why it cannot listen."""
    try:
        return ThreadingHTTPServer((host, port), handler)
    except (OSError, OverflowError) as e:
        raise (listen_error(e, host, port) or e) from None


@dataclass(frozen=True)
class _FleetLag:
    """The mesh-wide reading's snapshot figures, as health reads a snapshot."""

    entries: int
    seconds: float
    gaps: tuple[str, ...] = ()


@dataclass(frozen=True)
class _FleetSnapshot:
    """The snapshot as the mesh-wide reading sees it (no snapshotter of this process)."""

    reading: FleetReading
    problem: str | None = None

    def lag(self) -> _FleetLag:
        return _FleetLag(self.reading.snapshot_pending or 0,
                         self.reading.snapshot_lag_seconds or 0.0)


class ProbeServer:
    """A running probe server; ``close()`` stops it."""

    def __init__(self, settings: Settings, port: int, host: str,
                 mesh_metrics: bool = False, mesh_metrics_max_age: float = 5.0,
                 worker: WorkerStatus | None = None,
                 snapshot: SnapshotSource | None = None) -> None:
        self.settings = settings
        self._worker = worker
        self._snapshot = snapshot
        # built at first use: a cluster client connects when it is built, and the
        # probes must serve (liveness, a 503 /ready) while Redis is down
        self._store: Store | None = None
        self._fleet: FleetMetrics | None = None
        self._fleet_lag: FleetMetrics | None = None  # /ready's reading, with no snapshot given
        self._mesh_metrics = (mesh_metrics, mesh_metrics_max_age)
        probes = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                status, content_type, body = probes.answer(self.path.split("?", 1)[0])
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                # probes hit every few seconds: keep them out of the app's stderr
                log.debug("%s " + format, self.address_string(), *args)

        self._server = _bind(host, port, Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="syntha-http-probes", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port served (useful when started with port 0)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """A URL to reach it from this machine."""
        host = str(self._server.server_address[0])
        return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{self.port}"

    @property
    def where(self) -> str:
        """Where it listens, for people: ``describe_listener`` of its address."""
        return describe_listener(str(self._server.server_address[0]), self.port)

    def _built_store(self) -> Store:
        self._store = self._store or Store(self.settings)
        return self._store

    def _fleet_metrics(self) -> FleetMetrics | None:
        """The mesh-wide gauges, when on and Redis could be reached once (until then
        /metrics shows this process's counters only)."""
        wanted, max_age = self._mesh_metrics
        if wanted and self._fleet is None:
            try:
                self._fleet = FleetMetrics(self._built_store(), max_age)
            except SynthaError:
                return None
        return self._fleet

    def _snapshot_source(self, store: Store) -> SnapshotSource | None:
        """The given snapshotter, else the snapshot as the whole mesh's reading
        sees it (None while no snapshotter has ever run)."""
        if self._snapshot is not None:
            return self._snapshot
        self._fleet_lag = self._fleet_lag or FleetMetrics(store, self._mesh_metrics[1])
        reading = self._fleet_lag.reading()
        if reading.snapshot_lag_seconds is None:
            return None
        return _FleetSnapshot(reading)

    def answer(self, path: str) -> tuple[HTTPStatus, str, bytes]:
        """(status, content type, body) for a GET of ``path``."""
        if path == "/health":
            return _json(HTTPStatus.OK, {"status": "alive"})
        if path == "/ready":
            try:
                store = self._built_store()
            except SynthaError as e:
                report = unreachable(self.settings, e)
            else:
                report = check_health(store, backend=self._snapshot_source(store),
                                      load_scripts=True)
            ready = report.status != "unhealthy"
            extra: dict[str, Any] = {"set_aside": untrusted.summary()}
            if self._worker is not None:
                working, found = self._worker()
                ready, extra = ready and working, extra | found
            status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
            return _json(status, {"ready": ready, **report.model_dump(mode="json"), **extra})
        if path == "/metrics":
            return _metrics_page(self._fleet_metrics())
        return _json(HTTPStatus.NOT_FOUND, {"error": f"no such path {path!r}",
                                            "paths": ["/health", "/ready", "/metrics"]})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> ProbeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_http_server(settings: Settings, port: int = 8000, host: str = "127.0.0.1",
                      mesh_metrics: bool = False, mesh_metrics_max_age: float = 5.0,
                      worker: WorkerStatus | None = None,
                      snapshot: SnapshotSource | None = None) -> ProbeServer:
    """Serve ``/health``, ``/ready`` and ``/metrics`` for ``settings``'s Redis.

    ``host`` defaults to the loopback, this machine only; in a container or a
    pod, where probes and Prometheus come from outside, pass ``"0.0.0.0"``.
    ``port=0`` picks a free port (see ``ProbeServer.port``). ``mesh_metrics``
    adds the mesh-wide gauges to ``/metrics``: turn it on in one service per
    mesh (``syntha-redis serve`` does), not in every worker. A reading of the
    mesh costs ~35 ms per 1,000 users and is reused for ``mesh_metrics_max_age``
    seconds. ``worker`` (a long-running worker's ``status``) takes part in ``/ready``.
    ``snapshot`` (a ``Snapshotter``, or a mesh's ``db_backend``) gives ``/ready``
    its lag and capture failures; without it ``/ready`` reads the lag of the
    whole mesh.
    """
    return ProbeServer(settings, port, host, mesh_metrics, mesh_metrics_max_age, worker,
                       snapshot)
