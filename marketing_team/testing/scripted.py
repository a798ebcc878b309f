"""ScriptedLLM: a fake that answers scripted calls, fails on unexpected ones and on leftover script."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel

from marketing_team.llm.one_request import metered_once
from marketing_team.llm.protocol import LLM, Message, Reply, RequestMeter, SystemBlock, Usage


class UnexpectedCall(AssertionError):
    """The code under test made a call the script did not foresee."""


class LeftoverScript(AssertionError):
    """The test scripted calls that never happened."""


@dataclass(frozen=True)
class Call:
    """One recorded call, with helpers to say what it was for."""

    system: tuple[SystemBlock, ...]
    messages: tuple[Message, ...]
    model: str
    max_tokens: int
    schema: type[BaseModel] | None

    @property
    def prompt(self) -> str:
        """The last user turn's text."""
        return self.messages[-1].content

    def is_skill(self, slug: str) -> bool:
        """True for a skill run of slug."""
        return self.schema is None and f"produce the {slug} deliverable" in self.prompt

    def is_review(self, slug: str | None = None) -> bool:
        """True for the Director's review (of slug, when given)."""
        if self.schema is None or self.schema.__name__ != "ReviewReply":
            return False
        return slug is None or f"Review this {slug} deliverable" in self.prompt

    def is_plan(self) -> bool:
        """True for the Director's planning call."""
        return self.schema is not None and self.schema.__name__ == "PlanProposal"


Answer = str | BaseModel | dict[str, object] | Exception | Callable[[Call], "str | BaseModel | dict[str, object]"]


@dataclass
class _Entry:
    match: Callable[[Call], bool]
    answer: Answer
    times: int
    delay_s: float
    used: int = 0


@dataclass
class ScriptedLLM:
    """Answers calls from a script; unmatched calls go to `fallback` if one was given, else fail."""

    fallback: LLM | None = None
    cost_per_call: Decimal = Decimal("0")
    name: str = "scripted"
    calls: list[Call] = field(default_factory=list)
    _entries: list[_Entry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, match: Callable[[Call], bool], answer: Answer, times: int = 1,
           delay_s: float = 0.0) -> ScriptedLLM:
        """Script `times` answers for calls matching `match` (first unused matching entry wins)."""
        self._entries.append(_Entry(match, answer, times, delay_s))
        return self

    def complete(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                 max_tokens: int, schema: type[BaseModel] | None = None,
                 meter: RequestMeter | None = None) -> Reply:
        """Answer from the script, the fallback, or raise UnexpectedCall; one metered request."""
        return metered_once(meter, system_blocks, messages, model, max_tokens, schema,
                            lambda: self._answer(system_blocks, messages, model, max_tokens, schema))

    def _answer(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                max_tokens: int, schema: type[BaseModel] | None) -> Reply:
        call = Call(tuple(system_blocks), tuple(messages), model, max_tokens, schema)
        with self._lock:
            self.calls.append(call)
            entry = next((e for e in self._entries if e.used < e.times and e.match(call)), None)
            if entry is not None:
                entry.used += 1
        if entry is None:
            if self.fallback is None:
                raise UnexpectedCall(f"unscripted call: {call.prompt[:200]!r}")
            return self.fallback.complete(system_blocks, messages, model, max_tokens, schema)
        if entry.delay_s:
            time.sleep(entry.delay_s)  # a fake model's latency, not a wait for async work
        answer = entry.answer(call) if callable(entry.answer) and not isinstance(entry.answer, type) else entry.answer
        if isinstance(answer, Exception):
            raise answer
        parsed: BaseModel | None = None
        if isinstance(answer, BaseModel):
            parsed, text = answer, answer.model_dump_json()
        elif isinstance(answer, dict):
            if schema is None:
                raise UnexpectedCall("a dict answer needs a structured call")
            parsed = schema.model_validate(answer)
            text = parsed.model_dump_json()
        else:
            text = str(answer)
            if schema is not None:
                parsed = schema.model_validate_json(text)
        usage = Usage(input_tokens=sum(len(m.content) for m in messages) // 4, output_tokens=len(text) // 4)
        return Reply(text=text, stop_reason="end_turn", usage=usage, cost_usd=self.cost_per_call,
                     model=model, parsed=parsed, request_id=f"scripted-{uuid.uuid4().hex[:12]}")

    def count(self, match: Callable[[Call], bool]) -> int:
        """How many recorded calls match."""
        with self._lock:
            return sum(1 for c in self.calls if match(c))

    def verify(self) -> None:
        """Raise LeftoverScript when scripted answers were not used up."""
        left = [e for e in self._entries if e.used < e.times]
        if left:
            raise LeftoverScript(f"{len(left)} scripted answer(s) never requested")
