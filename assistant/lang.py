"""Languages: detect zh-Hans / zh-Hant / en, and normalise Traditional (Hong Kong) to Simplified.

Indexing and querying both go through :func:`to_simplified`, so a Traditional question meets the Simplified
sources on the same terms. OpenCC's dictionaries ship inside its wheel: nothing is downloaded.

>>> to_simplified("河套合作區深圳園區")
'河套合作区深圳园区'
>>> detect_lang("How large is the zone?")
'en'
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import opencc

Lang = Literal["zh-Hans", "zh-Hant", "en"]
LANGS: tuple[Lang, ...] = ("zh-Hans", "zh-Hant", "en")

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    # hk2s also folds Hong Kong variant characters (綫, 裏, …) that plain t2s leaves alone.
    return opencc.OpenCC("hk2s")


@lru_cache(maxsize=1)
def _s2hk() -> opencc.OpenCC:
    return opencc.OpenCC("s2hk")


#: Hong Kong written forms of question words that OpenCC leaves as they are (甚麼 → 甚么, not 什么).
_HK_WORDS = {"甚么": "什么", "点样": "怎样", "几多": "多少", "边个": "哪个", "边度": "哪里", "乜嘢": "什么"}
_HK_PATTERN = re.compile("|".join(_HK_WORDS))


def to_simplified(text: str) -> str:
    """Traditional (incl. Hong Kong variants and question words) → Simplified; length-preserving."""
    if not _HAN.search(text):
        return text
    return _HK_PATTERN.sub(lambda m: _HK_WORDS[m.group(0)], _t2s().convert(text))


def to_traditional(text: str) -> str:
    """Simplified → Traditional (Hong Kong standard), for answers to zh-Hant questions."""
    return _s2hk().convert(text)


def detect_lang(text: str) -> Lang:
    """Guess the language of a question: English when Latin letters outweigh Han characters."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    if han == 0 or latin > han * 2:
        return "en" if latin else "zh-Hans"
    simplified = to_simplified(text)
    changed = sum(1 for a, b in zip(text, simplified, strict=False) if a != b)
    return "zh-Hant" if changed > 0 else "zh-Hans"


def normalize_for_match(text: str) -> str:
    """Simplified, no whitespace, lower-case: how eval compares fact strings with answers."""
    return _SPACE.sub("", to_simplified(text)).lower()
