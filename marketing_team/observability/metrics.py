"""Run metrics per skill and per goal in Redis hashes: counters only (the report renders them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import redis

PREFIX = "mt:metrics"
DAY_TTL_S = 90 * 86400
SNAPSHOT_TTL_S = 40 * 86400
NANO = Decimal(1_000_000_000)  # cost is counted in nano-dollars: integer increments, no float drift
FIELDS = ("runs", "failures", "retries", "duration_ms", "tokens_in", "tokens_out", "cost_nusd")

# A task record's tokens and cost are cumulative over its revisions; the script meters the growth
# since the last snapshot of that task, so a redelivered or revised run never counts twice.
_RECORD = """
local d = {0, 0, 0}
if tonumber(ARGV[7]) >= 0 then
  local old = redis.call('HMGET', KEYS[1], 'tokens_in', 'tokens_out', 'cost_nusd')
  for i = 1, 3 do
    local delta = tonumber(ARGV[6 + i]) - (tonumber(old[i]) or 0)
    if delta > 0 then d[i] = delta end
  end
  redis.call('HSET', KEYS[1], 'tokens_in', ARGV[7], 'tokens_out', ARGV[8], 'cost_nusd', ARGV[9])
  redis.call('EXPIRE', KEYS[1], ARGV[11])
end
local add = {runs = ARGV[3], failures = ARGV[4], retries = ARGV[5], duration_ms = ARGV[6],
             tokens_in = string.format('%.0f', d[1]), tokens_out = string.format('%.0f', d[2]),
             cost_nusd = string.format('%.0f', d[3])}
local targets = {KEYS[2], KEYS[3]}
if ARGV[2] ~= '' then targets[3] = KEYS[4] end
for _, key in ipairs(targets) do
  for field, value in pairs(add) do
    if value ~= '0' then redis.call('HINCRBY', key, field, value) end
  end
end
redis.call('EXPIRE', KEYS[3], ARGV[10])
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('EXPIRE', KEYS[5], ARGV[10])
redis.call('SADD', KEYS[6], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('EXPIRE', KEYS[4], ARGV[10])
  redis.call('SADD', KEYS[7], ARGV[2])
  redis.call('EXPIRE', KEYS[7], ARGV[10])
end
return 1
"""


@dataclass(frozen=True)
class Totals:
    """A task record's cumulative tokens and cost after a run."""

    tokens_in: int
    tokens_out: int
    cost_usd: Decimal


@dataclass(frozen=True)
class TaskRun:
    """One finished task execution as the observer saw it."""

    name: str  # the skill slug, or the director task's name
    day: date
    duration_s: float
    goal_id: str | None = None
    task_id: str | None = None
    failed: bool = False
    retried: bool = False
    totals: Totals | None = None


@dataclass(frozen=True)
class Counters:
    """Summed runs, failures, retries, duration, tokens and cost of a skill or goal."""

    runs: int = 0
    failures: int = 0
    retries: int = 0
    duration_s: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal("0")

    @property
    def avg_duration_s(self) -> float:
        """Mean seconds per run (0 without runs)."""
        return self.duration_s / self.runs if self.runs else 0.0

    def __add__(self, other: Counters) -> Counters:
        return Counters(self.runs + other.runs, self.failures + other.failures,
                        self.retries + other.retries, self.duration_s + other.duration_s,
                        self.tokens_in + other.tokens_in, self.tokens_out + other.tokens_out,
                        self.cost_usd + other.cost_usd)


def skill_key(name: str, day: date | None = None) -> str:
    """The hash of one skill, all time or for one day."""
    return f"{PREFIX}:skill:{name}" if day is None else f"{PREFIX}:day:{day.isoformat()}:skill:{name}"


def goal_key(goal_id: str) -> str:
    """The hash of one goal."""
    return f"{PREFIX}:goal:{goal_id}"


def today(tz: str) -> date:
    """The current date in the team's time zone (days of reports follow MT_TIMEZONE)."""
    return datetime.now(ZoneInfo(tz)).date()


def record(client: redis.Redis, run: TaskRun) -> None:
    """Add one run to its skill's totals, its day and its goal, atomically."""
    source, keys, args = record_call(run)
    # EVALSHA (loaded once per server), not EVAL: the script's text is not sent with every run.
    client.register_script(source)(keys=keys, args=args)


def record_call(run: TaskRun) -> tuple[str, list[str], list[str | int]]:
    """record as (script, keys, args), for a caller that sends it with other commands."""
    totals = run.totals
    day = run.day.isoformat()
    keys = [f"{PREFIX}:snapshot:{run.task_id or '-'}", skill_key(run.name), skill_key(run.name, run.day),
            goal_key(run.goal_id or "-"), f"{PREFIX}:day:{day}:skills", f"{PREFIX}:skills",
            f"{PREFIX}:day:{day}:goals"]
    counted = not run.retried
    args: list[str | int] = [run.name, run.goal_id or "", int(counted), int(counted and run.failed), int(run.retried),
            round(run.duration_s * 1000),
            totals.tokens_in if totals and run.task_id else -1,
            totals.tokens_out if totals else 0,
            int(totals.cost_usd * NANO) if totals else 0, DAY_TTL_S, SNAPSHOT_TTL_S]
    return _RECORD, keys, args


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _counters(raw: dict[bytes | str, bytes | str]) -> Counters:
    get = {_text(k): int(v) for k, v in raw.items()}
    return Counters(get.get("runs", 0), get.get("failures", 0), get.get("retries", 0),
                    get.get("duration_ms", 0) / 1000, get.get("tokens_in", 0),
                    get.get("tokens_out", 0), Decimal(get.get("cost_nusd", 0)) / NANO)


def skills(client: redis.Redis, day: date | None = None) -> dict[str, Counters]:
    """Counters per skill (director tasks by task name), all time or for one day, sorted by name."""
    members = client.smembers(f"{PREFIX}:skills" if day is None else f"{PREFIX}:day:{day.isoformat()}:skills")
    names = sorted(_text(m) for m in members)
    return {name: _counters(client.hgetall(skill_key(name, day))) for name in names}


def goal(client: redis.Redis, goal_id: str) -> Counters:
    """Counters of one goal's task runs."""
    return _counters(client.hgetall(goal_key(goal_id)))


def goals_on(client: redis.Redis, day: date) -> list[str]:
    """Ids of the goals that had a task run that day, sorted."""
    return sorted(_text(m) for m in client.smembers(f"{PREFIX}:day:{day.isoformat()}:goals"))


__all__ = ["Counters", "TaskRun", "Totals", "goal", "goals_on", "record", "skills"]
