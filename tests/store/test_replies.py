"""The reply store: one JSON object per key, written atomically, a corrupt file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketing_team.domain.errors import CorruptFileError
from marketing_team.store.replies import ReplyStore


def test_reply_store_round_trips_the_object_it_was_given(tmp_path: Path) -> None:
    reply = {"text": "x", "stop_reason": "max_tokens", "usage": {"input_tokens": 1},
             "cost_usd": "0.123457", "unicode": "é — ✓"}
    store = ReplyStore(tmp_path)

    store.put("k", reply)

    assert store.get("k") == reply
    assert store.get("other") is None
    assert list(tmp_path.iterdir()) == [store.path_for("k")]


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"key": "k", "reply": "text"}', '{"key": "someone else", "reply": {}}'],
)
def test_reply_store_corrupt_file_is_an_error_naming_the_file(tmp_path: Path, content: str) -> None:
    store = ReplyStore(tmp_path)
    store.path_for("k").write_text(content, encoding="utf-8")

    with pytest.raises(CorruptFileError, match=str(store.path_for("k"))):
        store.get("k")
