"""A small TCP proxy the tests control, to cut the daemon's IMAP connection at a chosen moment."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field


@dataclass
class CutPlan:
    """Cut a connection after ``after_bytes`` bytes came from the server, for the first
    ``connections`` connections; later connections pass untouched."""

    after_bytes: int
    connections: int = 1


@dataclass
class TcpProxy:
    upstream: tuple[str, int]
    plan: CutPlan | None = None
    port: int = 0
    cuts: int = 0
    accepted: int = 0
    _listener: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _open: list[socket.socket] = field(default_factory=list)

    def start(self) -> "TcpProxy":
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def cut_all(self) -> None:
        """Drop every open connection now (as a NAT timeout or a server crash would)."""
        with self._lock:
            open_sockets, self._open = self._open, []
            self.cuts += len(open_sockets) // 2
        for s in open_sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                self.accepted += 1
                cut = self.plan is not None and self.accepted <= self.plan.connections
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._open += [client, server]
            budget = self.plan.after_bytes if cut and self.plan else -1
            threading.Thread(target=self._pump, args=(server, client, budget), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, server, -1), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, budget: int) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(4096)
                if not data:
                    break
                if budget >= 0 and sent + len(data) > budget:
                    dst.sendall(data[: max(0, budget - sent)])
                    with self._lock:
                        self.cuts += 1
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
