"""The eligibility cue file (``index/eligibility.tsv``): regular expressions by kind, data not code.

Kinds: ``self`` (the asker states their situation), ``ask`` (whether a policy applies), ``condition`` (how the
sources introduce conditions), ``exclusion``, ``must``, ``incomplete`` (未读到 / 截断), ``office`` and
``negation``, ``benefit`` (the label of the line saying what a policy gives), ``grant`` (who may use a measure),
``contrast`` (words naming mutually exclusive situations, one group a line, a member's synonyms joined by ``/``),
``then`` (the clause of a condition sentence that grants the benefit: the clauses before it are the conditions)
and ``common`` (two-character words too common to tie a user's clause to a condition); ``both`` (the user asks
to have two benefits together) and ``exclusive`` (a condition allowing only one of them).
Lines are ``kind<TAB>pattern``; ``#`` starts a comment line; a kind may span several lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import InputError

KINDS = ("self", "ask", "condition", "exclusion", "must", "grant", "incomplete", "office", "negation", "contrast",
         "common", "then", "both", "exclusive", "instrument", "covers", "benefit")


@dataclass(frozen=True)
class Cues:
    """One compiled pattern per kind (the kind's lines joined as alternatives)."""

    patterns: dict[str, re.Pattern[str]]
    lines: dict[str, tuple[str, ...]]

    def search(self, kind: str, text: str) -> re.Match[str] | None:
        pattern = self.patterns.get(kind)
        return pattern.search(text) if pattern is not None else None

    def findall(self, kind: str, text: str) -> list[str]:
        pattern = self.patterns.get(kind)
        return [m.group(0) for m in pattern.finditer(text)] if pattern is not None else []

    @classmethod
    def parse(cls, text: str, origin: str = "<cues>") -> Cues:
        """Parse the file's text; a bad line raises :class:`InputError` naming it."""
        parts: dict[str, list[str]] = {}
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            kind, sep, pattern = line.partition("\t")
            if not sep or kind not in KINDS or not pattern.strip():
                raise InputError(f"{origin}:{lineno}: expected 'kind<TAB>pattern' with kind one of {', '.join(KINDS)}")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InputError(f"{origin}:{lineno}: bad regular expression ({exc})") from None
            parts.setdefault(kind, []).append(f"(?:{pattern.strip()})")
        return cls({kind: re.compile("|".join(alts), re.IGNORECASE) for kind, alts in parts.items()},
                   {kind: tuple(a[3:-1] for a in alts) for kind, alts in parts.items()})

    def groups(self, kind: str) -> list[list[str]]:
        """Each line of ``kind`` as its ``|``-separated words (``contrast`` groups)."""
        return [line.split("|") for line in self.lines.get(kind, ())]

    def fullmatch(self, kind: str, text: str) -> bool:
        pattern = self.patterns.get(kind)
        return pattern is not None and pattern.fullmatch(text) is not None

    @classmethod
    def load(cls, path: Path) -> Cues | None:
        """The cues at ``path``, or None when there is no such file (the feature is then off)."""
        try:
            return cls.parse(path.read_text(encoding="utf-8"), str(path))
        except FileNotFoundError:
            return None
