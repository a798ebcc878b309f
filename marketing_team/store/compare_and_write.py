"""A goal change in one round trip: its writes apply only if the state is still what it was read as.

WATCH, GET, MULTI/EXEC take three round trips; this is one Lua script that compares the stored
state's SHA-1 with the one the change was computed from, and either runs the change's recorded
writes (state, indexes, counters, staged effects) or answers with the stored state, so the
caller computes again from it without another read.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import cast

import redis
from redis.typing import EncodableT

_SCRIPT = """
local current = redis.call('GET', KEYS[1])
local seen = ''
if current then seen = redis.sha1hex(current) end
if seen ~= ARGV[1] then
  if current then return {0, current} end
  return {0}
end
-- As MULTI/EXEC does, every write runs even if one fails (a key of the wrong type); the first
-- failure is then reported, after the others.
local failed = nil
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local reply = redis.pcall(unpack(ARGV, i + 1, i + n))
  if type(reply) == 'table' and reply.err and not failed then failed = reply.err end
  i = i + n + 1
end
if failed then return redis.error_reply(failed) end
return {1}
"""

BACKOFF_CAP_S = 0.05  # jittered, doubling pause after each conflict, up to this


def encoded(raw: bytes | str | None) -> bytes | None:
    """The state as bytes (as the server stores it)."""
    return raw.encode() if isinstance(raw, str) else raw


def digest(raw: bytes | str | None) -> str:
    """The state's SHA-1 as the server computes it (empty for a missing goal)."""
    data = encoded(raw)
    return "" if data is None else hashlib.sha1(data, usedforsecurity=False).hexdigest()


def flatten(recorder: redis.client.Pipeline) -> list[EncodableT]:
    """A recorded pipeline's commands as the script's arguments: count, then the words, each."""
    words: list[EncodableT] = []
    for args, _ in recorder.command_stack:
        words.append(len(args))
        words.extend(args)
    return words


def back_off(attempt: int) -> None:
    # Jittered backoff: contenders spread out instead of colliding again in lockstep.
    time.sleep(random.uniform(0, min(BACKOFF_CAP_S, 0.0005 * 2 ** attempt)))


class CompareAndWrite:
    """The script, loaded once per client."""

    def __init__(self, client: redis.Redis) -> None:
        self.script = client.register_script(_SCRIPT)

    def __call__(self, key: str, expected: bytes | str | None,
                 recorder: redis.client.Pipeline) -> tuple[bool, bytes | None]:
        """Run recorder's commands if key still holds expected: (True, None), else (False, stored)."""
        return self.outcome(self.script(keys=[key], args=self.args(expected, recorder)))

    @staticmethod
    def args(expected: bytes | str | None, recorder: redis.client.Pipeline) -> list[EncodableT]:
        """The script's arguments (for a caller sending it in a batch with other commands)."""
        return [digest(expected), *flatten(recorder)]

    @staticmethod
    def outcome(answer: object) -> tuple[bool, bytes | None]:
        """The script's answer as (written, the stored state when it was not)."""
        reply = cast("list[bytes | int]", answer)
        if reply[0] == 1:
            return True, None
        stored = reply[1] if len(reply) > 1 else None
        return False, stored if isinstance(stored, bytes) else None
