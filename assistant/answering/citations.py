"""One citation convention: passages numbered ``[1]..[n]`` in the prompt and in answers.

One parser (:func:`parse_markers`), unknown numbers dropped, and ``Answer.citations`` holds only what the
text cites. :func:`verify_claims` checks each cited sentence against its passages: figures (areas, dates,
rates, document numbers) must appear in a cited passage, and the sentence must share enough of its
wording with it; unsupported sentences are dropped or flagged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.data import Citation, Passage
from assistant.lang import to_simplified
from assistant.text.markers import TRAILING_MARKERS, marker_numbers, rewrite_markers, strip_markers

# Figures worth checking: numbers with optional decimals/percent, and document numbers like 国发〔2023〕12号.
_FIGURE = re.compile(r"[〔\[]\d{4}[〕\]]\d+号|\d+(?:[.,]\d+)*%?")
# A sentence runs to its full stop plus the markers right after it ("…平方公里。[1]" cites that sentence).
_CLAIM = re.compile(r".*?(?:[。！？!?；;\n]|\.(?=\s)|$)" + TRAILING_MARKERS, re.S)


def parse_markers(text: str) -> list[int]:
    """Citation numbers in order of first appearance; ``[1, 2]`` and ``[1，2]`` both count.

    >>> parse_markers("面积约3.89平方公里[2]。口岸两个[1][2]，另见[3，1]。")
    [2, 1, 3]
    """
    return marker_numbers(text)


def strip_unknown_markers(text: str, known: int) -> str:
    """Remove markers that point past the ``known`` passages (a model inventing ``[9]``)."""

    def keep(numbers: list[int]) -> str:
        nums = [str(n) for n in numbers if 1 <= n <= known]
        return f"[{', '.join(nums)}]" if nums else ""

    return rewrite_markers(text, keep)


def renumber(text: str, mapping: dict[int, int]) -> str:
    """Rewrite markers with ``mapping`` (prompt numbering → answer numbering)."""
    return rewrite_markers(text, lambda numbers: "".join(f"[{mapping[n]}]" for n in numbers if n in mapping))


def make_citation(n: int, passage: Passage, quote_span: tuple[int, int] | None = None,
                  verified: bool = True) -> Citation:
    """A citation of ``passage``; ``quote_span`` (document offsets) narrows the quote to a sentence."""
    c = passage.chunk
    start, end = quote_span or (c.start, c.end)
    quote = c.text[start - c.start : end - c.start]
    return Citation(
        # The first element of a section path is the document's own heading: the title already says it.
        n=n, chunk_id=c.id, source=c.source, title=c.title, section=" › ".join(c.section[1:]) or c.section_path,
        quote=quote,
        start=start, end=end, passage_text=c.text, doc_no=_opt(c.meta.get("doc_no")),
        date=_opt(c.meta.get("date")), issuer=_opt(c.meta.get("issuer")), url=_opt(c.meta.get("url")),
        verified=verified,
    )


def _opt(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def figures(text: str) -> set[str]:
    """The figures of a text, normalised (``3.89``, ``2035``, ``〔2023〕12号``)."""
    return {f.replace(",", "").replace("[", "〔").replace("]", "〕") for f in _FIGURE.findall(to_simplified(text))}


def without_figures(text: str) -> str:
    """``text`` with its figures blanked out (what is said around them)."""
    return _FIGURE.sub(" ", text)


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one sentence of an answer."""

    sentence: str
    cited: tuple[int, ...]
    supported: bool
    missing_figures: tuple[str, ...] = ()


def verify_claims(text: str, passages: Sequence[Passage]) -> list[ClaimCheck]:
    """Check every sentence that carries markers against the passages it cites (1-based numbers).

    A sentence is supported when each of its figures appears in one of its cited passages. Sentences
    without markers are reported with ``cited=()`` and ``supported`` True only if they state no figures.
    """
    checks = []
    for raw in (m.group(0) for m in _CLAIM.finditer(text) if m.group(0)):
        sentence = raw.strip()
        if not sentence:
            continue
        cited = tuple(n for n in parse_markers(sentence) if 1 <= n <= len(passages))
        body = strip_markers(sentence)
        figs = figures(body) - {str(n) for n in cited}
        source = to_simplified("".join(passages[n - 1].text for n in cited))
        source_figs = figures(source)
        missing = tuple(sorted(f for f in figs if f not in source_figs and f not in source))
        supported = not missing if cited else not figs
        checks.append(ClaimCheck(sentence, cited, supported=supported, missing_figures=missing))
    return checks
