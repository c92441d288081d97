"""A loopback TCP proxy in front of a Redis server, for injecting network faults.

``drop_next_reply(b"EVALSHA")`` arms one fault: the next command containing
that word is forwarded and executed by the server, but its reply is thrown
away and the client's connection is closed, exactly what a client sees when
a network path dies after the write. Threads, one pair per connection;
stopped with ``close()``.
"""

from __future__ import annotations

import select
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class FaultProxy:
    target_port: int
    host: str = "127.0.0.1"
    dropped: int = 0
    _listener: socket.socket = field(init=False)
    _armed: bytes | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _closed: threading.Event = field(default_factory=threading.Event, init=False)
    _sockets: list[socket.socket] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._listener = socket.create_server((self.host, 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def drop_next_reply(self, command: bytes) -> None:
        """Forward the next ``command`` but drop its reply and cut the connection."""
        with self._lock:
            self._armed = command.upper()

    def _take_fault(self, data: bytes) -> bool:
        with self._lock:
            if self._armed is not None and self._armed in data.upper():
                self._armed = None
                return True
            return False

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.host, self.target_port))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        dropping = False
        try:
            while not self._closed.is_set():
                readable, _, _ = select.select([client, upstream], [], [], 0.2)
                if client in readable:
                    data = client.recv(65536)
                    if not data:
                        return
                    dropping = dropping or self._take_fault(data)
                    upstream.sendall(data)
                if upstream in readable:
                    data = upstream.recv(65536)
                    if not data:
                        return
                    if dropping:
                        self.dropped += 1
                        return  # the reply is lost with the connection
                    client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass
