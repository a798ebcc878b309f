"""Shared pieces of the benchmarks: the result type, a fixed-latency model, a private server."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from marketing_team.llm.offline import OfflineProvider
from marketing_team.llm.one_request import metered_once
from marketing_team.llm.protocol import Message, Reply, RequestMeter, SystemBlock
from marketing_team.testing.servers import RunningServer, start_test_server


@dataclass(frozen=True)
class Result:
    """One benchmark figure: what was measured, its baseline, the ratio and the target."""

    name: str
    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    target: str
    met: bool
    note: str = ""

    def line(self) -> str:
        """One printable line."""
        base = f" baseline {self.baseline:.4g} {self.unit}" if self.baseline is not None else ""
        ratio = f" ratio {self.ratio:.3f}" if self.ratio is not None else ""
        verdict = "met" if self.met else "NOT met"
        return f"{self.name}: {self.value:.4g} {self.unit}{base}{ratio} (target {self.target}: {verdict}) {self.note}".rstrip()


class FixedLatencyLLM:
    """The offline provider's answers after a fixed delay: a model whose every call takes latency_s."""

    name = "fixed-latency"

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.inner = OfflineProvider()

    def complete(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                 max_tokens: int, schema: type[BaseModel] | None = None,
                 meter: RequestMeter | None = None) -> Reply:
        """Answer like the offline provider, latency_s later, metered like one real request."""

        def answer() -> Reply:
            time.sleep(self.latency_s)
            return self.inner.complete(system_blocks, messages, model, max_tokens, schema)

        return metered_once(meter, system_blocks, messages, model, max_tokens, schema, answer)


@contextmanager
def server() -> Iterator[RunningServer]:
    """A private Redis-protocol server for one benchmark."""
    running = start_test_server(Path(tempfile.mkdtemp(prefix="mt-bench-")))
    try:
        yield running
    finally:
        running.stop()
