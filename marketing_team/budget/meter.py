"""Every model call the team makes goes through here: each HTTP request reserved at its bound,
answered from what was already paid for when it can be, and settled exactly once."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import redis
from pydantic import BaseModel, ValidationError

from marketing_team.budget.gate import BudgetGate
from marketing_team.budget.ledger import Reservation
from marketing_team.budget.policy import to_micros, to_usd
from marketing_team.domain.errors import BudgetExhausted, CorruptStateError, ProviderBillingError
from marketing_team.domain.goal import Priority
from marketing_team.llm.bounds import usage_problem
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import LLM, Message, Reply, RequestMeter, SystemBlock
from marketing_team.observability.processes import wait_stopping
from marketing_team.store.batch import Rider
from marketing_team.store.replies import ReplyStore

log = logging.getLogger(__name__)
T = TypeVar("T")

# A reply the provider billed must reach the ledger: while Redis is away (a restart replays its
# append-only file in seconds) the worker holding it waits this long for it before giving up.
OUTAGE_WAIT_S = 60.0


def durably(what: str, write: Callable[[], T], wait_s: float = OUTAGE_WAIT_S) -> T:
    """Run an idempotent write, retrying while the server is unreachable (up to wait_s)."""
    deadline = time.monotonic() + wait_s
    pause = 0.1
    while True:
        try:
            return write()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning(f"{what}: Redis unreachable ({type(exc).__name__}); retrying",
                        extra={"event": "paid_reply_waiting_for_redis"})
            # A stopping worker waits for its running tasks: outwaiting the outage would hold its
            # exit (the hold then lapses and is charged at its bound). The pause ends at the stop.
            if wait_stopping(pause):
                raise
            pause = min(pause * 2, 2.0)


def settled_marker(key: str | None, index: int, reply: Reply) -> str:
    """The identity a reply is settled under: its call key and request number, and the id the
    meter gave this paid reply (two workers that both paid for one request each settle their own,
    whatever id the provider sent)."""
    raw = f"{key or ''}#{index}|{reply.billing_id or reply.request_id}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


class CallMeter:
    """The budget's side of one call's requests (see `RequestMeter`)."""

    def __init__(self, gate: BudgetGate, replies: ReplyStore | None, key: str | None,
                 goal_id: str, skill: str, priority: Priority | None = None) -> None:
        self.gate = gate
        self.priority = priority
        self.replies = replies
        self.key = key
        self.goal_id = goal_id
        self.skill = skill
        self.fresh = False  # True once a request actually reached the provider
        self.charges: list[tuple[str, Decimal]] = []  # (settled identity, cost) of each reply
        self._held: dict[int, Reservation | None] = {}
        self._models: dict[int, str] = {}  # the model each request asked for (priced as that)

    @property
    def cost_usd(self) -> Decimal:
        """Every request's cost, paid now or replayed (for the goal)."""
        return sum((cost for _, cost in self.charges), Decimal(0))

    def _stored_key(self, index: int) -> str | None:
        return None if self.key is None or self.replies is None else f"{self.key}#{index}"

    def _stored(self, index: int) -> Reply | None:
        stored_key = self._stored_key(index)
        if stored_key is None or self.replies is None:
            return None
        return self._decoded(stored_key, lambda: self.replies.get(stored_key) if self.replies else None)

    @staticmethod
    def _decoded(stored_key: str, read: Callable[[], dict[str, Any] | None]) -> Reply | None:
        try:
            raw = read()
            return None if raw is None else Reply.model_validate(raw)
        except (CorruptStateError, ValidationError) as exc:
            log.warning(f"stored reply {stored_key} unreadable ({type(exc).__name__}); calling again")
            return None

    def before(self, index: int, model: str, input_bound: int, max_tokens: int) -> Reply | None:
        """The reply already paid for this request (settled now if a crash left it unsettled), or
        None after reserving the request's bound for every attempt the SDK may make."""
        stored_key = self._stored_key(index)
        if self.gate.offline or stored_key is None or (self.priority is None and self.goal_id):
            return self._read_then_reserve(index, model, input_bound, max_tokens)
        try:
            held = self._hold_micros(model, input_bound, max_tokens)
        except BudgetExhausted:  # unless a stored reply makes the call unnecessary: see there
            held = 0
        if held <= 0:
            return self._read_then_reserve(index, model, input_bound, max_tokens)
        self._models[index] = model
        # The common case in one round trip: the stored reply's read rides with the reservation.
        grant = self.gate.ask(self.goal_id, held, self.priority, rider=lambda pipe: ReplyStore.queue_get(pipe, stored_key))
        paid = self._decoded(stored_key, lambda: ReplyStore.decode(stored_key, grant.carried[0]))
        if paid is not None:  # a redelivery: nothing is called, so nothing stays held
            # The hold goes back in the (durable, idempotent) settle's script: a release of its
            # own would leave it to lapse, charged at its bound, if Redis went away just now.
            self._models.pop(index, None)
            self._settle(grant.reservation, paid, paid.cost_usd, index)
            return paid
        if grant.reservation is None:
            raise self.gate.refusal(grant, self.priority, held)
        self._held[index] = grant.reservation
        return None

    def _read_then_reserve(self, index: int, model: str, input_bound: int, max_tokens: int) -> Reply | None:
        """before, as two steps: the stored reply, then (without one) the reservation."""
        paid = self._stored(index)
        if paid is not None:
            self._settle(None, paid, paid.cost_usd, index)
            return paid
        if self.gate.offline:  # no model, no money: nothing to hold (and maybe no broker)
            return None
        self._models[index] = model
        held = self._hold_micros(model, input_bound, max_tokens)
        self._held[index] = self.gate.reserve(self.goal_id, held, self.priority) if held > 0 else None
        return None

    def _hold_micros(self, model: str, input_bound: int, max_tokens: int) -> int:
        """What a request holds: its bound for every attempt the SDK may make (all could reach the
        model); BudgetExhausted when one attempt alone may cost over the per-call cap."""
        bound = self.bound_micros(model, input_bound, max_tokens)
        cap = to_micros(self.gate.settings.call_cost_cap, round_up=False)
        if bound > cap:
            raise BudgetExhausted(f"a {model} request may cost up to ${to_usd(bound)}, over the "
                                  f"per-call cap ${to_usd(cap)} (MT_CALL_COST_CAP)")
        return bound * (1 + max(0, self.gate.settings.llm_max_retries))

    def bound_micros(self, model: str, input_bound: int, max_tokens: int) -> int:
        """The most one attempt of a request can cost: its input bound at the dearest input rate
        and max_tokens of output."""
        if model == "offline":  # the offline provider's model id: no price, nothing to hold
            return 0
        prices = PriceTable.from_settings(self.gate.settings)
        return to_micros(prices.worst_case_cost(model, input_bound, max_tokens))

    def after(self, index: int, reply: Reply, input_bound: int, max_tokens: int) -> Reply:
        """Store and settle the reply once; an unbelievable usage records the bound and raises."""
        self.fresh = True
        held = self._held.pop(index, None)
        reply = reply.model_copy(update={"billing_id": uuid.uuid4().hex})
        usage = reply.usage
        problem = "no usage reported" if reply.usage_missing else usage_problem(
            usage.input_tokens, usage.output_tokens, usage.cache_write_tokens + usage.cache_read_tokens,
            input_bound, max_tokens)
        bound = self.bound_micros(self._models.pop(index, reply.model), input_bound, max_tokens)
        if problem is not None and bound > 0:  # a free (local) model has nothing to mistrust
            self._settle(held, reply, to_usd(bound), index)
            raise ProviderBillingError(
                f"{reply.model} reply {reply.request_id or '(no id)'}: {problem}; recorded its "
                f"bound ${to_usd(bound)} instead of trusting it")
        stored_key = self._stored_key(index)
        if stored_key is None or self.replies is None:
            self._settle(held, reply, reply.cost_usd, index)
            return reply
        # Stored before settling, in the same round trip: if the settle is lost, a redelivery
        # reuses the reply and settles it then. A late copy (its worker lost the step) uses the
        # first one stored.
        record = reply.model_dump(mode="json", exclude={"parsed"})
        replies = self.replies
        carried = self._settle(held, reply, reply.cost_usd, index,
                               rider=lambda pipe: replies.queue_put(pipe, stored_key, record))
        return reply if carried[0] else (self._stored(index) or reply)

    def failed(self, index: int) -> None:
        """No reply: the hold goes back."""
        held = self._held.pop(index, None)
        if held is not None:
            self.gate.ledger.release(held)

    def _settle(self, held: Reservation | None, reply: Reply, cost: Decimal, index: int,
                rider: Rider | None = None) -> list[Any]:
        """Charge the reply once (the rider's commands first, in the same round trip: their answers
        are returned)."""
        marker = settled_marker(self.key, index, reply)
        self.charges.append((marker, max(Decimal(0), cost)))
        if self.gate.offline and held is None:  # nothing was reserved, nothing is owed: no model was paid
            return [] if rider is None else durably("storing a reply", lambda: self._ride(rider))
        # Idempotent (the put is set-if-absent, the settle has its marker): retrying after a lost
        # answer is safe.
        micros, ledger = max(0, to_micros(cost)), self.gate.ledger
        carried, spent = durably("settling a paid reply", lambda: ledger.settle_after(
            rider, held, micros, goal_id=self.goal_id, skill=self.skill, model=reply.model, once=marker))
        self.gate.note_settled(spent)
        return carried

    def _ride(self, rider: Rider) -> list[Any]:
        """The rider's commands alone (nothing to settle)."""
        with self.gate.ledger.client.pipeline(transaction=False) as pipe:
            rider(pipe)
            return list(pipe.execute())

    def release_all(self) -> None:
        """Give back every hold still open (the call ended abnormally)."""
        for index in list(self._held):
            self.failed(index)


class GuardedLLM:
    """An LLM behind the budget: every request reserved, settled once, and (with a key) stored."""

    def __init__(self, llm: LLM, gate: BudgetGate, replies: ReplyStore, goal_id: str | None,
                 skill: str, key: str | None = None, priority: Priority | None = None) -> None:
        self.llm = llm
        self.priority = priority  # the goal's (saves the budget a read of the goal per request)
        self.gate = gate
        self.replies = replies
        self.goal_id = goal_id
        self.skill = skill
        self.key = key
        self.name = llm.name
        self.fresh = False  # True once a call actually reached the provider
        self.charges: list[tuple[str, Decimal]] = []  # each reply as the ledger settled it

    @property
    def cost_usd(self) -> Decimal:
        """What the calls made through this cost (for the goal)."""
        return sum((cost for _, cost in self.charges), Decimal(0))

    def complete(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                 max_tokens: int, schema: type[BaseModel] | None = None,
                 meter: RequestMeter | None = None) -> Reply:
        """The call, each of its requests metered (a redelivery replays what it paid for)."""
        stores = self.replies if self.key is not None and self.goal_id is not None else None
        own = CallMeter(self.gate, stores, self.key, self.goal_id or "", self.skill, self.priority)
        try:
            return self.llm.complete(system_blocks, messages, model, max_tokens, schema=schema,
                                     meter=own)
        except ProviderBillingError as exc:
            # The bound (and requests paid before it) are in the ledger: the goal counts them too.
            exc.charges = tuple(own.charges)
            raise
        finally:  # paid attempts count even when the call failed (validation, a billing error)
            own.release_all()
            self.fresh = self.fresh or own.fresh
            self.charges.extend(own.charges)
