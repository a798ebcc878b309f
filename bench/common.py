"""Shared pieces of the benchmarks: the result type, a fixed-latency model, a private server."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from marketing_team.domain.goal import Goal
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
    skipped: str = ""  # why the row was not measured (then value and met mean nothing)

    def line(self) -> str:
        """One printable line."""
        base = f" baseline {self.baseline:.4g} {self.unit}" if self.baseline is not None else ""
        ratio = f" ratio {self.ratio:.3f}" if self.ratio is not None else ""
        if self.skipped:
            return f"{self.name}: skipped ({self.skipped})"
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


class CannedLLM(FixedLatencyLLM):
    """A zero-latency model whose answers cost nothing to make: the offline provider's answer is
    built once per kind of request (schema, required sections) and replayed, so a benchmark of
    our own time per step does not count the offline provider's text generation as ours."""

    name = "canned"

    def __init__(self) -> None:
        super().__init__(0.0)
        self._answers: dict[tuple[str, str], Reply] = {}

    def complete(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                 max_tokens: int, schema: type[BaseModel] | None = None,
                 meter: RequestMeter | None = None) -> Reply:
        """The first answer of this kind, again, metered like one real request."""
        prompt = messages[-1].content if messages else ""
        sections = prompt.split("<required_sections", 1)[-1].split("</required_sections>", 1)[0]
        kind = (schema.__name__ if schema is not None else "", sections)

        def answer() -> Reply:
            if kind not in self._answers:
                self._answers[kind] = self.inner.complete(system_blocks, messages, model,
                                                          max_tokens, schema)
            return self._answers[kind]

        return metered_once(meter, system_blocks, messages, model, max_tokens, schema, answer)


@contextmanager
def server() -> Iterator[RunningServer]:
    """A private Redis-protocol server for one benchmark."""
    running = start_test_server(Path(tempfile.mkdtemp(prefix="mt-bench-")))
    try:
        yield running
    finally:
        running.stop()


def settled_at(goal: Goal) -> float:
    """When the goal settled (epoch s), as the transaction that settled it recorded: exact, where
    noticing it by polling (Team.wait looks every 50 ms) would add ~25 ms to every figure."""
    if goal.finished_at is None:
        raise RuntimeError(f"bench goal {goal.id} has not finished: {goal.status}")
    return goal.finished_at.timestamp()
