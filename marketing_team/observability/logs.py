"""Logging for every process: one JSON object per line (or pretty lines), task context, secrets masked."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import quote, unquote, urlsplit

from pythonjsonlogger.json import JsonFormatter

from marketing_team.config.settings import Settings
from marketing_team.domain.values import is_id

MASK = "***"
# Secrets shorter than this are not masked: masking a 1-3 character value would shred every
# message while protecting nothing a guess could not find.
MIN_SECRET_LEN = 4
# Context fields printed by the pretty format, in this order, when a record has them.
CONTEXT_FIELDS = ("goal_id", "task_id", "skill", "model", "tokens_in", "tokens_out", "cost_usd")
_FIRST = ("timestamp", "level", "event", "component", "logger", "message")
# Libraries whose DEBUG and INFO lines are per-message chatter (178 lines around one failed goal):
# --verbose shows our own debug lines and keeps these at warnings.
CHATTY_LOGGERS = ("celery", "kombu", "amqp", "urllib3", "redis", "httpcore", "httpcore2")
OUR_LOGGER = "marketing_team"
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold: API keys, Redis password, webhook token, HMAC secret."""
    found = [s.get_secret_value() for s in (
        settings.anthropic_api_key, settings.openai_api_key, settings.redis_password,
        settings.webhook_token, settings.webhook_hmac_secret, settings.flower_password,
    ) if s is not None]  # fmt: skip
    if settings.redis_url is not None:
        password = urlsplit(settings.redis_url.get_secret_value()).password
        if password:
            found.append(unquote(password))
    return found


class Redactor:
    """Replaces each secret, also in its JSON-escaped and URL-quoted spellings, by ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        variants: set[str] = set()
        for value in secrets:
            if len(value) < MIN_SECRET_LEN:
                continue
            variants |= {value, json.dumps(value)[1:-1], quote(value, safe=""), quote(value)}
        # Longest first, so a secret that contains another is masked whole.
        self.variants = sorted(variants, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """text with every secret masked."""
        for value in self.variants:
            if value in text:
                text = text.replace(value, MASK)
        return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and string extras before any handler formats it."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops a record."""
        if not self.redact.variants:
            return True
        record.msg, record.args = self.redact(record.getMessage()), None
        for name, value in list(vars(record).items()):
            if name not in _RESERVED and isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True


# Fields the running task contributes to each record (goal_id, task_id, skill…). The
# orchestration layer, which knows Celery's current task, installs the provider at start.
ContextProvider = Callable[[], dict[str, object]]
_context_provider: ContextProvider | None = None


def set_context_provider(provider: ContextProvider | None) -> None:
    """Install the function that says which task this thread runs (None: no task context)."""
    global _context_provider
    _context_provider = provider


class TaskContextFilter(logging.Filter):
    """Fills goal_id, task_id, skill… from the installed context provider; explicit extras win."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add what the running task tells us; never drops a record."""
        provider = _context_provider
        if provider is None:
            return True
        for name, value in provider().items():
            if value is not None and getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


def task_ids(args: Any, kwargs: Any) -> tuple[str | None, str | None]:
    """The goal id and our task id among a Celery task's arguments (ours look like `x-YYYYMMDD-hex`)."""
    values = [*(args or ())] + ([*kwargs.values()] if isinstance(kwargs, dict) else [])
    ids = [a for a in values if isinstance(a, str) and is_id(a)]
    goal = next((a for a in ids if a.startswith("goal-")), None)
    ours = next((a for a in ids if not a.startswith("goal-")), None)
    return goal, ours


class JsonLineFormatter(JsonFormatter):  # type: ignore[misc]
    """One JSON object per line: timestamp, level, event, component, logger, message, then extras."""

    def __init__(self, component: str, redact: Redactor) -> None:
        super().__init__("%(levelname)s %(name)s %(message)s", timestamp=True,
                         rename_fields={"levelname": "level", "name": "logger"},
                         static_fields={"component": component}, json_ensure_ascii=False)
        self.redact = redact

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        """Standard fields, then `event` (the record's, else the logger name) right after level."""
        super().add_fields(log_data, record, message_dict)
        log_data.setdefault("event", record.name)
        data = log_data.get("data")
        if isinstance(data, dict) and "traceback" in data and record.levelno < logging.WARNING:
            # Celery attaches a traceback even to routine INFO lines (a replaced task is "ignored").
            log_data["data"] = {k: v for k, v in data.items() if k != "traceback"}

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Put timestamp, level and event first (people scan them) and drop unknown (None) fields."""
        first = {k: log_data.pop(k) for k in _FIRST if k in log_data}
        return {**first, **{k: v for k, v in log_data.items() if v is not None}}

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line; a last pass masks secrets that only a traceback carried."""
        return self.redact(super().format(record))


class PrettyFormatter(logging.Formatter):
    """`HH:MM:SS level component event message [goal=… task=…]` for people at a terminal."""

    def __init__(self, component: str, redact: Redactor) -> None:
        super().__init__()
        self.component = component
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """One readable line (plus a traceback when there is one)."""
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        event = getattr(record, "event", None) or record.name
        context = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS
                           if getattr(record, name, None) is not None)
        line = f"{when} {record.levelname:<7} {self.component} {event}: {record.getMessage()}"
        if context:
            line += f" [{context}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self.redact(line)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler configure() installed, so a second call replaces it instead of adding one."""


def configure(settings: Settings, component: str, *, stream: IO[str] | None = None,
              level: str | int | None = None, verbose: bool = False,
              quiet_libraries: bool = False) -> logging.Handler:
    """Route every logger (ours and Celery's) through one handler on the root logger.

    verbose: our loggers at DEBUG, other libraries at INFO, the chatty ones at WARNING (the
    levels are set either way, so a later call without it undoes an earlier one).
    quiet_libraries: the chatty ones at ERROR (a person's terminal: kombu's "requeuing
    undeliverable message" as an in-process worker stops is not news to them).
    """
    redact = Redactor(secret_values(settings))
    # sys.__stderr__, not sys.stderr: a Celery worker later replaces sys.stderr with a proxy that
    # logs, and a handler writing to that proxy would feed itself.
    handler = _OurHandler(stream if stream is not None else (sys.__stderr__ or sys.stderr))
    formatter: logging.Formatter
    if settings.log_format == "pretty":
        formatter = PrettyFormatter(component, redact)
    else:
        formatter = JsonLineFormatter(component, redact)
    handler.setFormatter(formatter)
    handler.addFilter(TaskContextFilter())
    handler.addFilter(RedactingFilter(redact))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else level if level is not None else settings.log_level)
    logging.getLogger(OUR_LOGGER).setLevel(logging.DEBUG if verbose else logging.NOTSET)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if verbose else
                                         logging.ERROR if quiet_libraries else logging.NOTSET)
    # Python warnings (Celery's "running as root", deprecations) become JSON lines too, and so do
    # exceptions nothing caught (e.g. beat exiting when Redis goes away).
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    return handler


class _MainThreadOnly(logging.Filter):
    def __init__(self, keep_main: bool) -> None:
        super().__init__()
        self.keep_main = keep_main

    def filter(self, record: logging.LogRecord) -> bool:
        return (record.thread == threading.main_thread().ident) == self.keep_main


def divert_worker_threads(path: Path) -> Path:
    """Send what other threads log (an in-process worker's tasks) to a file, keeping the terminal
    for the command's own lines: a person following a goal reads progress, not worker logs.

    Returns the file. Nothing changes when configure() installed no handler (tests, libraries).
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _OurHandler)]
    if not ours or any(isinstance(h, _WorkerFile) for h in root.handlers):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    diverted = _WorkerFile(path, encoding="utf-8")
    diverted.setFormatter(ours[0].formatter)
    for kept in ours[0].filters:
        diverted.addFilter(kept)
    diverted.addFilter(_MainThreadOnly(keep_main=False))
    ours[0].addFilter(_MainThreadOnly(keep_main=True))
    root.addHandler(diverted)
    return path


class _WorkerFile(logging.FileHandler):
    """The file divert_worker_threads() opened."""


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """sys.excepthook: the process is about to die; say why in one JSON line, not a raw traceback."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("marketing_team").critical(
        "uncaught %s: %s", kind.__name__, exc, exc_info=(kind, exc, tb),
        extra={"event": "uncaught_exception"})


def unconfigure() -> None:
    """Remove the handler configure() installed (tests, and processes handing logging back)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    logging.captureWarnings(False)
    sys.excepthook = sys.__excepthook__


__all__ = ["Redactor", "configure", "secret_values", "task_ids", "unconfigure"]
