"""A cuttable loopback TCP proxy: a server "stopped" and "restarted" without touching the real one.

``TcpProxy(("127.0.0.1", 5432))`` listens on a free loopback port and forwards every
connection to the target (threads: one acceptor, two pumps per connection). ``cut()``
closes the listening socket and every open connection, both ways, as a stopped server
does (clients get a reset, new connections are refused); ``restore()`` listens on the
same port again, as a restarted server does. The shared database servers are never
stopped: only the test's own path to them is.

The port is picked below the kernel's ephemeral range: while the proxy is cut nothing else
(a ``bind(0)``, the local end of an outgoing connection) can take it, so ``restore`` can
listen on it again.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from pathlib import Path
from types import TracebackType

_CHUNK = 65536
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; ``cut``/``restore`` stop and restart it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.accepted = 0  # connections accepted since start (all periods)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = False

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def start(self) -> TcpProxy:
        self._listen()
        return self

    def cut(self) -> None:
        """Refuse new connections and reset every open one (a stopped server)."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = list(self._open), set()
        if listener is not None:
            _close(listener)
        for sock in sockets:
            _reset(sock)

    def restore(self) -> None:
        """Accept connections again on the same port (a restarted server)."""
        if self._listener is None and not self._closed:
            self._listen()

    def close(self) -> None:
        self._closed = True
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.port:
            listener.bind(("127.0.0.1", self.port))
        else:
            self.port = _bind_outside_ephemeral(listener)
        listener.listen(128)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="tcp-proxy-accept", daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # the listener was closed by cut()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _reset(client)
                    _reset(upstream)
                    return
                self._open |= {client, upstream}
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open -= {source, sink}
            for sock in (source, sink):
                _close(sock)


def _bind_outside_ephemeral(sock: socket.socket) -> int:
    """Bind ``sock`` to a free loopback port below the ephemeral range; the port."""
    low = int(_EPHEMERAL.read_text().split()[0]) if _EPHEMERAL.exists() else 32768
    for port in random.sample(range(max(1024, low - 12000), low), 200):
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise OSError(f"no free loopback port below {low}")


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a dying server's kernel does to its peers."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
