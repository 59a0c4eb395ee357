"""The English lead line of a quoted answer: what the Chinese quotes say, in one English sentence.

The extractive answerer quotes; it does not translate. An English asker still gets the point first: the
figure or date asked for, taken from the best quote (units and terms named with the glossary's English
words), or how many items a list holds. Full English answers come from the LLM path.

>>> english_lead("How large is the zone?", ["合作区共约3.89平方公里。"], {"平方公里": "square kilometres"}.get)
'In short: about 3.89 square kilometres (约3.89平方公里) [1].'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from assistant.answering.answer_type import asks
from assistant.messages import text as message

_WANTS_DATE = re.compile(r"\bwhen\b|\bwhat (?:date|day|year|time)\b|\bwhich (?:date|day|year)\b|\bsince when\b", re.I)
_WANTS_FIGURE = re.compile(r"\bhow (?:large|big|much|many|far|long|high|wide)\b|\bwhat(?:'s| is| was| are)? the "
                           r"(?:[\w-]+ ){0,4}(?:area|size|number|amount|rate|total|percentage|cap|limit|quota)\b"
                           r"|\b(?:what|which) (?:[\w-]+ ){0,3}(?:rate|percentage|amount)\b"  # "what tax rate do …"
                           r"|\bpercent", re.I)  # "what's the corporate income tax rate": the noun may come late
#: A document's number with its issuer's prefix: 财税〔2024〕5号, 署贸函〔2024〕236号, 海关总署2026年第20号.
_NUMBER = re.compile(r"[\u4e00-\u9fff]{0,6}[〔\[]\s*(?:19|20)\d{2}\s*[〕\]]\s*\d+\s*号"
                     r"|[\u4e00-\u9fff]{0,6}(?:(?:19|20)\d{2}年)?第\s*\d+\s*号")
#: Words that may run into a number's prefix: 以海关总署2026年第20号公告 is 海关总署2026年第20号.
_PARTICLES = "以由按经据见即为是和及与的"
_DATE = re.compile(r"(\d{4})年(?:(\d{1,2})月(?:(\d{1,2})日)?)?")
_FIGURE = re.compile(r"(?P<approx>约|近|超过|逾|不超过|最高)?(?P<number>\d+(?:[.,]\d+)*)\s*(?P<more>多|余)?"
                     r"(?P<magnitude>万|亿)?(?P<more2>多|余)?"
                     r"(?P<unit>平方公里|平方米|公里|米|港元|美元|元|%|人次|人|个|项|条|家|年|倍)?")
_YEAR = re.compile(r"(?:19|20)\d\d")
#: The clause stating how long a policy runs: 有效期：2023年1月1日至2027年12月31日, 执行至2027年12月31日.
_VALIDITY = re.compile(r"(?:有效期|执行期|执行至|执行到)[^。；;]*")
#: 万 and 亿 are magnitudes, not units: 500万元 is 5 million yuan, 1.5万人 15,000 people.
_MAGNITUDE = {"万": Decimal(10_000), "亿": Decimal(100_000_000)}
#: English for the units the glossary has no phrase for; counters (项, 条, 个, 家) stay as the number alone.
_UNITS = {"平方米": "square metres", "公里": "km", "米": "metres", "港元": "HK dollars", "美元": "US dollars",
          "元": "yuan", "人次": "visits", "人": "people", "年": "years", "倍": "times"}
_COUNTERS = frozenset("个项条家")
_CLAUSE = re.compile(r"[，、；。,;]")
_APPROX = {"约": "about ", "近": "nearly ", "超过": "over ", "逾": "over ", "不超过": "at most ", "最高": "up to "}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _date(m: re.Match[str]) -> str:
    year, month, day = m.group(1), m.group(2), m.group(3)
    if month and 1 <= int(month) <= 12:
        name = _MONTHS[int(month) - 1]
        return f"{int(day)} {name} {year}" if day else f"{name} {year}"
    return year


def _figure(m: re.Match[str], english: Callable[[str], str | None]) -> str:
    number, magnitude, unit = m["number"], m["magnitude"], m["unit"]
    # 60多家, 1.5万多人, 3000余人: more than the number
    approx = _APPROX.get(m["approx"] or "", "") or ("over " if m["more"] or m["more2"] else "")
    if magnitude:
        number = _magnitude(Decimal(number.replace(",", "")) * _MAGNITUDE[magnitude])
    unit_en = "" if not unit or unit in _COUNTERS else english(unit) or _UNITS.get(unit, unit)
    sep = "" if unit_en in ("", "%") else " "
    return f"{approx}{number}{sep}{unit_en}".strip()


def validity(quote: str) -> str | None:
    """How long the policy ``quote`` speaks of runs, in English, from its 有效期 / 执行至 clause; None without one.

    >>> validity("有效期：2023年1月1日至2027年12月31日。"), validity("财税〔2023〕34号，执行至2027年12月31日。")
    ('1 January 2023 to 31 December 2027', 'until 31 December 2027')
    """
    m = _VALIDITY.search(quote)
    dates = [_date(d) for d in _DATE.finditer(m.group(0))] if m else []
    if not dates:
        return None
    return f"{dates[0]} to {dates[1]}" if len(dates) > 1 else f"until {dates[0]}"


def _figures(text: str, english: Callable[[str], str | None]) -> list[str]:
    """The amounts ``text`` states (a unit, a magnitude, an "about" or a decimal point makes one; a year does
    not), in English with the original in brackets when it reads otherwise (15% needs none)."""
    return list(dict.fromkeys(_with_original(_figure(m, english), m.group(0)) for m in _FIGURE.finditer(text)
                              if (m["unit"] or m["magnitude"] or m["approx"] or "." in m["number"])
                              and not _is_year(m)))


def _named(quote: str, terms: Sequence[str]) -> str:
    """The clauses of ``quote`` that name most of the question's ``terms``, longer (more specific) terms counting
    more: "How big is the Hong Kong Park?" is 香港园区0.87平方公里, not every area the sentence gives."""
    named_by = [(sum(len(t) for t in set(terms) if t in c), c) for c in _CLAUSE.split(quote)]
    most = max((n for n, _ in named_by), default=0)
    return "，".join(c for n, c in named_by if most and n == most)


def _numbers(text: str) -> list[str]:
    return list(dict.fromkeys(m.group().strip().lstrip(_PARTICLES) for m in _NUMBER.finditer(text)))


def _with_original(english: str, original: str) -> str:
    return english if english.replace(" ", "") == original.replace(" ", "") else f"{english} ({original})"


def _is_year(m: re.Match[str]) -> bool:
    """到2035年, 2023年: a point in time, not an amount ("2035 years" would misread it)."""
    return bool(_YEAR.fullmatch(m["number"])) and not m["magnitude"] and m["unit"] in (None, "年")


def _magnitude(value: Decimal) -> str:
    """5000000 → "5 million", 689700 → "689,700", 1200000000 → "1.2 billion"."""
    for size, name in ((Decimal(10) ** 9, "billion"), (Decimal(10) ** 6, "million")):
        if value >= size:
            return f"{(value / size).normalize():f} {name}"
    return f"{value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize():,f}"


#: How the items of a date, figure or document-number lead are joined ("1 March 2026, 1 May 2026"; "15%; 3.89 km").
ITEM_SEPARATOR = {"date": ", ", "figure": "; ", "docnum": ", "}


def asked_for(question: str, quote: str, english: Callable[[str], str | None],
              terms: Sequence[str] = ()) -> tuple[str, list[str]] | None:
    """What ``quote`` says that ``question`` asks for, in English: ``("docnum", numbers)`` for a document's
    number, ``("date", dates)`` for a when-question, ``("figure", amounts)`` (each with the original in
    brackets) for a how-much one, at most three; None for any other question, or when the quote states none
    (``terms``: see :func:`english_lead`).

    >>> asked_for("When does it apply?", "自2023年8月起施行。", {}.get)
    ('date', ['August 2023'])
    >>> asked_for("What is the file number of the notice?", "文号与日期：财税〔2024〕5号，2024年1月19日。", {}.get)
    ('docnum', ['财税〔2024〕5号'])
    >>> asked_for("Which circular number?", "以海关总署2026年第20号公告发布。", {}.get)
    ('docnum', ['海关总署2026年第20号'])
    >>> asked_for("What is the document number of the customs measures?",
    ...           "出台了财税〔2024〕2号（企业所得税）、署贸函〔2024〕236号（海关措施）。", {}.get, ["海关"])
    ('docnum', ['署贸函〔2024〕236号'])
    """
    if asks(question, "docnum"):
        found = _numbers(_named(quote, terms)) or _numbers(quote)
        if found:
            return "docnum", found[:3]
    if _WANTS_DATE.search(question):
        found = list(dict.fromkeys(_date(m) for m in _DATE.finditer(quote)))
        if found:
            return "date", found[:3]
    if _WANTS_FIGURE.search(question):
        found = _figures(_named(quote, terms), english) or _figures(quote, english)
        if found:
            return "figure", found[:3]
    return None


def english_lead(question: str, quotes: Sequence[str], english: Callable[[str], str | None], *,
                 is_list: bool = False, terms: Sequence[str] = ()) -> str | None:
    """One English sentence naming what the quotes answer, or None when there is nothing to name.

    ``quotes`` are the answer's quoted lines, best first (marker ``[1]`` is the first); ``english`` maps a
    Chinese term to the glossary's English phrase for it; ``is_list``: the question asks for several items;
    ``terms``: the question's Chinese terms (its glossary expansion) — figures in a clause that names one of
    most of them come first ("how many researchers": 科研人员1.5万多人 before 研发中心8家).
    """
    if not quotes:
        return None
    if asks(question, "validity"):  # the quote stating it may be a later one (fetched from the policy)
        period = next(((n, p) for n, q in enumerate(quotes, 1) if (p := validity(q))), None)
        if period is not None:
            return message("lead.validity", "en").format(items=period[1], n=period[0])
    asked = asked_for(question, quotes[0], english, terms)
    if asked:
        return message(f"lead.{asked[0]}", "en").format(items=ITEM_SEPARATOR[asked[0]].join(asked[1]))
    if is_list and len(quotes) > 1:
        return message("lead.list", "en").format(count=len(quotes))
    return message("lead.other", "en")
