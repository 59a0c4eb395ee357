"""The one citation-marker grammar: ``[n]`` after a sentence, ``[1, 2]`` / ``[1，2]`` / ``[1、2]`` for several.

Every module that reads, strips, renumbers or renders markers uses these patterns, so a marker the answerer
writes is one the evaluator strips and the web chat renders.

>>> marker_numbers("面积约3.89平方公里[2]。口岸两个[1][2]，另见[3，1]。")
[2, 1, 3]
>>> strip_markers("面积约3.89平方公里[2]。")
'面积约3.89平方公里。'
"""

from __future__ import annotations

import re
from collections.abc import Callable

_NUMS = r"\d{1,3}(?:\s*[,，、]\s*\d{1,3})*"
#: One marker; group 1 holds its numbers (``"1, 2"``).
MARKER = re.compile(rf"\[({_NUMS})\]")
#: Markers right after a sentence end, as a suffix pattern (used to keep a sentence with its markers).
TRAILING_MARKERS = rf"(?:\s*\[{_NUMS}\])*"
_SEP = re.compile(r"[,，、]")


def numbers_of(match: re.Match[str]) -> list[int]:
    """The numbers of one :data:`MARKER` match."""
    return [int(part.strip()) for part in _SEP.split(match.group(1))]


def marker_numbers(text: str) -> list[int]:
    """Citation numbers in order of first appearance, each once."""
    seen: list[int] = []
    for m in MARKER.finditer(text):
        for n in numbers_of(m):
            if n not in seen:
                seen.append(n)
    return seen


def strip_markers(text: str) -> str:
    """``text`` without its citation markers."""
    return MARKER.sub("", text)


def rewrite_markers(text: str, rewrite: Callable[[list[int]], str]) -> str:
    """Replace each marker by ``rewrite(its numbers)``."""
    return MARKER.sub(lambda m: rewrite(numbers_of(m)), text)
