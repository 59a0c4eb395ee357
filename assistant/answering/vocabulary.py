"""The vocabulary a question is read with, from the data files under ``index/``: the bilingual glossary
(``glossary.tsv``: English phrases and Chinese synonym keys → the sources' Chinese terms) and the spoken and
Cantonese forms of written Mandarin (``colloquial.tsv``). :class:`assistant.answering.query.QueryParser`
applies both.

>>> Glossary.load(None).expand("shenzhen park")
[]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.knowledge.lexical import STOPWORDS
from assistant.lang import to_simplified

_LATIN_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_LATIN_TOKEN = re.compile(r"[a-z]+")

#: Endings an English word takes in a question but not in the glossary (declare, declared, declaration).
_ENDINGS = ("ations", "ation", "ions", "ion", "es", "ed", "s", "e")
_INFLECTED = r"(?:e|es|ed|d|s|ation|ations|ion|ions|ing)?"


def _word_pattern(word: str) -> str:
    """A glossary word as a regex for its inflected forms: its stem (at least five letters; shorter words
    take only a plural) and one ending. ``declaration`` matches declare, declared, declarations."""
    if not word.isalpha():
        return re.escape(word) + "s?"
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 5:
            return re.escape(word[: -len(ending)]) + _INFLECTED
    return re.escape(word) + (_INFLECTED if len(word) >= 5 else "s?")


_CJK = re.compile(r"[\u3400-\u9fff]")


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    """English phrases match as whole words, each in its inflected forms; Chinese keys (synonyms) as substrings."""
    if _CJK.search(phrase):
        return re.compile(re.escape(phrase))
    words = re.split(r"[\s-]+", phrase)
    body = r"[\s-]+".join(_word_pattern(w) for w in words)
    if not re.search(r"[a-z]", phrase, re.I):  # a year (2035): in 到2035年 the Chinese already says it
        return re.compile(r"\b" + body + r"\b")
    # Bounded by what is not a Latin letter or digit, not by \b: in 做AI大模型 the Chinese characters are
    # word characters to \b, and a user writing Chinese often says the English term (AI, visa, WiFi).
    return re.compile(r"(?<![a-z0-9])" + body + r"(?![a-z0-9])", re.I)


@dataclass(frozen=True)
class Glossary:
    """English phrase (or Chinese synonym key) → Chinese terms, for query expansion."""

    entries: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = ()
    phrases: tuple[str, ...] = ()  # the entries' phrases as written, in the same order

    @classmethod
    def load(cls, path: Path | None) -> Glossary:
        """Read ``english<TAB>中文1|中文2`` lines (``#`` comments). Longer phrases match first."""
        if path is None or not path.exists():
            return cls()
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].rstrip()
            if "\t" not in line:
                continue
            en, zh = line.split("\t", 1)
            terms = tuple(t.strip() for t in zh.split("|") if t.strip())
            if en.strip() and terms:
                rows.append((en.strip().lower(), terms))
        rows.sort(key=lambda r: -len(r[0]))
        return cls(tuple((_phrase_pattern(en), zh) for en, zh in rows), tuple(en for en, _ in rows))

    def english(self, term: str) -> str | None:
        """The English phrase whose first Chinese term is ``term`` (平方公里 → square kilometres), if any."""
        names = [p for p, (pattern, zh) in zip(self.phrases, self.entries, strict=False)
                 if zh[0] == term and not _is_chinese_key(pattern)]
        # A phrase that says another one and more (shenzhen park area) is a user's wording of it, not its name.
        names = [p for p in names if not any(o != p and re.search(rf"(?<!\w){re.escape(o)}(?!\w)", p) for o in names)]
        # the fullest wording (not km2); of equally long ones, the first the file lists (shenzhen park, not
        # shenzhen side: a user's wording added later)
        return max(names, key=lambda p: (len(p), -names.index(p))) if names else None

    def names_in(self, text: str, limit: int = 10, min_chars: int = 3) -> list[tuple[str, str]]:
        """The Chinese terms of ``text`` with an English phrase in the glossary (``(国务院, state council)``), in
        order of first appearance, at most ``limit``: terms of ``min_chars`` characters or more (names and
        terms of art; shorter ones are mostly verbs and words like 印发), each found outside the longer terms
        listed (皇岗口岸 only inside 皇岗口岸片区 is not listed)."""
        text = to_simplified(text)
        found: dict[str, str] = {}
        for pattern, zh in self.entries:
            term = zh[0]
            if term in found or len(term) < min_chars or _is_chinese_key(pattern) or term not in text:
                continue
            if (english := self.english(term)) and not english.isdigit():
                found[term] = english
        rest, kept = text, []
        for term in sorted(found, key=len, reverse=True):
            if term in rest:
                kept.append(term)
                rest = rest.replace(term, "\n")
        return [(t, found[t]) for t in sorted(kept, key=text.index)[:limit]]

    def expand(self, text: str) -> list[str]:
        """Chinese terms for the English phrases in ``text`` (each phrase consumed once, longest first)."""
        return self.expand_groups(text)[0]

    def expand_groups(self, text: str) -> tuple[list[str], list[tuple[str, ...]]]:
        """:meth:`expand`'s terms, and the groups of equivalent wordings they came in: an English phrase's
        Chinese terms (``口岸|跨境陆路口岸``), a Chinese key with its synonyms (``面积|平方公里``)."""
        terms, groups, _ = self._expand(text)
        return terms, groups

    def unmatched(self, text: str, fillers: Collection[str] = ()) -> float:
        """The share of the English content words of ``text`` that no glossary phrase covers (France, hiking):
        what an English question asks about that the sources' vocabulary cannot reach (ask it of
        :meth:`reaching`, so that a phrase whose terms no source uses covers nothing)."""
        words = [w for w in _LATIN_WORD.findall(text.lower()) if w not in STOPWORDS and w not in fillers]
        return len(self.unmatched_words(text, fillers)) / len(words) if words else 0.0

    def unmatched_words(self, text: str, fillers: Collection[str] = ()) -> list[str]:
        """The English content words of ``text`` (lower case, in order) that no glossary phrase covers."""
        return [w for w in _LATIN_WORD.findall(self._expand(text)[2].lower()) if w not in STOPWORDS
                and w not in fillers]

    def translated(self, text: str) -> set[str]:
        """The Latin words of ``text`` (lower case) that a glossary phrase puts into Chinese terms: in 做AI大模型,
        ``ai`` (人工智能). Asked of :meth:`reaching`, into terms the sources use."""
        rest = self._expand(text)[2].lower()
        return set(_LATIN_TOKEN.findall(text.lower())) - set(_LATIN_TOKEN.findall(rest))

    def reaching(self, known: Callable[[str], bool]) -> Glossary:
        """The entries that reach the sources: Chinese keys, and English phrases with a term ``known`` says the
        corpus uses (GDP → GDP, rent → 租金 reach nothing: the sources cannot speak to them)."""
        kept = [(e, p) for e, p in zip(self.entries, self.phrases, strict=True)
                if _is_chinese_key(e[0]) or any(known(t.lower()) for t in e[1])]
        return Glossary(tuple(e for e, _ in kept), tuple(p for _, p in kept))

    def _expand(self, text: str) -> tuple[list[str], list[tuple[str, ...]], str]:
        terms: list[str] = []
        groups: list[tuple[str, ...]] = []
        rest = text
        for pattern, zh in self.entries:
            if pattern.search(rest):
                rest = pattern.sub(" ", rest)
                terms.extend(t for t in zh if t not in terms)
                groups.append((_literal(pattern), *zh) if _is_chinese_key(pattern) else zh)
        # Chinese synonym keys also apply to the terms an English phrase brought in (area → 面积 → 平方公里).
        joined = " ".join(terms)
        for pattern, zh in self.entries:
            if _is_chinese_key(pattern) and pattern.search(joined):
                terms.extend(t for t in zh if t not in terms)
                groups.append((_literal(pattern), *zh))
        return terms, groups, rest


def _is_chinese_key(pattern: re.Pattern[str]) -> bool:
    return bool(_CJK.search(pattern.pattern))


def _literal(pattern: re.Pattern[str]) -> str:
    return re.sub(r"\\(.)", r"\1", pattern.pattern)


def with_equivalents(terms: Mapping[str, float], groups: Sequence[tuple[str, ...]]) -> dict[str, float]:
    """Terms keyed with their equivalent wordings (``跨境|口岸``): a term from one wording of a glossary
    group is also found where another wording of that group is. Weights stay as they are."""
    out: dict[str, float] = {}
    for term, weight in terms.items():
        alternatives = [term]
        for group in groups:
            home = [a for a in group if term in a and len(term) > 1]  # 多 of 多大 is no wording of it
            if home and len(group) > 1:
                alternatives.extend(a for a in group if a not in home and a not in alternatives)
        out["|".join(alternatives)] = weight
    return out


@dataclass(frozen=True)
class Colloquial:
    """Spoken and Cantonese forms rewritten to written Mandarin, and fillers that name no topic
    (``index/colloquial.tsv``)."""

    rewrites: tuple[tuple[str, str], ...] = ()
    fillers: frozenset[str] = frozenset()

    @classmethod
    def load(cls, path: Path | None) -> Colloquial:
        """Read ``form<TAB>replacement`` lines (an empty replacement marks a filler; ``#`` comments)."""
        if path is None or not path.exists():
            return cls()
        rewrites, fillers = [], set()
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or "\t" not in line:
                continue
            form, replacement = (part.strip() for part in line.split("\t", 1))
            if form and replacement:
                rewrites.append((form, replacement))
            elif form:
                fillers.add(form)
        rewrites.sort(key=lambda r: -len(r[0]))
        return cls(tuple(rewrites), frozenset(fillers))

    def rewrite(self, text: str) -> str:
        """``text`` (Simplified) with its spoken forms in written Mandarin, longest form first."""
        for form, replacement in self.rewrites:
            if form in text:
                text = text.replace(form, replacement)
        return text
