"""The offline provider: no model; deterministic structured drafts so the whole team runs anywhere."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

from pydantic import BaseModel

from marketing_team.domain.errors import LLMError
from marketing_team.domain.text import headings, normalise
from marketing_team.llm.protocol import Message, Reply, RequestMeter, SystemBlock, Usage
from marketing_team.llm.tags import tag_content

OFFLINE_NOTICE = "> Draft by the offline provider: no model wrote this text."
_UPSTREAM = re.compile(r'<upstream skill="([^"]+)" document="([^"]+)">\n(.*?)\n</upstream>', re.DOTALL)
_TITLE = re.compile(r"^# (.+)$", re.MULTILINE)
_MIN_WORDS = re.compile(r'<required_sections min_words="(\d+)">')

_ANGLES = (
    "what the audience needs to believe before acting",
    "the single most important change to make first",
    "the evidence that would prove this works",
    "the risk that would make this fail and how to contain it",
    "how it connects to the goal's target metric",
    "the owner, the effort and the expected impact",
)


def _first_lines(text: str, count: int) -> list[str]:
    lines = [ln.strip("#>-* ").strip() for ln in text.splitlines()]
    return [ln for ln in lines if len(ln) > 12][:count]


def _briefs(instructions: str) -> dict[str, str]:
    """Each `## Section` of the skill's instructions with the paragraph that describes it."""
    found: dict[str, str] = {}
    for chunk in re.split(r"^## ", instructions, flags=re.MULTILINE)[1:]:
        title, _, rest = chunk.partition("\n")
        found[title.strip().lower()] = " ".join(rest.split("\n\n")[0].split())
    return found


def _section(name: str, goal: str, context: list[str], upstream: list[tuple[str, str]],
             words_wanted: int, seed: int, brief: str = "") -> str:
    out = [f"## {name}", "",
           f"For the goal \"{goal}\", this section sets out {name.lower()} as a working draft."]
    if brief:
        out.append(f"A model-written version would hold: {brief}")
    if context:
        out.append(f"It builds on the product context: {context[seed % len(context)]}.")
    if upstream:
        skill, line = upstream[seed % len(upstream)]
        out.append(f"It takes the {skill} deliverable as input (\"{line[:120]}\").")
    out.append("")
    index = 0
    while len(" ".join(out).split()) < words_wanted:
        angle = _ANGLES[(seed + index) % len(_ANGLES)]
        out.append(f"- {name}, item {index + 1}: decide {angle}; write it down with a number, "
                   f"a deadline and the person accountable, then check it against the goal.")
        index += 1
    return "\n".join(out)


def draft(messages: list[Message], system_blocks: list[SystemBlock]) -> str:
    """A deterministic deliverable with every required section, built from the prompt's blocks."""
    prompt = messages[-1].content
    task = tag_content(prompt, "task") or ""
    goal_line = next((ln[len("Goal: "):] for ln in task.splitlines() if ln.startswith("Goal: ")), task[:120])
    sections = [s for s in (tag_content(prompt, "required_sections") or "").splitlines() if s.strip()]
    found = _MIN_WORDS.search(prompt)
    min_words = int(found.group(1)) if found else 150
    context_block = next((b.text for b in system_blocks if b.text.startswith("<product_context>")), "")
    context = _first_lines(tag_content(context_block, "product_context") or "", 6)
    upstream = [(m.group(1), (_first_lines(m.group(3), 3) or [Path(m.group(2)).name])[-1])
                for m in _UPSTREAM.finditer(prompt)]
    seed = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16)
    per_section = max(40, min_words // max(1, len(sections)) + 15)
    # The skill's own H1, never the first line of the system prompt (our headless rules)
    heading = _TITLE.search(system_blocks[0].text) if system_blocks else None
    title = heading.group(1) if heading else "Deliverable"
    parts = [OFFLINE_NOTICE, "", f"# {title.strip('# ')}: {goal_line}", ""]
    if upstream:
        parts += ["Built on the upstream deliverables: " + ", ".join(s for s, _ in upstream) + ".", ""]
    if tag_content(prompt, "revision_feedback"):
        parts += ["_Revised to address the review feedback._", ""]
    briefs = _briefs(system_blocks[0].text) if system_blocks else {}
    for offset, name in enumerate(sections or ["Deliverable"]):
        parts += [_section(name, goal_line, context, upstream, per_section, seed + offset,
                           briefs.get(name.lower(), "")), ""]
    return "\n".join(parts)


def _structured(schema: type[BaseModel], prompt: str) -> BaseModel:
    name = schema.__name__
    if name == "PlanProposal":
        return schema.model_validate_json(tag_content(prompt, "rule_plan") or "{}")
    if name == "CategoryChoice":
        return schema.model_validate({"category": "strategic", "reason": "offline default"})
    if name == "ReviewReply":
        deliverable = tag_content(prompt, "deliverable") or ""
        wanted = [s for s in (tag_content(prompt, "required_sections") or "").splitlines() if s.strip()]
        found = " | ".join(headings(deliverable))
        missing = [s for s in wanted if normalise(s) not in found]
        score = 4.0 if missing else 8.0
        return schema.model_validate({
            "verdict": "REVISE" if missing else "APPROVE",
            "findings": [{"severity": "major", "section": s, "description": f"Missing section {s}."}
                         for s in missing],
            "revision_requests": [f"Add the {s} section." for s in missing],
            "scores": {k: score for k in ("completeness", "clarity", "actionability", "brand_alignment",
                                          "data_driven", "technical_accuracy", "creativity")},
            "summary": "Structural review by the offline provider (no model).",
        })
    raise LLMError(f"the offline provider cannot produce {name}")


class OfflineProvider:
    """Writes drafts from the prompt's blocks and answers structured requests by rule; costs $0."""

    name = "offline"

    def complete(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                 max_tokens: int, schema: type[BaseModel] | None = None,
                 meter: RequestMeter | None = None) -> Reply:
        """Produce a deterministic reply for the same inputs (free: nothing to meter)."""
        started = time.monotonic()
        if schema is not None:
            parsed = _structured(schema, messages[-1].content)
            text = json.dumps(parsed.model_dump(mode="json"))
        else:
            parsed = None
            text = draft(messages, system_blocks)
        words_in = sum(len(b.text.split()) for b in system_blocks) + sum(len(m.content.split()) for m in messages)
        usage = Usage(input_tokens=words_in, output_tokens=len(text.split()))
        return Reply(text=text, stop_reason="end_turn", usage=usage, model="offline",
                     duration_s=time.monotonic() - started, parsed=parsed)
