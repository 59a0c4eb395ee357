"""Whom a question asks a rule for, when the quoted rule speaks of others: a Macau resident asking whether the
talent endorsement for mainland staff applies to them, a sole proprietor asking about the corporate tax rate of
the park's companies. The sources do not say, and the answer must not imply they do: the question is declined,
naming the group. A group the quotes name (境外 covers foreign nationals, 受养人 dependants) is answered.

Only a question asking whether something applies counts (能不能办, can I get: the eligibility cue file's ``ask``
cue): "我是学生，想了解园区面积" names a group but asks about the park. The groups, how a question names each
and how the sources would, live in ``index/audiences.tsv``.

>>> groups = Audiences((Audience("澳门居民", "Macau residents", re.compile("澳门"), re.compile("澳门|港澳")),),
...                    applies=lambda q: "能不能" in q)
>>> [a.name for a in groups.not_stated("我是澳门居民，能不能办人才签注？", "内地人才如果受雇于合作区的机构…")]
['澳门居民']
>>> groups.not_stated("我是澳门居民，能不能申请补贴？", "对在大湾区工作的境外（含港澳台）高端人才给予补贴")
[]
>>> groups.not_stated("澳门居民多吗？", "内地人才如果受雇于合作区的机构…")
[]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.answering.data_rows import pattern_rows
from assistant.lang import to_simplified


@dataclass(frozen=True)
class Audience:
    """A group (its Chinese and English names), how a question names it and how a source would."""

    name: str
    english: str
    asked: re.Pattern[str]
    named: re.Pattern[str]


@dataclass(frozen=True)
class Audiences:
    """The groups of ``index/audiences.tsv`` and how a question asks whether a rule applies."""

    rows: tuple[Audience, ...] = ()
    applies: Callable[[str], bool] = lambda question: False

    @classmethod
    def load(cls, path: Path | None, applies: Callable[[str], bool]) -> Audiences:
        """Read ``name<TAB>English name<TAB>question pattern<TAB>source pattern`` rows (``#`` comments); none
        when ``path`` is missing."""
        if path is None or not path.exists():
            return cls(applies=applies)
        rows = pattern_rows(path, ("name", "English name", "question pattern", "source pattern"), patterns=2)
        return cls(tuple(Audience(name, english, asked, named) for (name, english), (asked, named) in rows),
                   applies)

    def not_stated(self, question: str, quoted: str) -> list[Audience]:
        """The groups ``question`` asks a rule for that ``quoted`` does not name (none unless it asks whether
        something applies)."""
        asked = to_simplified(question).lower()
        if not self.rows or not self.applies(asked):
            return []
        text = to_simplified(quoted)
        return [a for a in self.rows if a.asked.search(asked) and not a.named.search(text)]
