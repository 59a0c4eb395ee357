"""Citations that survive small models: each answer sentence is attributed to the passage that supports it.

Small models leave markers out, put them at the start of a line, cover several sentences with one, or cite
by section number instead. So the model's markers are only a hint: every sentence is scored against every
passage of the prompt and gets the best one, if any supports it:

- every figure of the sentence (number, percentage, date, document number) must appear in the passage —
  a figure found in no passage makes the sentence unsupported;
- its wording must overlap the passage's (Chinese character pairs, Latin words), or, when an embedder is
  given, its meaning must be close (multilingual e5 cosine; this is what carries an English sentence to a
  Chinese passage);
- a passage the model marked next to the sentence gets a bonus.

:class:`SentenceStream` cuts streamed text into sentences as soon as each is complete (its full stop and any
markers right after it), so checked sentences can be shown while the model still writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answering.citations import figures, without_figures
from assistant.lang import to_simplified
from assistant.text.markers import MARKER, marker_numbers, strip_markers

#: A sentence's wording overlap (share of its character pairs / words found in the passage) that supports it.
MIN_OVERLAP = 0.45
#: The e5 cosine between a sentence and a passage that supports it without wording overlap (cross-lingual).
MIN_SIMILARITY = 0.83
#: A sentence anchored by figures (all found in the passage) needs only this share of MIN_OVERLAP / the
#: similarity margin below MIN_SIMILARITY: a figure copied exactly is strong evidence, wording across
#: languages is weak.
ANCHORED_SHARE = 1 / 3
ANCHORED_MARGIN = 0.04
#: Added to the score of a passage the model itself marked on the sentence.
HINT_BONUS = 0.1

_MARKERS_AFTER = r"(?:[ \t]*\[\d{1,3}(?:\s*[,，、]\s*\d{1,3})*\])*"
# A sentence: to its full stop, the markers right after it and the line break that may follow; or to a line
# break (markers at the start of the next line belong to the next sentence).
_SENTENCE = re.compile(r"[^\n]*?(?:(?:[。！？!?]|\.(?=\s))" + _MARKERS_AFTER + r"[ \t]*\n?|\n)")
# A full stop that ends no sentence: after a list item's ordinal alone ("1. ", "b) " has none) or an abbreviation.
_NOT_AN_END = re.compile(r"^\s*(?:[-*•]\s*)?\(?(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,4})\.[ \t]*$"
                         r"|(?:^|[\s(（])(?:No|Nos|Art|Sec|Para|e\.g|i\.e|vs|cf|approx|Mr|Ms|Dr)\.[ \t]*$")
_LEADING_MARKERS = re.compile(r"^\s*(?:\[\d{1,3}(?:\s*[,，、]\s*\d{1,3})*\]\s*)+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z][a-z\-]{2,}|\d+(?:\.\d+)?", re.I)
_STOP = frozenset("the and for with that this from are was were has have its into than which will can".split())


class SentenceStream:
    """Feed streamed text; get back each sentence once it is complete (with its trailing markers)."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        out: list[str] = []
        start = pos = 0
        for m in _SENTENCE.finditer(self._buffer):
            if m.end() >= len(self._buffer) or m.start() != pos:  # markers may still follow: wait for more
                break
            pos = m.end()
            if _NOT_AN_END.search(self._buffer[start:pos]):  # "1. " of a list item, "No. 1": not a sentence end
                continue
            out.append(self._buffer[start:pos])
            start = pos
        self._buffer = self._buffer[start:]
        return [s for s in out if s.strip()]

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        return [rest] if rest.strip() else []


@dataclass(frozen=True)
class Block:
    """One numbered block of the prompt: the text the model saw and the whole passage it comes from."""

    text: str
    passage_text: str


@dataclass(frozen=True)
class Attribution:
    """The verdict on one sentence: its text without markers, the block (0-based) that supports it, why not."""

    sentence: str
    block: int | None
    score: float
    reason: str = ""


def _pairs(text: str) -> set[str]:
    han = "".join(_CJK.findall(text))
    return {han[i : i + 2] for i in range(len(han) - 1)}


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP}


def overlap(sentence: str, passage: str) -> float:
    """Share of the sentence's Chinese character pairs (or, for Latin text, words) found in the passage."""
    s, p = to_simplified(sentence), to_simplified(passage)
    pairs = _pairs(s)
    han = len(_CJK.findall(s))
    if len(pairs) >= 3 and han >= 0.3 * len(re.sub(r"[\W\d_]", "", s)):  # Chinese text: character pairs
        return len(pairs & _pairs(p)) / len(pairs)
    words = _words(s)
    # Too little to go on ("PWNED.", "Rules:") supports nothing, whatever the passage holds.
    return len(words & _words(p)) / len(words) if len(words) >= 2 else 0.0


def _bare_figures(sentence: str) -> bool:
    """Is the sentence nothing but figures, with at most a unit or a word around them ("约1,500人", "15%")?"""
    rest = without_figures(strip_markers(sentence))
    return len(_CJK.findall(rest)) <= 2 and len(re.findall(r"[A-Za-z]+", rest)) <= 1


def split_markers(raw: str) -> tuple[str, list[int]]:
    """A sentence without its markers, and the numbers it was marked with (leading or trailing)."""
    return strip_markers(raw).strip(), marker_numbers(raw)


class Attributor:
    """Attributes sentences to the prompt's blocks. ``embed`` (texts → unit vectors) enables the meaning test."""

    def __init__(self, blocks: Sequence[Block], embed: Callable[[list[str]], np.ndarray] | None = None, *,
                 expand: Callable[[str], Sequence[str]] | None = None,
                 min_overlap: float = MIN_OVERLAP, min_similarity: float = MIN_SIMILARITY) -> None:
        self.blocks = list(blocks)
        self.embed = embed
        self.expand = expand
        self.min_overlap = min_overlap
        self.min_similarity = min_similarity
        self._block_vectors: np.ndarray | None = None
        self._figures = [figures(b.passage_text) | figures(b.text) for b in self.blocks]
        self._sources = [to_simplified(b.passage_text + "\n" + b.text) for b in self.blocks]

    def _similarities(self, sentence: str) -> list[float]:
        if self.embed is None or not self.blocks:
            return [0.0] * len(self.blocks)
        if self._block_vectors is None:
            self._block_vectors = self.embed([b.text for b in self.blocks])
        vector = self.embed([sentence])[0]
        return [float(x) for x in self._block_vectors @ vector]

    def attribute(self, sentence: str, hints: Sequence[int] = ()) -> Attribution:
        """The block that best supports ``sentence`` (``hints``: 1-based numbers the model marked it with)."""
        figs = figures(sentence) - {str(h) for h in hints}
        eligible = [i for i in range(len(self.blocks))
                    if all(f in self._figures[i] or f in self._sources[i] for f in figs)]
        if not eligible:
            return Attribution(sentence, None, 0.0, f"figures not in any passage: {', '.join(sorted(figs))}")
        anchored = any(len(f.replace(".", "")) >= 2 for f in figs)
        if anchored and _bare_figures(sentence):  # "1,500 人." — the figure copied exactly is all there is to check
            return Attribution(sentence, next((i for i in eligible if i + 1 in hints), eligible[0]), 1.0)
        min_overlap = self.min_overlap * (ANCHORED_SHARE if anchored else 1.0)
        min_similarity = self.min_similarity - (ANCHORED_MARGIN if anchored else 0.0)
        lexical = {i: overlap(sentence, self._sources[i]) for i in eligible}
        # An English sentence against Chinese passages: the glossary's Chinese terms for its words count too.
        terms = [t for t in (self.expand(sentence) if self.expand and not _CJK.search(sentence) else ()) if t]
        if len(terms) >= 2:
            for i in eligible:
                lexical[i] = max(lexical[i], sum(t in self._sources[i] for t in terms) / len(terms))
        meaning = self._similarities(sentence) if max(lexical.values()) < self.min_overlap else None
        best, best_score = None, 0.0
        for i in eligible:
            ok_lex = lexical[i] >= min_overlap
            ok_sim = meaning is not None and meaning[i] >= min_similarity
            if not (ok_lex or ok_sim):
                continue
            score = lexical[i] + (meaning[i] - self.min_similarity if meaning is not None else 0.0)
            score += HINT_BONUS if (i + 1) in hints else 0.0
            if best is None or score > best_score:
                best, best_score = i, score
        if best is None:
            top = max(lexical.values())
            return Attribution(sentence, None, top, f"no passage supports it (overlap {top:.2f})")
        return Attribution(sentence, best, best_score)


_ORDINAL = re.compile(r"^\s*(?:[-*•]\s*)?(?:\(?(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,4})[.)、]|[（(]\d{1,3}[）)]"
                      r"|[一二三四五六七八九十]{1,3}、)\s*")


def without_ordinal(text: str) -> str:
    """A list item's text without its ordinal ("1. ", "(2)", "三、"): the ordinal is no figure to check."""
    return _ORDINAL.sub("", text, count=1)


def marker_free(text: str) -> str:
    """``text`` with markers and leading markers removed (what a sentence says)."""
    return _LEADING_MARKERS.sub("", MARKER.sub("", text)).strip()
