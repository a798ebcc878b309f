"""Every model call the team makes goes through here: the stored reply first, then a metered call."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator

from pydantic import BaseModel, ValidationError

from marketing_team.budget.gate import BudgetGate
from marketing_team.budget.policy import estimate_input_tokens, to_micros, to_usd
from marketing_team.domain.errors import BudgetExhausted, StructuredOutputError
from marketing_team.domain.values import utcnow
from marketing_team.llm.base import MAX_REPROMPTS
from marketing_team.llm.protocol import LLM, Message, Reply, SystemBlock
from marketing_team.llm.structured import parse_structured
from marketing_team.store.replies import ReplyStore

log = logging.getLogger(__name__)


def _no_settle(reply: Reply) -> None:
    """Settle for a call that cannot cost anything."""


@contextlib.contextmanager
def metered_call(gate: BudgetGate, goal_id: str, skill: str, model: str,
                 max_tokens: int, *, input_tokens: int | None = None,
                 attempts: int = 1) -> Iterator[Callable[[Reply], None]]:
    """Reserve a call's worst case before it, settle to its actual cost after (yields settle)."""
    if gate.offline:  # no model, no money: nothing to hold or record (and maybe no broker: --dry-run)
        yield _no_settle
        return
    micros = gate.worst_case_micros(model, max_tokens, input_tokens, attempts)
    cap = to_micros(gate.settings.call_cost_cap, round_up=False)
    if micros > cap:
        raise BudgetExhausted(f"a {model} call may cost up to ${to_usd(micros)}, over the per-call "
                              f"cap ${to_usd(cap)} (MT_CALL_COST_CAP)")
    book = gate.ledger
    held = gate.reserve(goal_id, micros) if micros > 0 else None
    settled = False

    def settle(reply: Reply) -> None:
        nonlocal settled
        if settled:
            return
        when = utcnow()
        actual = to_micros(reply.cost_usd)
        book.settle(held, actual, goal_id=goal_id, skill=skill, model=model, when=when)
        settled = True
        if held is not None and actual > held.micros:
            log.warning("call cost more than its reservation", extra={
                "event": "reservation_exceeded", "goal_id": goal_id, "skill": skill,
                "model": model, "reserved_usd": str(to_usd(held.micros)),
                "cost_usd": str(to_usd(actual))})

    try:
        yield settle
    finally:
        if not settled and held is not None:
            book.release(held)


def stored_reply(replies: ReplyStore, key: str, schema: type[BaseModel] | None) -> Reply | None:
    """The reply stored under key as an answer to this call: re-validated against schema, else None."""
    raw = replies.get(key)
    if raw is None:
        return None
    try:
        stored = Reply.model_validate(raw)
    except ValidationError:
        log.warning("stored reply %s is not a reply; calling again", key)
        return None
    if schema is None:
        return stored
    try:
        parsed = parse_structured(stored.text, schema)
    except StructuredOutputError as exc:
        # The schema changed since the reply was stored: it no longer answers the call.
        log.warning("stored reply %s no longer validates (%s); calling again", key, exc)
        return None
    return stored.model_copy(update={"parsed": parsed})


class GuardedLLM:
    """An LLM behind the budget (reserve, settle) and, with a key, the reply store."""

    def __init__(self, llm: LLM, gate: BudgetGate, replies: ReplyStore, goal_id: str | None,
                 skill: str, key: str | None = None) -> None:
        self.llm = llm
        self.gate = gate
        self.replies = replies
        self.goal_id = goal_id
        self.skill = skill
        self.key = key
        self.name = llm.name
        self.fresh = False  # True once a call actually reached the provider

    def _replies(self) -> ReplyStore | None:
        return None if self.key is None or self.goal_id is None else self.replies

    def complete(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                 max_tokens: int, schema: type[BaseModel] | None = None) -> Reply:
        """The stored reply for this key when there is one (a redelivery pays nothing), else a call."""
        replies = self._replies()
        if replies is not None and self.key is not None:
            stored = stored_reply(replies, self.key, schema)
            if stored is not None:
                return stored
        # The reservation is the call's worst case: this prompt's size, every re-prompt a schema
        # may need, full output each time.
        schema_chars = len(json.dumps(schema.model_json_schema())) if schema is not None else 0
        tokens = estimate_input_tokens([b.text for b in system_blocks] + [m.content for m in messages],
                                       schema_chars)
        attempts = 1 + MAX_REPROMPTS if schema is not None else 1
        with metered_call(self.gate, self.goal_id or "", self.skill, model,
                          max_tokens, input_tokens=tokens, attempts=attempts) as settle:
            reply = self.llm.complete(system_blocks, messages, model, max_tokens, schema=schema)
            self.fresh = True
            # Stored before settling: if the ledger is unreachable now, a redelivery still reuses
            # the reply it paid for instead of paying again.
            won = True
            if replies is not None and self.key is not None:
                won = replies.put(self.key, reply.model_dump(mode="json", exclude={"parsed"}))
            settle(reply)  # paid either way
        if not won and replies is not None and self.key is not None:
            # Another worker answered this call first (this one was frozen past its heartbeat and
            # its step taken over): everyone uses the first answer, so no late text replaces it.
            first = stored_reply(replies, self.key, schema)
            if first is not None:
                return first
        return reply
