"""What kind of answer a question asks for — a date, an amount of money, a figure, a contact — and
whether a text holds one. Sentences that hold the kind asked for rank higher, and a question whose kind
no quoted sentence holds is weaker evidence (the sources talk about the topic but not the detail asked).

>>> sorted(asked("新措施从哪天开始实施？"))
['date']
>>> holds("自2024年10月1日起施行。", "date"), holds("具体日期未读到。", "date")
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from assistant.answering.output_checks import contact_parts
from assistant.lang import to_simplified

#: How a text states a kind: a pattern it holds, or a test of the whole text (a phone number, not a period
#: such as 2023-2035).
Statement = re.Pattern[str] | Callable[[str], bool]

#: A time of day: a clock time (9:30, 9点 but not 第1点, a list's point), a part of the day, 9 am.
_CLOCK = (r"\d{1,2}[:：]\d{2}|(?<![第\d])\d{1,2}\s*点|上午|下午|中午|晚上|凌晨"
          r"|\d{1,2}(?::\d{2})?\s*[ap]\.?m\b")
#: A figure: 3.89平方公里, 15%; a count in Chinese numerals with its counter (共八章, 三大定位, 四项任务).
_FIGURE = re.compile(r"\d+(?:\.\d+)?\s*(?:%|[\u4e00-\u9fff])"
                     r"|(?<![第之唯统万])[一二两三四五六七八九十百千万]+\s*[章条项个家类大点方面所名人次批期]"
                     r"|[共有][一二两三四五六七八九十百千万]+")
#: "when" asking (when does …, when's, … start when?, since / until when), not opening a clause (when I cross …).
_WHEN = (r"\bwhen(?:'s|\s+(?:is|are|was|were|does|do|did|will|would|can|could|should|shall|has|have|had|may"
         r"|might|must|exactly|roughly|approximately)\b|\s*[?？]|$)|\b(?:since|until|till|by) when\b")
#: A date's parts (2023年10月27日, 9月7日): they say when, not how many.
_DATE_PART = re.compile(r"(?<!\d)(?:19|20)\d{2}年(?:\d{1,2}月(?:\d{1,2}日)?)?|(?<!\d)\d{1,2}月\d{1,2}日")
#: A street address: a number on a road, a building, a floor or room.
_ADDRESS = re.compile(r"\d+号|路\d|大道|大厦|\d+楼|\d+室")

#: kind → (how a question asks for it, how a text states it). Chinese and English; Simplified text.
KINDS: dict[str, tuple[re.Pattern[str], Statement]] = {
    "date": (re.compile(r"哪天|哪一天|几号(?!公告|文|令)|哪年|哪一年|什么时候|何时|几时|日期|时间表|多久|" + _WHEN +
                        r"|what (?:date|day|year)|which (?:date|day|year)|since when"
                        # how long it takes, not how long a bridge is (a length: a figure)
                        r"|how long(?!\s+(?:is|was|are|were)\s+(?:the|this|that|its)\b)", re.I),
             # 2026年第20号公告 is a document number, not a date
             re.compile(r"(?<!\d)\d+\s*年(?!第?\d+号)|\d{1,2}月\d{1,2}日|\d{4}[-/.]\d{1,2}|\d+\s*(?:个月|天|日|周|个工作日|小时|分钟)"
                        r"|[一二两三四五六七八九十]+\s*(?:年|个月|天|周|个工作日|小时|分钟)"  # 三个工作日, 四小时
                        # a weekday or a time of day: "每周五下午" answers "什么时候"
                        r"|(?:周|星期|礼拜)[一二三四五六日天]|每(?:周|月|年|天|日)|工作日"
                        r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|" + _CLOCK, re.I)),
    # The hours of a day: a date ("2023年9月7日开园") does not say when a place opens each day.
    "time": (re.compile(r"几点|开放时间|办公时间|营业时间|上班时间|\b(?:opening|office|business) hours\b"
                        r"|what time", re.I),
             re.compile(_CLOCK + r"|全天|24小时", re.I)),
    # A fund's size is an amount of money (基金规模有多大, how big is the fund).
    "money": (re.compile(r"多少钱|金额|资助多少|补贴多少|额度|费用|手续费|租金|how much (?:money|funding|does)"
                         r"|基金[^，。？?]{0,8}(?:规模|多大|多少)|\bfund(?:'s)? size\b|how (?:big|large) is the fund"
                         r"|\b(?:amounts?|fees?|costs?|rents?|rental)\b", re.I),
              re.compile(r"\d+(?:\.\d+)?\s*(?:亿|万|千)?\s*(?:元|港元|美元|港币|人民币)|(?:HK)?\$\s*\d|\d+(?:\.\d+)?\s*%")),
    "figure": (re.compile(r"多少|多大|多长|多远|多高|几成|比例|什么税率|哪个税率"
                          # how many of a counted thing: 几个, 几项, 几章, 几期 (not 几时, 几号, 几乎)
                          r"|几[个项条家名位种类批所间座栋件款只章页期次届轮]"
                          r"|\bhow (?:many|much|large|big|far|long)\b|what (?:percentage|share|number)"
                          r"|\b(?:what|which)\b[^?.]{0,40}\brates?\b", re.I),
               lambda text: bool(_FIGURE.search(_DATE_PART.sub(" ", text)))),
    # A document's number (财税〔2024〕5号, 署贸函〔2024〕236号, 公告第211号): a title or a date does not answer
    # "文号是多少".
    "docnum": (re.compile(r"文号|发文字号|文件号|文件编号|几号文|(?:document|file|reference|circular) (?:no\b|number)"
                          r"|\bref(?:erence)?\.? no\b", re.I),
               re.compile(r"[〔\[（(]\s*(?:19|20)\d{2}\s*[〕\]）)]\s*\d+\s*号|第\s*\d+\s*号")),
    # How long a policy runs (有效期, until when): the line stating it, not any date of the policy.
    "validity": (re.compile(r"有效期|有效到|到期|执行到|执行至|到什么时候为止|从什么时候到什么时候|由什么时候到什么时候"
                            r"|\b(?:until|till) when\b|valid(?:ity| until| till| through)|expir"
                            r"|\b(?:which|what) (?:time )?period\b|how long (?:does|will|is) (?:it|the [\w -]{1,40}) "
                            r"(?:last|run|valid)", re.I),
                 re.compile(r"有效期|执行至|执行到|到期|(?:至|到)\s*(?:19|20)\d{2}年")),
    # A deadline: a date by which something must be done (截止, 之前); a date alone (施行日期) does not say it.
    "deadline": (re.compile(r"截止|最晚|最迟|deadline|due date|closing date|\bby when\b", re.I),
                 re.compile(r"截止|之前|以前|前(?:提交|申报|申请|完成|报送)|最晚|最迟|deadline|\bby\s+\d", re.I)),
    # A penalty or sanction for breaking a rule; the rule itself does not say it.
    # "fine" alone is mostly "all right" (is that fine?): the noun comes with an article (the fine for …).
    "penalty": (re.compile(r"处罚|惩罚|罚款|罚则|罚多少|怎么罚|会被罚|penalt|\b(?:fined|fines)\b|\b(?:a|the|any) fine\b"
                           r"|sanction", re.I),
                re.compile(r"处罚|惩罚|罚款|罚金|罚则|吊销|移出|取消.{0,6}资格|penalt|\bfined?\b|sanction", re.I)),
    # Contacts: the one asked for. A website does not answer "查询电话", nor a phone number "地址在哪".
    "phone": (re.compile(r"电话|热线|phone|hotline|\bcall\b", re.I), lambda text: bool(contact_parts(text)[2])),
    "email": (re.compile(r"邮箱|电邮|e-?mail", re.I), lambda text: bool(contact_parts(text)[0])),
    "website": (re.compile(r"网址|官网|网站|网页|website|web ?site|\burl\b", re.I),
                lambda text: bool(contact_parts(text)[1])),
    # The Policy Address (施政报告) is a speech, not a place.
    "address": (re.compile(r"地址|在哪办公|办公地点|(?<!policy )\baddress\b", re.I), _ADDRESS),
    # Asked for contact details of any kind: any of them answers.
    "contact": (re.compile(r"联系方式|怎么联系|如何联系|\bcontact\b", re.I),
                lambda text: any(contact_parts(text)) or bool(_ADDRESS.search(text))),
}


#: Kinds that only the detail itself answers: when no quoted sentence states the date, amount, document number,
#: deadline, penalty or contact asked for (the phone number, e-mail, website or address asked), the sources talk
#: about the topic but do not
#: answer (on the tune split, 5 of 5 such questions were unanswerable). A bare figure ("多少") is not one of
#: them: a rule or a list often answers it.
SPECIFIC = ("date", "time", "money", "docnum", "deadline", "penalty", "phone", "email", "website", "address",
            "contact")

#: Kinds that only guide which sentences are quoted (the policy's 有效期 line for "until when"), not weighed as
#: evidence: a question about a policy's validity is answered by the policy, whether or not its line is read.
QUOTING_ONLY = ("validity",)

#: Kinds that name one thing (a document number, a phone number, an address): few sentences state one, and one
#: that does is likely the answer; many sentences state a date or an amount.
IDENTIFIERS = ("docnum", "phone", "email", "website", "address", "contact")


def asked(question: str) -> set[str]:
    """The kinds of answer ``question`` asks for (empty when it asks for none of them)."""
    text = to_simplified(question)
    return {kind for kind, (ask, _) in KINDS.items() if ask.search(text)}


def asks(question: str, kind: str) -> bool:
    """Does ``question`` ask for an answer of ``kind``?"""
    return bool(KINDS[kind][0].search(to_simplified(question)))


def holds(text: str, kind: str) -> bool:
    """Does ``text`` state an answer of ``kind``?"""
    statement = KINDS[kind][1]
    text = to_simplified(text)
    return bool(statement.search(text)) if isinstance(statement, re.Pattern) else statement(text)


#: A year named as a point in time (2030年, by 2030); not one inside a document number (财税〔2024〕5号).
_YEAR = re.compile(r"(?<![\d〔\[(（])((?:19|20)\d{2})(?![\d〕\]）)])")


def years_not_stated(question: str, quoted: str) -> list[str]:
    """The years ``question`` names that the quoted text neither states nor spans (2025 lies within
    "2023年1月1日至2027年12月31日"): asked about another year, the quotes speak of another time. On the tune
    split every answerable question's years were in its quotes, and three unanswerable ones' were not."""
    stated = sorted(int(y) for y in _YEAR.findall(quoted))
    asked_years = dict.fromkeys(_YEAR.findall(to_simplified(question)))
    return [y for y in asked_years if not stated or not stated[0] <= int(y) <= stated[-1]]


#: A place named as where someone is, comes from or goes to (我在前海工作, 从南沙搬过来, moving from Singapore):
#: the question is still about the park. English "in" is left out: "the tax rate in Singapore" asks about it.
_WHERE = re.compile(r"(?:在|从|由|喺|去|到|来自|搬离|离开)\s*$|\b(?:from|via|leaving)\s+(?:the\s+)?$", re.I)


def places_not_stated(question: str, terms: Iterable[str], quoted: str, places: Mapping[str, Sequence[str]]
                       ) -> list[str]:
    """The places elsewhere (``places``: 前海, 横琴, 新加坡 — other zones people compare the park with — each with
    its English names) that ``question`` asks about and the quoted text does not name: asked about another place,
    the quotes speak of the park. Named as where someone is, comes from or goes to (:data:`_WHERE`), a place is
    not what is asked. On the tune split and the team's questions, five of five asking about one were
    unanswerable.

    >>> places = {"前海": ("qianhai",), "新加坡": ("singapore",)}
    >>> places_not_stated("前海的企业所得税优惠是怎么规定的？", ["前海", "企业所得税"], "减按15%征收。", places)
    ['前海']
    >>> places_not_stated("我在前海工作，能享受吗？", ["前海"], "减按15%征收。", places)
    []
    >>> places_not_stated("we're moving from singapore, what's the tax rate?", ["新加坡"], "减按15%征收。", places)
    []
    """
    text, asked = to_simplified(quoted), to_simplified(question)
    named = dict.fromkeys(a for t in terms for a in t.split("|") if a in places)
    return [p for p in named if p not in text and not _where(asked, (p, *places[p]))]


def _where(question: str, names: Sequence[str]) -> bool:
    """Is the place of ``names`` (its Chinese name, then its English ones) named in ``question`` only as where
    someone is, comes from or goes to?"""
    spots = [m.start() for name in names for m in re.finditer(rf"(?<![a-z]){re.escape(name)}", question, re.I)]
    return bool(spots) and all(_WHERE.search(question[:i]) for i in spots)


def load_places(path: Path | None) -> dict[str, tuple[str, ...]]:
    """The places of ``path``: one a line, its Chinese name and, after a tab, its English names (``|``
    separated); ``#`` comments. None when it is missing."""
    if path is None or not path.exists():
        return {}
    places: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, english = line.split("#", 1)[0].strip().partition("\t")
        if name.strip():
            places[to_simplified(name.strip())] = tuple(e.strip() for e in english.split("|") if e.strip())
    return places
