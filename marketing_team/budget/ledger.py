"""The spend ledger in Redis: atomic reservations against the caps, settled spend by month, day, goal, skill, model."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import redis

from marketing_team.domain.values import utcnow
from marketing_team.store.batch import Rider, ride

PREFIX = "mt:budget:"
# Month and goal totals are kept a little over a year (history for `mtctl budget`); day hashes
# only feed the daily report, and the month hash keeps each day's total anyway.
MONTH_TTL_S = 400 * 86400
DAY_TTL_S = 100 * 86400

# Every reservation carries an expiry, and each reserve first sweeps the expired ones. A hold that
# lapsed belonged to a caller that vanished (a killed worker, an abandoned call) without settling:
# whether its request reached the provider is unknown, so it is charged at its bound (never less
# than the provider may have billed), attributed to the skill LAPSED and counted in `lapsed`, so
# the month can never pass its budget by calls nobody settled. A caller that was only slow (a
# frozen worker, a reply at the end of its lease, a Redis blip around it) may still settle: the
# charge leaves a note (`lapsed:<token>`, kept as long as the day hash) by which that settle takes
# the bound back before recording what the reply cost, so the reply counts once. Keys of the
# swept records are built from ARGV because they are only known from the records themselves.
LAPSED = "(lapsed hold)"
_SWEEP = """
local now = tonumber(redis.call('TIME')[1])
local LAPSED_FIELDS = {'spent', 'lapsed', 'skill:""" + LAPSED + """', 'model:unknown'}
local function take_back(key, field, micros)
  if redis.call('HINCRBY', key, field, '-' .. micros) == 0 then redis.call('HDEL', key, field) end
end
-- The hold of token lapsed and was charged at its bound, but its caller settles after all.
local function unlapse(token)
  local note_key = ARGV[1] .. 'lapsed:' .. token
  local note = redis.call('GET', note_key)
  if not note then return end
  redis.call('DEL', note_key)
  local month, goal, micros, day = string.match(note, '^([^|]*)|([^|]*)|(%d+)|([^|]*)$')
  if not micros then return end
  local month_key = ARGV[1] .. 'month:' .. month
  for _, field in ipairs(LAPSED_FIELDS) do take_back(month_key, field, micros) end
  take_back(month_key, 'calls', '1')
  if day ~= '' then
    take_back(month_key, 'day:' .. string.sub(day, 9, 10), micros)
    local day_key = ARGV[1] .. 'day:' .. day
    if redis.call('EXISTS', day_key) == 1 then
      for _, field in ipairs(LAPSED_FIELDS) do take_back(day_key, field, micros) end
      take_back(day_key, 'calls', '1')
    end
  end
  if goal ~= '' then
    take_back(month_key, 'goal:' .. goal, micros)
    take_back(ARGV[1] .. 'goal:' .. goal, 'spent', micros)
  end
end
local function release(holds, expiry, token, lapsed_on)
  local rec = redis.call('HGET', holds, token)
  if rec then
    local month, goal, micros = string.match(rec, '^([^|]*)|([^|]*)|(%d+)$')
    if micros and micros ~= '0' then
      local month_key = ARGV[1] .. 'month:' .. month
      redis.call('HINCRBY', month_key, 'reserved', '-' .. micros)
      if goal ~= '' then
        redis.call('HINCRBY', ARGV[1] .. 'goal:' .. goal, 'reserved', '-' .. micros)
      end
      if lapsed_on then
        for _, field in ipairs(LAPSED_FIELDS) do
          redis.call('HINCRBY', month_key, field, micros)
        end
        redis.call('HINCRBY', month_key, 'calls', 1)
        local charged_on = ''
        if string.sub(lapsed_on, 1, 7) == month then
          charged_on = lapsed_on
          redis.call('HINCRBY', month_key, 'day:' .. string.sub(lapsed_on, 9, 10), micros)
          local day_key = ARGV[1] .. 'day:' .. lapsed_on
          for _, field in ipairs(LAPSED_FIELDS) do
            redis.call('HINCRBY', day_key, field, micros)
          end
          redis.call('HINCRBY', day_key, 'calls', 1)
          redis.call('EXPIRE', day_key, ARGV[11])
        end
        redis.call('SET', ARGV[1] .. 'lapsed:' .. token, month .. '|' .. goal .. '|' .. micros .. '|' ..
                   charged_on, 'EX', ARGV[11])
        if goal ~= '' then
          redis.call('HINCRBY', month_key, 'goal:' .. goal, micros)
          redis.call('HINCRBY', ARGV[1] .. 'goal:' .. goal, 'spent', micros)
        end
      end
    end
    redis.call('HDEL', holds, token)
  end
  redis.call('ZREM', expiry, token)
end
"""

# KEYS: month hash, goal hash (the month hash again when the call has no goal), reservations,
# reservation expiries. ARGV: prefix, micros, budget, goal cap (-1 none), stop-at (-1 none),
# token, ttl, record, key ttl, today (YYYY-MM-DD, the day lapsed holds are charged on), day ttl.
_RESERVE = _SWEEP + """
for _, token in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)) do
  release(KEYS[3], KEYS[4], token, ARGV[10])
end
local micros = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local stop = tonumber(ARGV[5])
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local held = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local has_goal = KEYS[2] ~= KEYS[1]
local gspent, gheld = 0, 0
if has_goal then
  gspent = tonumber(redis.call('HGET', KEYS[2], 'spent') or '0')
  gheld = tonumber(redis.call('HGET', KEYS[2], 'reserved') or '0')
end
if stop >= 0 and spent >= stop then return {'deferred', spent, held} end
if spent + micros > budget then return {'exhausted', spent, held} end
if has_goal and cap >= 0 and gspent + micros > cap then return {'goal_exhausted', spent, held} end
if spent + held + micros > budget or (has_goal and cap >= 0 and gspent + gheld + micros > cap) then
  return {'busy', spent, held}
end
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[9])
if has_goal then
  redis.call('HINCRBY', KEYS[2], 'reserved', ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[9])
end
redis.call('HSET', KEYS[3], ARGV[6], ARGV[8])
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[7]), ARGV[6])
return {'granted', spent, held}
"""

# KEYS: month hash, day hash, goal hash (the month hash again when none), reservations,
# reservation expiries. ARGV: prefix, token ('' none), micros, skill, model, goal id, day of
# month, month ttl, day ttl, count ('1' record a call, '0' only release), settled marker ('' none;
# a reply is recorded only by the settle that sets its marker), marker ttl.
_SETTLE = _SWEEP + """
if ARGV[2] ~= '' then release(KEYS[4], KEYS[5], ARGV[2]) end
local count = ARGV[10]
if count == '1' and ARGV[11] ~= '' then
  if not redis.call('SET', ARGV[1] .. 'settled:' .. ARGV[11], '1', 'NX', 'EX', ARGV[12]) then
    count = '0'
  end
end
if count == '1' then
  -- a hold that lapsed before its caller settled was charged at its bound: take that back first
  if ARGV[2] ~= '' then unlapse(ARGV[2]) end
  local a = ARGV[3]
  for _, key in ipairs({KEYS[1], KEYS[2]}) do
    redis.call('HINCRBY', key, 'spent', a)
    redis.call('HINCRBY', key, 'calls', 1)
    redis.call('HINCRBY', key, 'skill:' .. ARGV[4], a)
    redis.call('HINCRBY', key, 'model:' .. ARGV[5], a)
    if ARGV[6] ~= '' then redis.call('HINCRBY', key, 'goal:' .. ARGV[6], a) end
  end
  redis.call('HINCRBY', KEYS[1], 'day:' .. ARGV[7], a)
  redis.call('EXPIRE', KEYS[1], ARGV[8])
  redis.call('EXPIRE', KEYS[2], ARGV[9])
  if ARGV[6] ~= '' then
    redis.call('HINCRBY', KEYS[3], 'spent', a)
    redis.call('EXPIRE', KEYS[3], ARGV[8])
  end
end
return tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
"""

GrantOutcome = Literal["granted", "deferred", "busy", "exhausted", "goal_exhausted"]
ScriptArg = str | int


def month_of(when: datetime) -> str:
    """The ledger month (UTC) of a time: YYYY-MM."""
    return f"{when.year:04d}-{when.month:02d}"  # strftime costs ~10x this, five times a step


def day_of(when: datetime) -> str:
    """The ledger day (UTC) of a time: YYYY-MM-DD."""
    return f"{when.year:04d}-{when.month:02d}-{when.day:02d}"


@dataclass(frozen=True)
class Reservation:
    """Money held for one call in flight until it settles (or its holder's lease runs out)."""

    token: str
    month: str
    goal_id: str
    micros: int


@dataclass(frozen=True)
class Grant:
    """The answer to a reservation: the outcome, the month's spend and holds it was judged on."""

    outcome: GrantOutcome
    spent: int
    held: int
    reservation: Reservation | None = None
    carried: tuple[Any, ...] = ()  # the answers of the commands that rode along (see Rider)


@dataclass
class Spend:
    """Totals of a month or a day in micro-dollars, broken down by skill, model, goal (and day)."""

    spent: int = 0
    reserved: int = 0
    calls: int = 0
    lapsed: int = 0  # holds of callers that vanished, charged at their bound
    by_skill: dict[str, int] = field(default_factory=dict)
    by_model: dict[str, int] = field(default_factory=dict)
    by_goal: dict[str, int] = field(default_factory=dict)
    by_day: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, raw: Mapping[bytes | str, bytes | str], period: str) -> Spend:
        """Parse a ledger hash; `day:DD` fields become YYYY-MM-DD keys of the period's month."""
        spend = cls()
        groups = {"skill": spend.by_skill, "model": spend.by_model, "goal": spend.by_goal,
                  "day": spend.by_day}
        for key, value in raw.items():
            name = key.decode() if isinstance(key, bytes) else key
            amount = int(value)
            kind, _, label = name.partition(":")
            if kind in groups and label:
                groups[kind][f"{period[:7]}-{label}" if kind == "day" else label] = amount
            elif name in ("spent", "reserved", "calls", "lapsed"):
                setattr(spend, name, amount)
        return spend


class Ledger:
    """Every number the budget relies on lives here, in Redis; nothing is kept in process memory."""

    def __init__(self, client: redis.Redis, lease_s: int = 1800) -> None:
        self.client = client
        self.lease_s = lease_s
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)

    def _keys(self, month: str, goal_id: str) -> list[str]:
        month_key = f"{PREFIX}month:{month}"
        goal_key = f"{PREFIX}goal:{goal_id}" if goal_id else month_key
        return [month_key, goal_key, f"{PREFIX}reservations", f"{PREFIX}reservations:expiry"]

    def reserve(self, micros: int, *, budget: int, goal_id: str = "", goal_cap: int | None = None,
                stop_at: int | None = None, when: datetime | None = None,
                rider: Rider | None = None) -> Grant:
        """Hold micros for a call if the month (and goal) can still afford it, atomically.

        rider: commands to send first in the same round trip (their answers are `Grant.carried`).
        """
        at = when or utcnow()
        month = month_of(at)
        token = secrets.token_hex(8)
        record = f"{month}|{goal_id}|{micros}"
        args: list[ScriptArg] = [PREFIX, micros, budget, -1 if goal_cap is None else goal_cap,
                -1 if stop_at is None else stop_at, token, self.lease_s, record, MONTH_TTL_S,
                day_of(at), DAY_TTL_S]
        carried, raw = ride(self.client, rider, self._reserve, self._keys(month, goal_id), args)
        outcome, spent, held = raw[0].decode(), int(raw[1]), int(raw[2])
        granted = Reservation(token, month, goal_id, micros) if outcome == "granted" else None
        return Grant(outcome, spent, held, granted, tuple(carried))

    def settle(self, reservation: Reservation | None, micros: int, *, goal_id: str, skill: str,
               model: str, when: datetime | None = None, once: str = "") -> int:
        """Release the hold and record the actual spend; returns the month's spend after it.

        With `once` (a reply's identity), the spend is recorded by the first settle of that reply
        only, in the same script: a redelivery that settles a stored reply again records nothing.
        """
        return self._apply(reservation, micros, goal_id, skill, model, when, count=True, once=once)[1]

    def settle_after(self, rider: Rider | None, reservation: Reservation | None, micros: int, *,
                     goal_id: str, skill: str, model: str, once: str = "") -> tuple[list[Any], int]:
        """settle, with the rider's commands (if any) sent first in the same round trip: (their
        answers, the month's spend)."""
        return self._apply(reservation, micros, goal_id, skill, model, None, count=True, once=once,
                           rider=rider)

    def release(self, reservation: Reservation) -> None:
        """Give back a hold without recording spend (the call failed before it cost anything known)."""
        self._apply(reservation, 0, reservation.goal_id, "", "", None, count=False)

    def record(self, micros: int, *, goal_id: str = "", skill: str = "director",
               model: str = "unknown", when: datetime | None = None) -> int:
        """Record spend that needed no reservation (free providers, imports); returns the month's spend."""
        return self._apply(None, micros, goal_id, skill, model, when, count=True)[1]

    def _apply(self, reservation: Reservation | None, micros: int, goal_id: str, skill: str,
               model: str, when: datetime | None, *, count: bool, once: str = "",
               rider: Rider | None = None) -> tuple[list[Any], int]:
        at = when or utcnow()
        month, day = month_of(at), day_of(at)
        keys = self._keys(month, goal_id)
        keys = [keys[0], f"{PREFIX}day:{day}", keys[1], keys[2], keys[3]]
        args: list[ScriptArg] = [PREFIX, reservation.token if reservation else "", micros, skill, model, goal_id,
                day[-2:], MONTH_TTL_S, DAY_TTL_S, "1" if count else "0", once, MONTH_TTL_S]
        carried, spent = ride(self.client, rider, self._settle, keys, args)
        return carried, int(spent)

    def month_spent(self, month: str) -> int:
        """Settled spend of a month in micro-dollars."""
        return int(self.client.hget(f"{PREFIX}month:{month}", "spent") or 0)

    def month_and_goal_spent(self, month: str, goal_id: str) -> tuple[int, int]:
        """(month_spent, goal_spent) in one round trip."""
        with self.client.pipeline(transaction=False) as pipe:
            self.queue_spent(pipe, month, goal_id)
            month_raw, goal_raw = pipe.execute()
        return int(month_raw or 0), int(goal_raw or 0)

    @staticmethod
    def queue_spent(pipe: redis.client.Pipeline, month: str, goal_id: str) -> None:
        """Queue the two reads of month_and_goal_spent on a caller's pipeline (month, then goal)."""
        pipe.hget(f"{PREFIX}month:{month}", "spent")
        pipe.hget(f"{PREFIX}goal:{goal_id}", "spent")

    def goal_spent(self, goal_id: str) -> int:
        """Settled spend of a goal (all months) in micro-dollars."""
        return int(self.client.hget(f"{PREFIX}goal:{goal_id}", "spent") or 0)

    def month(self, month: str) -> Spend:
        """The month's totals and breakdowns."""
        return Spend.from_hash(self.client.hgetall(f"{PREFIX}month:{month}"), month)

    def day(self, day: str) -> Spend:
        """One day's totals and breakdowns (kept DAY_TTL_S)."""
        return Spend.from_hash(self.client.hgetall(f"{PREFIX}day:{day}"), day)

    def mark_once(self, name: str, ttl_s: int) -> bool:
        """Set a flag that expires; True only for the caller that set it first (announce once)."""
        return bool(self.client.set(f"{PREFIX}{name}", "1", nx=True, ex=ttl_s))

    def bump(self, name: str, ttl_s: int) -> int:
        """Increment a counter that expires; returns the new value."""
        key = f"{PREFIX}{name}"
        with self.client.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, ttl_s)
            value, _ = pipe.execute()
        return int(value)

    def count(self, name: str) -> int:
        """The current value of a counter made by bump (0 when absent)."""
        return int(self.client.get(f"{PREFIX}{name}") or 0)
