"""Commands of different stores, scripts among them, sent in one round trip.

A step's reads and writes often belong to two stores that each own their keys (a stored reply
and the ledger's reservation, say). Each store queues its part on a shared batch, in order, and
reads its own answers back. redis-py's pipeline asks the server `SCRIPT EXISTS` before every
execute that holds a script, one more round trip; a batch sends each script as EVALSHA and runs
again, on its own (which loads it), only a script the server did not know (NOSCRIPT: a restarted
or flushed server). The commands are not a transaction: each runs in order, as if sent one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.commands.core import Script
from redis.typing import EncodableT

# Another store's commands sent in the same round trip as a script, before it (a stored reply's
# read beside a reservation, a prompt's reads beside a lease claim); their answers come back too.
Rider = Callable[[redis.client.Pipeline], None]


class Batch:
    """A non-transactional pipeline whose scripts cost no extra round trip."""

    def __init__(self, client: redis.Redis) -> None:
        self.pipe: redis.client.Pipeline = client.pipeline(transaction=False)
        self._scripts: dict[int, tuple[Script, Sequence[str], Sequence[EncodableT]]] = {}

    def __len__(self) -> int:
        """How many commands are queued (the index the next one's answer will have)."""
        return len(self.pipe.command_stack)

    def script(self, script: Script, keys: Sequence[str], args: Sequence[EncodableT]) -> int:
        """Queue a script; returns the index of its answer."""
        index = len(self)
        self._scripts[index] = (script, keys, args)
        self.pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
        return index

    def execute(self) -> list[Any]:
        """Every answer in order; the first command error (after NOSCRIPT reruns) is raised."""
        with self.pipe:
            answers = list(self.pipe.execute(raise_on_error=False))
        for index, answer in enumerate(answers):
            if isinstance(answer, redis.exceptions.NoScriptError) and index in self._scripts:
                script, keys, args = self._scripts[index]
                answers[index] = script(keys=keys, args=args)  # loads it, then runs it
        for answer in answers:
            if isinstance(answer, redis.exceptions.ResponseError):
                raise answer
        return answers


def ride(client: redis.Redis, rider: Rider | None, script: Script, keys: Sequence[str],
         args: Sequence[EncodableT]) -> tuple[list[Any], Any]:
    """(the rider's answers, the script's answer): one round trip, the rider's commands first."""
    if rider is None:
        return [], script(keys=keys, args=args)
    batch = Batch(client)
    rider(batch.pipe)
    index = batch.script(script, keys, args)
    answers = batch.execute()
    return answers[:index], answers[index]
