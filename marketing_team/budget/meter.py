"""Every model call the team makes goes through here: reply cache first, then a metered call."""

from __future__ import annotations

import json

from pydantic import BaseModel

from marketing_team import budget
from marketing_team.budget_policy import estimate_input_tokens
from marketing_team.llm.base import MAX_REPROMPTS
from marketing_team.llm.protocol import Message, Reply, SystemBlock
from marketing_team.llm.reply_cache import ReplyCache
from marketing_team.runtime import Runtime


class GuardedLLM:
    """The runtime's LLM behind the budget (reserve, settle) and, with a key, the reply cache."""

    def __init__(self, rt: Runtime, goal_id: str | None, skill: str, key: str | None = None) -> None:
        self.rt = rt
        self.goal_id = goal_id
        self.skill = skill
        self.key = key
        self.name = rt.llm.name
        self.fresh = False  # True once a call actually reached the provider

    def _cache(self) -> ReplyCache | None:
        if self.key is None or self.goal_id is None:
            return None
        return ReplyCache(self.rt.workspace.goal_dir(self.goal_id) / ".replies")

    def complete(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                 max_tokens: int, schema: type[BaseModel] | None = None) -> Reply:
        """The stored reply for this key when there is one (a redelivery pays nothing), else a call."""
        cache = self._cache()
        if cache is not None and self.key is not None:
            stored = cache.lookup(self.key, schema)
            if stored is not None:
                return stored
        if self.goal_id:
            # The goal's watchdog sees a long call as alive (the threads pool has no time limits).
            from marketing_team.dispatch import alive_key

            timeout = int(self.rt.settings.llm_timeout_s * (self.rt.settings.llm_max_retries + 1)) + 60
            self.rt.redis.set(alive_key(self.goal_id), self.skill, ex=timeout)
        # The reservation is the call's worst case: this prompt's size, every re-prompt a schema
        # may need, full output each time.
        schema_chars = len(json.dumps(schema.model_json_schema())) if schema is not None else 0
        tokens = estimate_input_tokens([b.text for b in system_blocks] + [m.content for m in messages],
                                       schema_chars)
        attempts = 1 + MAX_REPROMPTS if schema is not None else 1
        with budget.metered_call(self.rt, self.goal_id or "", self.skill, model, max_tokens,
                                 input_tokens=tokens, attempts=attempts) as settle:
            reply = self.rt.llm.complete(system_blocks, messages, model, max_tokens, schema=schema)
            self.fresh = True
            # Stored before settling: if the ledger is unreachable now, a redelivery still reuses
            # the reply it paid for instead of paying again.
            if cache is not None and self.key is not None:
                cache.put(self.key, reply)
            settle(reply)
        return reply
