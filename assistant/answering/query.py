"""The question, normalised once: :class:`Query` holds every form the answering steps need.

A question is folded to Simplified (Traditional and Hong Kong forms), English phrases are expanded to the
Chinese terms of the bilingual glossary (``index/glossary.tsv``), and its content terms are weighted by how
specific they are in the corpus. Retrieval, answerability, sentence choice and declining all read the same
:class:`Query`; nothing re-derives it.

>>> # parser = QueryParser(Glossary.load(Path("index/glossary.tsv")), reader)
>>> # q = parser.parse("How large is the zone?")
>>> # q.lang, q.expansion, q.terms
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from assistant.answering.exclusion import without_excluded
from assistant.answering.vocabulary import Colloquial, Glossary, with_equivalents
from assistant.knowledge.lexical import tokenize
from assistant.lang import Lang, detect_lang, to_simplified


class TermStats(Protocol):
    """What term weighting needs of the corpus (see :class:`assistant.knowledge.reader.IndexReader`)."""

    def idf(self, term: str) -> float: ...

    def known(self, term: str) -> bool: ...

    def vocabulary(self) -> list[str]: ...


def expand_query(question: str, glossary: Glossary) -> tuple[str, list[str]]:
    """The question folded to Simplified, with glossary terms appended; and those terms."""
    simplified = to_simplified(question)
    expansion = glossary.expand(simplified)
    return (f"{simplified} {' '.join(expansion)}" if expansion else simplified), expansion


def is_mostly_latin(text: str) -> bool:
    return len(re.findall(r"[A-Za-z]", text)) > 2 * len(re.findall(r"[\u3400-\u9fff]", text))


@dataclass(frozen=True)
class Query:
    """A question in every form the answering steps use, built once by :class:`QueryParser`.

    ``original`` is what was asked; ``standalone`` the same made self-contained from the conversation (a
    follow-up joined to its antecedent); ``simplified`` the standalone form folded to Simplified; ``text``
    that in written Mandarin plus the glossary ``expansion`` (what the retrievers search with); ``terms``
    its content terms with their weights, each keyed with its equivalent wordings (``面积|平方公里``: found
    when any is); ``lang`` the language to answer in.
    """

    original: str
    standalone: str
    simplified: str
    lang: Lang
    text: str
    expansion: tuple[str, ...] = ()
    terms: Mapping[str, float] = field(default_factory=dict)
    unmatched: float = 0.0  # share of an English question's content words the glossary does not cover
    #: Clauses the question says it is not asking about (不是问谁印发的 → 谁印发的; see :mod:`exclusion`):
    #: left out of ``text`` and ``terms``.
    excluded: tuple[str, ...] = ()
    #: ``simplified`` in written Mandarin without the ``excluded`` clauses: what the question asks for
    #: (its answer kind, its years, whether it wants a list). Empty: ``simplified``.
    focus: str = ""

    @property
    def asked(self) -> str:
        """The words that say what is asked: :attr:`focus`, or the whole simplified question."""
        return self.focus or self.simplified

    @property
    def latin(self) -> bool:
        """Is the question mostly in Latin letters (an English question, searched also by its terms)?"""
        return is_mostly_latin(self.standalone)


class QueryParser:
    """Builds :class:`Query` objects: glossary expansion and term weights from the corpus statistics."""

    def __init__(self, glossary: Glossary, stats: TermStats, colloquial: Colloquial | None = None,
                 correct: Callable[[str], str | None] | None = None) -> None:
        self.glossary = glossary
        self.stats = stats
        self.colloquial = colloquial or Colloquial()
        self.correct = correct  # an unknown word → the corpus word it was meant to be (typos.Homophones)

    @functools.cached_property
    def _reachable(self) -> Glossary:
        """The glossary entries that reach the sources (see :meth:`Glossary.reaching`), worked out once."""
        return self.glossary.reaching(self._used)

    @functools.cached_property
    def _longer(self) -> dict[str, tuple[str, ...]]:
        """Each corpus word that ends longer corpus words (所得税: 个人所得税, 企业所得税), with them."""
        words = set(self.stats.vocabulary())
        longer: dict[str, list[str]] = {}
        for w in words:
            for k in range(2, len(w)):
                if w[-k:] in words:
                    longer.setdefault(w[-k:], []).append(w)
        return {w: tuple(sorted(ws)) for w, ws in longer.items()}

    def missing_words(self, question: str) -> list[str]:
        """The words of ``question`` the vocabulary does not reach: English words that no glossary phrase puts
        into a word of the sources, and Chinese words the sources never use once spoken forms are rewritten —
        what editors add to ``index/glossary.tsv`` and ``index/colloquial.tsv`` (``scripts/vocabulary_gaps.py``)."""
        simplified = self.colloquial.rewrite(to_simplified(question))
        english = self._reachable.unmatched_words(simplified, self.colloquial.fillers)
        chinese = [t for t in self.parse(question).terms  # the question's own words, not the glossary's
                   if len(t) > 1 and _CJK_WORD.match(t) and t in simplified and not self.stats.known(t)]
        return list(dict.fromkeys([*english, *chinese]))

    def _used(self, term: str) -> bool:
        """Do the sources use ``term``: as one word, or every word of it (国家发展改革委: 国家, 发展, 改革委)?"""
        words = tokenize(term)
        return self.stats.known(term) or (bool(words) and all(self.stats.known(w) for w in words))

    def _corrected(self, text: str) -> str:
        """``text`` with each word the corpus does not know that ``correct`` resolves (a typo: 申亲) replaced by
        the word meant (申请), so that search, glossary and term weights all see the corpus' word."""
        if self.correct is None:
            return text
        for token in dict.fromkeys(tokenize(text)):
            if not self.stats.known(token):
                meant = self.correct(token)
                if meant:
                    text = text.replace(token, meant)
        return text

    def parse(self, question: str, *, lang: Lang | None = None, standalone: str | None = None) -> Query:
        """The :class:`Query` for ``question``; ``standalone`` is its self-contained form, when different."""
        language: Lang = lang if lang is not None else detect_lang(question)
        standalone = standalone or question
        simplified, excluded = without_excluded(self._corrected(self.colloquial.rewrite(to_simplified(standalone))))
        expansion, groups = self.glossary.expand_groups(simplified)
        text = f"{simplified} {' '.join(expansion)}" if expansion else simplified
        # An English word said in a Chinese question (AI) counts through its Chinese terms, as in English.
        translated = {w for w in self._reachable.translated(simplified) if not self.stats.known(w)}
        terms = question_terms(text, self.stats.idf, self.stats.known, drop_unknown_latin=language == "en",
                               keep=set(tokenize(" ".join(expansion))), drop=self.colloquial.fillers | translated)
        terms = with_rivals(with_equivalents(terms, groups), self._longer)
        return Query(original=question, standalone=standalone, simplified=to_simplified(standalone), lang=language,
                     text=text, expansion=tuple(expansion), terms=terms,
                     unmatched=self._reachable.unmatched(simplified, self.colloquial.fillers),
                     excluded=excluded, focus=simplified)


class Term(str):
    """A question's term, with the longer words ending in it that name something else than the question's own
    (个人所得税 for 所得税, when the question asks about 企业所得税): the term said only inside one of them is
    not said (see :func:`said`)."""

    rivals: tuple[str, ...] = ()

    def __new__(cls, text: str, rivals: tuple[str, ...] = ()) -> Term:
        term = super().__new__(cls, text)
        term.rivals = rivals
        return term


def with_rivals(terms: Mapping[str, float], longer: Mapping[str, tuple[str, ...]]) -> dict[str, float]:
    """``terms`` with each word that ends a longer term of the question (所得税 of 企业所得税) keyed as a
    :class:`Term` whose rivals are the corpus' other words ending in it (个人所得税)."""
    out: dict[str, float] = {}
    said_words = {a for t in terms for a in t.split("|")}
    for t, w in terms.items():
        # the question's words ending in it (a key's ``|`` wordings are alternatives, not one word)
        compounds = [c for c in said_words if c != t and c.endswith(t)] if "|" not in t else []
        # not a rival: a word holding one of the question's compounds, or one whose other part the question
        # says too (个人 and 所得税: 个人所得税)
        rivals = tuple(r for r in longer.get(t, ()) if compounds and r[: -len(t)] not in said_words
                       and not any(c == r or c in r or r in c for c in compounds))
        out[Term(t, rivals) if rivals else t] = w
    return out


def said(term: str, text: str) -> bool:
    """Does ``text`` say ``term`` (one of its ``|`` wordings), not only inside one of its rivals?"""
    for rival in getattr(term, "rivals", ()):
        text = text.replace(rival, "\x00")
    return any(a in text for a in term.split("|"))


IdfFn = Callable[[str], float]
_LATIN = re.compile(r"^[a-z]+$")
#: Light nouns that frame a question (什么管理模式, 哪些措施) more than they name its topic: half weight.
LIGHT_NOUNS = frozenset("模式 方式 办法 措施 政策 情况 内容 要求 规定 问题 工作 事项 方面 做法 形式 机制".split())
_QUESTION_WORD = re.compile(r"^(哪些|哪个|哪几|哪|几|多少|什么|怎么|怎样|如何)")
DIGITS = re.compile(r"^\d")
#: How much more a word the corpus never uses weighs than its IDF says. Such words are often what an off-topic
#: question is about (前海, 停车场), but also plain words the sources put otherwise (区别, 长度, 那批). Chosen
#: with the answerability model refitted for each value, by its cross-validated balanced accuracy on the tune
#: split: 1.0 → 0.838, 1.25 and 1.5 → 0.860, 1.75 and 2.0 (the earlier value) → 0.848.
UNSEEN_BOOST = 1.5
#: A counter after how many (多少条, 几项, 多少家) names no topic: the sources count the same things in other
#: counters (30项措施 answers 多少条措施). Units of time (几年, 多少天) are what is asked, and stay.
_COUNTER = re.compile(r"(多少|几)[个条项家名位种类批所间座栋件款只]")
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]+$")
#: The end of a phrase: punctuation, a final particle, or the end of the text.
_PHRASE_END = r"(?:[？?。，,！!；;\s]|[呢啊呀吗嘛]|$)"
#: Ordinals (第二, 二个, 3项) point into a list; they name no topic.
_ORDINAL = re.compile(r"^(第[一二两三四五六七八九十\d]+[个项条点种类]?|[一二两三四五六七八九十\d]+[个项条点种类])$")


_SPLIT_VERB = re.compile(r"^([\u4e00-\u9fff])(?:过|了|完|好|个)([\u4e00-\u9fff]{1,2})$")


def _joined_verb(token: str, known: Callable[[str], bool]) -> str:
    """A separable verb said with an aspect word inside (备过案, 交了税, 办完证) as the corpus writes it
    (备案, 交税, 办证), when the corpus knows that form and not the spoken one; else ``token``."""
    m = _SPLIT_VERB.match(token)
    return m.group(1) + m.group(2) if m and known(m.group(1) + m.group(2)) else token


def question_terms(query_text: str, idf: IdfFn, known: Callable[[str], bool], *,
                   drop_unknown_latin: bool = False, keep: Collection[str] = (),
                   drop: Collection[str] = ()) -> dict[str, float]:
    """Content terms of the (expanded, Simplified) query with their weights: IDF, adjusted by kind.

    - Words in ``drop`` (spoken fillers: 到底, 那个) name no topic and are left out, with their pieces.
    - With ``drop_unknown_latin`` (English questions), Latin words the corpus never uses are dropped: the
      question is matched through its glossary terms. In a Chinese question they stay (GDP is a topic).
    - Question words glued to a term lose the question word (``哪三大`` → ``三大``), and the counter after
      how many is dropped (``多少条措施``: 条).
    - A compound whose parts are also terms counts half (``管理模式`` with ``管理``, ``模式``), or not at all
      when the corpus never uses it (``重点任务`` counts through ``重点``, ``任务``) — unless the corpus uses
      none of its parts either (``东南西北``): then it counts once, as itself.
    - A word the corpus never uses counts :data:`UNSEEN_BOOST` times: it is often what the question is about,
      and no source has it — unless it is a spoken form of a corpus word (备过案 → 备案).
    - Single characters weigh less (mostly grammar: 定, 给), and so do light nouns (模式, 措施: they frame
      the question); figures weigh more (2035, 3.89: they pin the answer).
    """
    tokens = list(dict.fromkeys(tokenize(_COUNTER.sub(r"\1", query_text))))
    # jieba's search mode also gives the pieces of a word (能不能 → 不能): a filler's pieces go with it, unless
    # the question says them elsewhere.
    fillers = [t for t in tokens if t in drop]
    outside = query_text.lower()
    for f in fillers:
        outside = outside.replace(f, " ")
    cleaned: list[str] = []
    counted: set[str] = set()
    for t in tokens:
        if t not in outside and any(t in f for f in fillers):
            continue
        m = _QUESTION_WORD.match(t)
        if m:
            rest = t[m.end():]
            # 一共分几章？: the thing counted, said as its counter, ends the phrase; it is what is asked.
            if len(rest) == 1 and re.search(re.escape(t) + _PHRASE_END, query_text):
                counted.add(rest)
            elif len(rest) < 2:
                continue
            t = rest
        if not known(t):
            t = _joined_verb(t, known)
        if t not in cleaned and t not in drop:
            cleaned.append(t)
    # An unseen word made of unseen words (东南西北 → 东南, 南西, 西北) is one thing the sources never say:
    # it counts once, as itself, not once per overlapping piece.
    pieces = {t: [o for o in cleaned if o != t and o in t] for t in cleaned}
    whole = {t for t, ps in pieces.items() if len(t) > 2 and len(ps) >= 2 and not known(t)
             and not any(known(p) for p in ps)}
    within = {p for t in whole for p in pieces[t]}
    terms: dict[str, float] = {}
    for t in cleaned:
        if t in within:
            continue
        if drop_unknown_latin and _LATIN.match(t) and not known(t) and t not in keep:
            continue
        if _ORDINAL.match(t):  # the list is the topic; the whole list is quoted, the item within it
            continue
        parts = 0 if t in whole else len(pieces[t])
        if not known(t) and len(t) > 2 and parts >= 2:
            continue
        weight = idf(t) * (0.5 if parts >= 2 else 1.0)  # 管理模式 also counts through 管理 and 模式
        if not known(t) and not DIGITS.match(t):
            weight *= UNSEEN_BOOST  # the corpus never uses it (GDP, 注册资本): a telling term, and missing
        if len(t) == 1 and not t.isdigit() and t not in counted:
            weight *= 0.3
        elif t in LIGHT_NOUNS:
            weight *= 0.5
        elif DIGITS.match(t):
            weight *= 1.5
        terms[t] = weight
    return terms
