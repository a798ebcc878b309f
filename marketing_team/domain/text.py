"""Plain-text helpers on markdown the team writes and reads: headings compared loosely."""

from __future__ import annotations

import re

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def normalise(text: str) -> str:
    """Heading text compared loosely: lower case, punctuation folded to single spaces."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def headings(text: str) -> list[str]:
    """Every markdown heading's text, normalised."""
    return [normalise(h) for h in _HEADING.findall(text)]


# ESC-introduced sequences: CSI (ESC [ … final byte), OSC/DCS/SOS/PM/APC strings (ESC ] … up to
# BEL or ST), and two-byte escapes; then the 8-bit C1 forms of the same (CSI 0x9b, OSC 0x9d…).
_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"  # OSC, DCS, SOS, PM, APC strings
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x9d\x90\x98\x9e\x9f].*?(?:\x07|\x9c|$)"  # 8-bit string introducers
    r"|\x1b[@-_]?",  # any other escape
    re.DOTALL)
# C0/C1 controls, and the bidirectional overrides and isolates that reorder what is displayed.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """text with every control sequence and control character removed (newlines and tabs kept).

    Goal text, model output and event data reach people's terminals; an escape sequence in them
    could retitle the window, rewrite the screen or hide lines (OSC, CSI, C1 controls).
    """
    return _CONTROLS.sub("", _SEQUENCES.sub("", text))


def without_controls(text: str) -> str:
    """text with each control character and bidi override removed, one character at a time.

    For text that is already markup: removing a whole escape sequence there could take a tag's
    closing quote with it. Sequences are removed from the source, before it is rendered.
    """
    return _CONTROLS.sub("", text)
