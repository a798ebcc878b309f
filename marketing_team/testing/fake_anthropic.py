"""A local HTTP fake of the Anthropic Messages API, scripted per test, for the real SDK."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: fifty callers connecting at once (a test racing
    # the budget) overflowed it and some got "connection reset" instead of their reply.
    request_queue_size = 128


@dataclass(frozen=True)
class FakeReply:
    """One scripted answer: a message (status 200) or an API error, optionally late."""

    content: str = "ok"
    stop_reason: str = "end_turn"
    input_tokens: int = 10
    output_tokens: int = 5
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    status: int = 200
    error_type: str = "api_error"
    retry_after: float | None = None
    # How long after the request arrived the answer goes out: the fake's own work (parsing,
    # composing the answer) is inside it, as a real model's would be inside its latency.
    delay_s: float = 0.0
    usage_reported: bool = True  # False: the reply leaves `usage` out (a broken proxy or server)
    usage_left_out: tuple[str, ...] = ()  # usage fields the reply leaves out (a partial report)
    message_id: str | None = None  # the message id to send (None: a fresh one per reply)

    @classmethod
    def text(
        cls,
        content: str = "ok",
        input_tokens: int = 10,
        output_tokens: int = 5,
        cache_creation_input_tokens: int = 0,
        cache_read_input_tokens: int = 0,
        stop_reason: str = "end_turn",
    ) -> FakeReply:
        """A normal reply; usage named as the API names it."""
        return cls(
            content=content,
            stop_reason=stop_reason,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_creation_input_tokens=cache_creation_input_tokens,
            cache_read_input_tokens=cache_read_input_tokens,
        )

    @classmethod
    def truncated(cls, content: str = "partial", output_tokens: int = 5) -> FakeReply:
        """A reply cut off by the output limit (stop_reason max_tokens)."""
        return cls.text(content, output_tokens=output_tokens, stop_reason="max_tokens")

    @classmethod
    def without_usage(cls, content: str = "ok") -> FakeReply:
        """A normal reply whose body has no `usage` at all."""
        return cls(content=content, usage_reported=False)

    @classmethod
    def slow(cls, seconds: float, content: str = "ok") -> FakeReply:
        """A normal reply that the server sends `seconds` after the request arrived."""
        return cls(content=content, delay_s=seconds)

    @classmethod
    def error(cls, status: int, error_type: str, retry_after: float | None = None) -> FakeReply:
        """An API error response with the API's error body."""
        return cls(
            content=f"fake {error_type}",
            status=status,
            error_type=error_type,
            retry_after=retry_after,
        )

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> FakeReply:
        """429 rate_limit_error with a retry-after header."""
        return cls.error(429, "rate_limit_error", retry_after)

    @classmethod
    def server_error(cls, status: int = 500, retry_after: float | None = None) -> FakeReply:
        """A 5xx api_error; a small retry_after keeps the SDK's backoff short in tests."""
        return cls.error(status, "api_error", retry_after)

    @classmethod
    def overloaded(cls, retry_after: float | None = None) -> FakeReply:
        """529 overloaded_error."""
        return cls.error(529, "overloaded_error", retry_after)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, as sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)

    def text(self) -> str:
        """The whole body as JSON text, for `"..." in request.text()` assertions."""
        return json.dumps(self.body, ensure_ascii=False)


Responder = Callable[[RecordedRequest], FakeReply | None]


class FakeAnthropic:
    """Answers `POST /v1/messages` from a script, then a responder, then a default reply.

    With `default=None` an unscripted request gets a 500 and is listed in `.unexpected`, so a
    test that sends more than it scripted fails loudly.
    """

    def __init__(self, default: FakeReply | None = FakeReply(), responder: Responder | None = None):
        self.default = default
        self.responder = responder
        self.requests: list[RecordedRequest] = []
        self.unexpected: list[RecordedRequest] = []
        # Every message reply delivered to a client still waiting for it, with its request:
        # what a real server would bill (an abandoned request's late answer is not delivered).
        self.served: list[tuple[RecordedRequest, FakeReply]] = []
        # Like a proxy or gateway that predates structured outputs: `output_config` gets a 400
        # with this message (None: accepted).
        self.refuse_native_structured_output: str | None = None
        self._script: deque[FakeReply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Open client connections: kept alive, each outlives the listening socket unless stop()
        # hangs it up (a stopped fake must not go on answering through them).
        self._connections: set[socket.socket] = set()

    # --- scripting -------------------------------------------------------------------------
    def script(self, *replies: FakeReply) -> FakeAnthropic:
        """Queue replies, answered in order before the responder and the default."""
        with self._lock:
            self._script.extend(replies)
        return self

    @property
    def pending(self) -> int:
        """How many scripted replies have not been used yet."""
        with self._lock:
            return len(self._script)

    def _next_reply(self, request: RecordedRequest) -> FakeReply | None:
        refusal = self.refuse_native_structured_output
        if refusal is not None and "output_config" in request.body:
            with self._lock:
                self.requests.append(request)
            return FakeReply(content=refusal, status=400, error_type="invalid_request_error")
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.popleft()
        if self.responder is not None:
            answer = self.responder(request)
            if answer is not None:
                return answer
        if self.default is None:
            with self._lock:
                self.unexpected.append(request)
        return self.default

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL to give the SDK (`base_url`)."""
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAnthropic:
        """Listen on a free loopback port in a daemon thread."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval keeps stop() (which waits for the next poll) fast in teardown.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            daemon=True,
            kwargs={"poll_interval": 0.02},
            name="fake-anthropic",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed replies still waiting are abandoned."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            live, self._connections = list(self._connections), set()
        for conn in live:
            with contextlib.suppress(OSError):  # already closed by its client
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- responses -------------------------------------------------------------------------
    def _payload(self, reply: FakeReply, request: RecordedRequest) -> dict[str, Any]:
        if reply.status >= 400:
            return {"type": "error", "error": {"type": reply.error_type, "message": reply.content}}
        payload: dict[str, Any] = {
            "id": reply.message_id if reply.message_id is not None else f"msg_fake_{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": request.body.get("model", "unknown"),
            "content": [{"type": "text", "text": reply.content}],
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
        }
        if reply.usage_reported:
            payload["usage"] = {
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "cache_creation_input_tokens": reply.cache_creation_input_tokens,
                "cache_read_input_tokens": reply.cache_read_input_tokens,
            }
            for name in reply.usage_left_out:
                del payload["usage"][name]
        return payload


def _handler_for(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Headers and body leave in one write with TCP_NODELAY: as two writes, Nagle's algorithm
        # and the client's delayed ACK add ~40 ms to every keep-alive request (a fake must not
        # be slower than the latency it is told to have).
        disable_nagle_algorithm = True
        # Keep-alive, as the real API: HTTP/1.0 (the default here) closed every connection, so
        # each call paid a TCP connect, an accepted socket and a new server thread, counted
        # against the client as latency the model never had.
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read `.requests`, not stderr."""

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake._connections.add(self.connection)
                if fake._stopping.is_set():  # accepted as stop() hung up the others
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)

        def finish(self) -> None:
            with fake._lock:
                fake._connections.discard(self.connection)
            super().finish()

        def do_POST(self) -> None:
            arrived = time.monotonic()  # a reply's delay counts from here (see `FakeReply.delay_s`)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = {"_raw": raw.decode("utf-8", "replace")}
            request = RecordedRequest("POST", self.path, dict(self.headers.items()), body, arrived)
            reply: FakeReply | None = FakeReply.error(404, "not_found_error")
            if self.path.split("?")[0] == "/v1/messages":
                reply = fake._next_reply(request)
            if reply is None:
                reply = FakeReply(content="fake: no scripted reply left", status=500)
            data = json.dumps(fake._payload(reply, request)).encode()  # composed before the wait
            wait = reply.delay_s - (time.monotonic() - arrived)
            if reply.delay_s and fake._stopping.wait(max(0.0, wait)):
                # The fake is stopping: hang up, as a server going away does (kept alive, the
                # caller would wait out its own timeout for an answer that never comes).
                self.close_connection = True
                return
            if reply.delay_s and self._client_gone():
                self.close_connection = True
                return  # the client timed out and hung up: nothing delivered, nothing billed
            if reply.status == 200:
                # Recorded before the answer goes out: a client that reads it and asks what was
                # served must find it there (after would race the test's own thread).
                with fake._lock:
                    fake.served.append((request, reply))
            self._send(reply.status, data, reply.retry_after)

        def _client_gone(self) -> bool:
            try:
                peeked: bytes = self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                return peeked == b""
            except BlockingIOError:
                return False  # open, nothing more sent: still waiting for the answer
            except OSError:
                return True

        def _send(self, status: int, data: bytes, retry_after: float | None) -> None:
            # The client may have given up (timeout); a closed socket is expected then.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_fake_{len(fake.requests)}")
                if retry_after is not None:
                    self.send_header("retry-after", str(math.ceil(retry_after)))
                    self.send_header("retry-after-ms", str(int(retry_after * 1000)))
                self._headers_buffer.append(b"\r\n" + data)  # type: ignore[attr-defined]
                self.flush_headers()

    return Handler
