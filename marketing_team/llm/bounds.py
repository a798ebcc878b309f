"""A bound on a request's input tokens that no tokenizer can exceed: its UTF-8 bytes.

Every token the Messages API counts covers at least one byte of the text sent, so the bytes of
every text in a request (system blocks, turns, a schema) plus a fixed allowance per turn for the
role and framing tokens the API adds bound its input tokens from above. Counting tokens exactly
would need a round trip per request; this bound needs none and is rarely more than 4x the count.
"""

from __future__ import annotations

from collections.abc import Iterable

# The request's own framing, plus any system prompt the API adds on its side (tool use adds a
# few hundred tokens; native structured output may too): generous, since an honest reply
# counted beyond the bound would stop its goal, and 1,024 tokens cost under a cent.
REQUEST_OVERHEAD_TOKENS = 1024
TURN_OVERHEAD_TOKENS = 16  # role and separators of each system block or turn


def input_bound(texts: Iterable[str]) -> int:
    """At most how many input tokens a request carrying these texts can be billed."""
    total, turns = 0, 0
    for text in texts:
        total += len(text.encode("utf-8"))
        turns += 1
    return REQUEST_OVERHEAD_TOKENS + total + turns * TURN_OVERHEAD_TOKENS


def usage_problem(input_tokens: int, output_tokens: int, cache_tokens: int, bound: int,
                  max_tokens: int) -> str | None:
    """Why reported usage cannot be true for a request within these bounds, or None."""
    if min(input_tokens, output_tokens, cache_tokens) < 0:
        return "negative usage reported"
    if input_tokens + cache_tokens > bound:
        return f"{input_tokens + cache_tokens} input tokens reported, at most {bound} possible"
    if output_tokens > max_tokens:
        return f"{output_tokens} output tokens reported, max_tokens was {max_tokens}"
    return None
