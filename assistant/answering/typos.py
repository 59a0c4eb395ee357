"""Homophone typos, as a pinyin input method makes them: 申亲 for 申请, 时侯 for 时候.

A question word that neither the corpus nor the general dictionary knows, and that sounds like exactly one
word the corpus uses (toneless pinyin, front and back nasals and z/zh, c/ch, s/sh alike, the common
input-method slips), is read as that word. A word either of them knows is left alone: 知道 is never
"corrected" to 指导.

>>> Homophones(["申请", "时候"], dictionary_word=lambda w: False).correct("申亲")
'申请'
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

from pypinyin import lazy_pinyin

_HAN = re.compile(r"[\u4e00-\u9fff]{2,4}")


def sound(word: str) -> tuple[str, ...]:
    """The word's toneless pinyin with the usual slips folded (ing→in, eng→en, ang→an, zh→z, ch→c, sh→s)."""
    return tuple(re.sub(r"^([zcs])h", r"\1", re.sub(r"([iea])ng$", r"\1n", p)) for p in lazy_pinyin(word))


class Homophones:
    """Corrects a question's unknown words to the one corpus word that sounds the same (see the module doc).

    The table of the corpus' words by sound is built on first use (a second or so for a large corpus), so
    questions without an unknown word never pay for it."""

    def __init__(self, vocabulary: Iterable[str] | Callable[[], Iterable[str]],
                 dictionary_word: Callable[[str], bool]) -> None:
        self._vocabulary = vocabulary
        self._dictionary_word = dictionary_word
        self._by_sound: dict[tuple[str, ...], list[str]] | None = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Build the table now (warm-up), not on the first question with an unknown word."""
        self._table()

    def _table(self) -> dict[tuple[str, ...], list[str]]:
        with self._lock:
            if self._by_sound is None:
                words = self._vocabulary() if callable(self._vocabulary) else self._vocabulary
                table: dict[tuple[str, ...], list[str]] = {}
                for w in words:
                    if _HAN.fullmatch(w):
                        table.setdefault(sound(w), []).append(w)
                self._by_sound = table
            return self._by_sound

    def correct(self, word: str) -> str | None:
        """The corpus word ``word`` was meant to be, when it is an unknown word with exactly one homophone."""
        if not _HAN.fullmatch(word) or self._dictionary_word(word):
            return None
        found = self._table().get(sound(word), [])
        return found[0] if len(found) == 1 and found[0] != word else None
