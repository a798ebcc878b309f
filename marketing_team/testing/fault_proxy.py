"""A TCP proxy in front of the test server that freezes its clients right after a chosen command.

Crash tests need a process to die at the worst moment: after one write reached the server and
before the next one. Timing a SIGKILL cannot hit a window of a few microseconds; this proxy can.
Point the process under test at `proxy.url`, call `freeze_after(match)`, and once a command for
which `match` is true has reached the server (for a command inside MULTI: once its EXEC has), no
further command from any client of the proxy is forwarded. The process is stuck exactly there; the
test SIGKILLs it, then `heal()` lets new connections through again.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from marketing_team.testing.servers import RunningServer

Command = list[bytes]
Match = Callable[[Command], bool]


def parse_command(buffer: bytes) -> tuple[Command, int] | None:
    """One RESP array of bulk strings from the front of buffer, with its length; None if incomplete."""
    if not buffer.startswith(b"*"):
        end = buffer.find(b"\r\n")  # an inline command (redis-cli style): one line
        return None if end < 0 else (buffer[:end].split(), end + 2)
    end = buffer.find(b"\r\n")
    if end < 0:
        return None
    count, pos, parts = int(buffer[1:end]), end + 2, []
    for _ in range(count):
        end = buffer.find(b"\r\n", pos)
        if end < 0:
            return None
        size = int(buffer[pos + 1:end])
        start = end + 2
        if len(buffer) < start + size + 2:
            return None
        parts.append(buffer[start:start + size])
        pos = start + size + 2
    return parts, pos


class FaultProxy:
    """Forward clients to the server at target (host:port or a unix socket) until told to freeze."""

    def __init__(self, target: tuple[str, int] | Path) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._match: Match | None = None
        self._open = threading.Event()  # set: commands flow; clear: frozen
        self._open.set()
        self.frozen = threading.Event()  # set once a freeze happened
        self.frozen_on: Command | None = None
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="fault-proxy", daemon=True).start()

    @classmethod
    def in_front_of(cls, server: RunningServer) -> FaultProxy:
        """A proxy to the test server, on its unix socket or its port."""
        return cls(server.unix_socket if server.unix_socket is not None else ("127.0.0.1", server.port))

    @property
    def url(self) -> str:
        """The redis URL clients use instead of the server's."""
        return f"redis://127.0.0.1:{self.port}/0"

    def freeze_after(self, match: Match) -> None:
        """Freeze every client once a command matching `match` (or the EXEC that commits it) went through."""
        with self._lock:
            self._match = match

    def heal(self) -> None:
        """Forward again (held commands of clients that died meanwhile are dropped with them)."""
        with self._lock:
            self._match = None
        self._open.set()

    def upstream_addresses(self) -> set[str]:
        """host:port of the proxy's open connections to the server, as its CLIENT LIST names them."""
        with self._lock:
            upstreams = self._sockets[1::2]  # appended in pairs: the client's, then the server's
        found = set()
        for sock in upstreams:
            try:
                host, port = sock.getsockname()[:2]
            except (OSError, ValueError):
                continue  # closed meanwhile, or a unix socket (no port)
            found.add(f"{host}:{port}")
        return found

    def drop(self) -> None:
        """Cut every open connection, as a server restart or a network blip does; new connections
        are still forwarded."""
        with self._lock:
            live, self._sockets = self._sockets, []
        for sock in live:
            _close(sock)

    def close(self) -> None:
        """Stop listening and cut every connection."""
        self._closed = True
        self._open.set()
        self._listener.close()
        self.drop()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _connect(self) -> socket.socket:
        if isinstance(self.target, Path):
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(str(self.target))
            return upstream
        return socket.create_connection(self.target)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._open.wait()  # a frozen proxy answers no new connection either
            try:
                upstream = self._connect()
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._commands, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._replies, args=(upstream, client), daemon=True).start()

    def _commands(self, client: socket.socket, upstream: socket.socket) -> None:
        buffer, in_multi, pending = b"", False, False
        try:
            while chunk := client.recv(65536):
                buffer += chunk
                while (parsed := parse_command(buffer)) is not None:
                    command, size = parsed
                    if not self._open.is_set():
                        # Frozen here: this process counts as crashed at this point, so what it
                        # sends now never reaches the server, not even after heal().
                        self._open.wait()
                        return
                    upstream.sendall(buffer[:size])
                    buffer = buffer[size:]
                    name = command[0].upper() if command else b""
                    with self._lock:
                        matched = self._match is not None and self._match(command)
                    if name == b"MULTI":
                        in_multi, pending = True, False
                    elif name in (b"EXEC", b"DISCARD"):
                        commit, in_multi, pending = pending and name == b"EXEC", False, False
                        if commit:
                            self._freeze(command)
                    elif matched and in_multi:
                        pending = True
                    elif matched:
                        self._freeze(command)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)

    def _freeze(self, command: Command) -> None:
        with self._lock:
            self._match = None
            self.frozen_on = command
        self._open.clear()
        self.frozen.set()

    def _replies(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while chunk := upstream.recv(65536):
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def writes(prefix: str, *names: str, containing: bytes = b"") -> Match:
    """A match for commands named one of names (SET, EVAL…) that name a key starting with prefix
    (and carry an argument containing `containing`)."""
    wanted = {n.upper().encode() for n in names}
    encoded = prefix.encode()

    def match(command: Command) -> bool:
        if not command or command[0].upper() not in wanted:
            return False
        args = command[1:]
        return (any(a.startswith(encoded) for a in args)
                and (not containing or any(containing in a for a in args)))

    return match
