"""Details the sources say they could not read, and the questions that ask for them.

The sources mark what their authors could not read: 条件与标准：具体资助额度和申报条件未读到. A question asking
for such a detail (深圳园区专项资金每年预算有多少) is not answered by the passage's talk of its topic, however
close: it is declined, quoting the line. The details and how a question asks for each live in
``index/unread_details.tsv``.

>>> details = UnreadDetails((Detail("amount", re.compile("预算|多少钱"), re.compile("额度|金额")),))
>>> details.gap("专项资金每年预算有多少？", "设立专项资金。\\n- 条件与标准：具体资助额度和申报条件未读到")
(8, 30)
>>> details.gap("专项资金用来资助什么？", "- 条件与标准：具体资助额度和申报条件未读到") is None
True

A line saying only *the rest* was not read (此后的条件和其余条款在页面中截断) says the passage gives some of it —
unless the rest is what is asked:

>>> details.gap("资助额度是多少？", "此后的额度和其余条款在页面中截断，未读到") is None
True
>>> details.gap("首期之后的预算还有多少？", "此后的额度和其余条款在页面中截断，未读到")
(0, 20)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.answering.data_rows import pattern_rows
from assistant.answering.extractive import UNREAD
from assistant.lang import to_simplified

#: The rest of a detail (此后的条件, 其余条款): the passage states the first part.
_PARTIAL = re.compile(r"其余|其他|其它|此后|其后|余下|剩余|剩下")
_SENTENCE = re.compile(r"[。；！？;!?]")
#: A question for the rest of a detail (第六条后面还有什么条件, what other conditions): a line saying the rest was
#: not read is its answer.
_REST = re.compile(r"后面|后边|之后|此后|其余|其他|其它|剩下|剩余|余下|还有(?:什么|哪些|啥|咩|乜|别的)"
                   # besides what is stated, is more required (除了…以外，还要求…吗)
                   r"|除了|还要求|还需要|还须|还必须"
                   r"|\b(?:other|else|remaining|rest of|further|additional|besides|apart from|in addition to)\b", re.I)


@dataclass(frozen=True)
class Detail:
    """A detail (``amount``), how a question asks for it, and the words of a line saying it was not read."""

    name: str
    asked: re.Pattern[str]
    named: re.Pattern[str]


@dataclass(frozen=True)
class UnreadDetails:
    """The details of ``index/unread_details.tsv``."""

    details: tuple[Detail, ...] = ()

    @classmethod
    def load(cls, path: Path | None) -> UnreadDetails:
        """Read ``name<TAB>question pattern<TAB>line pattern`` rows (``#`` comments); none when ``path`` is
        missing."""
        if path is None or not path.exists():
            return cls()
        rows = pattern_rows(path, ("name", "question pattern", "line pattern"), patterns=2)
        return cls(tuple(Detail(name, asked, named) for (name,), (asked, named) in rows))

    def asked(self, question: str) -> tuple[Detail, ...]:
        """The details ``question`` asks for."""
        text = to_simplified(question)
        return tuple(d for d in self.details if d.asked.search(text))

    def gap(self, question: str, text: str) -> tuple[int, int] | None:
        """The span of the first line of ``text`` saying, in one sentence, that a detail ``question`` asks for
        was not read; None when there is none."""
        asked = self.asked(question)
        if not asked:
            return None
        rest = _REST.search(to_simplified(question)) is not None
        return line_saying(text, _SENTENCE, lambda sentence: (UNREAD.search(sentence) is not None
                                                              and (rest or not _PARTIAL.search(sentence))
                                                              and any(d.named.search(sentence) for d in asked)))


def line_saying(text: str, pieces: re.Pattern[str], says: Callable[[str], bool]) -> tuple[int, int] | None:
    """The span in ``text`` of the first line (its indent left out) one of whose ``pieces`` (Simplified) ``says``
    holds for; None when no line's does.

    >>> line_saying("甲。\\n  乙未读到。", re.compile("。"), lambda piece: "未读到" in piece)
    (5, 10)
    """
    start = 0
    for line in text.split("\n"):
        if any(says(piece) for piece in pieces.split(to_simplified(line))):
            return start + len(line) - len(line.lstrip(" \t")), start + len(line.rstrip())
        start += len(line) + 1
    return None
