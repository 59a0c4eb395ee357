"""What a question says it is *not* asking about: "不是问谁印发的", "除了半小时科研圈，…还有哪些",
"Not the 2025/2035 targets - I mean …", "other than the tax exemption, …".

The words of such a clause name what the asker already knows or does not want, so they must not steer
retrieval, quote choice or the answerability verdict: a sentence about who *issued* the plan answers
"哪个部委牵头起草的？不是问谁印发的" worst, though it matches its words best.

>>> without_excluded("这个规划是哪个部委牵头起草的？不是问谁印发的")
('这个规划是哪个部委牵头起草的？', ('谁印发的',))
>>> without_excluded("Not the 2025/2035 targets - I mean the two overall objectives. What are they?")
('- I mean the two overall objectives. What are they?', ('the 2025/2035 targets',))
>>> without_excluded("哪些货物不是免税的？")[1]
()
"""

from __future__ import annotations

import re

#: Where an excluded clause ends: a clause mark, a dash, or the English turn back to what is asked.
_END = r"(?=[，,。.；;：:！!？?\n]|\s[-–—]|[-–—]\s|\bbut\b|\bi mean\b|\binstead\b|$)"

#: Cues that open a clause naming what is not asked (Simplified; Cantonese forms are rewritten to these by
#: ``index/colloquial.tsv``). A plain negation (不是免税的, not allowed) is part of what is asked and is
#: not one: the Chinese cues need a verb of asking (不是问, 不是指), the English "not" a noun phrase
#: opening a sentence ("Not the targets", "I'm not asking about the tax").
_CUES = re.compile(
    r"(?:不是|并非)(?:要问|想问|想知道|问|指|说)(?:的是)?"
    r"|除了|除开"
    r"|(?:^|(?<=[.;!?,]\s)|(?<=[.;!?,]))\s*not\s+(?=(?:the|a|an|about)\b|\d)"
    r"|\bnot\s+(?:asking|talking)\s+about\b"
    r"|\b(?:other than|apart from|aside from|besides|excluding|except for)\b",
    re.I,
)
#: The clause: up to its end, or to the 以外/之外 that closes a 除了 clause.
_SPAN = re.compile(r"\s*(.{2,}?)\s*(?:以外|之外|" + _END + ")", re.I | re.S)


def without_excluded(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` without the clauses it says it is not asking about, and those clauses (cue words dropped).
    Nothing is removed when that would leave no question."""
    kept: list[str] = []
    excluded: list[str] = []
    pos = 0
    for cue in _CUES.finditer(text):
        if cue.start() < pos:
            continue
        span = _SPAN.match(text, cue.end())
        if span is None:
            continue
        clause = span.group(1).strip()
        kept.append(text[pos:cue.start()])
        excluded.append(clause)
        pos = span.end()
    if not excluded:
        return text, ()
    kept.append(text[pos:])
    rest = "".join(kept)
    if not re.search(r"[\w\u3400-\u9fff]", rest):
        return text, ()
    return rest, tuple(excluded)
