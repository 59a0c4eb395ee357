"""Answer kinds: what a question asks for, whether a sentence states it, how that steers quoting, and the
decline when no quote states the date, amount or contact asked for, or speaks of the year asked about."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import make_fake_index

from assistant.answering.answer_type import asked, asks, holds, load_places, places_not_stated, years_not_stated
from assistant.answering.assistant import Assistant
from assistant.answering.extractive import select_quotes
from assistant.data import Answer, Chunk, Passage
from assistant.messages import text as message
from assistant.testing import FakeEmbedder
from assistant.wiring import build_assistant


@pytest.mark.parametrize(("question", "kinds"), [
    ("新措施从哪天开始实施？", {"date"}),
    ("When was the outline published?", {"date"}),
    ("項目最多資助多少錢？", {"money", "figure"}),
    ("河套發展署有冇查詢電話？", {"phone"}),
    ("官网网址是什么？", {"website"}),
    ("What is the park's e-mail address?", {"email", "address"}),
    ("怎么联系河套发展署？", {"contact"}),
    ("How many ports are there?", {"figure"}),
    ("是海关总署几号公告？", set()),  # a document's number, not a day
    ("几号开始实施？", {"date"}),
    ("跨境巴士几点发车？", {"time"}),
    ("条例一共分几章？", {"figure"}),  # how many of a counted thing
    ("几乎所有企业都能享受吗？", set()),  # 几乎: almost
    ("What are the opening hours of the branch?", {"time"}),
    ("深圳园区由哪两个片区组成？", set()),
    ("What did the 2025 Policy Address say about clinical trials?", set()),  # a speech, not a place
    ("What tax rate do companies pay?", {"figure"}),  # a rate is a figure
    ("企业所得税按什么税率征收？", {"figure"}),
    ("What is the address of the office?", {"address"}),
    ("港人港税 文件 文号", {"docnum"}),  # a document's number
    ("「科匯通」嘅正式文件號係乜？", {"docnum"}),
    ("What is the file number of the customs notice?", {"docnum"}),
    ("专项资金今年的申报截止日期是哪天？", {"deadline", "date"}),  # a deadline: a date alone does not say it
    ("白名单机构违规了会怎么处罚？", {"penalty"}),
    ("What's the penalty if we break the rules?", {"penalty"}),
    ("Is the delay due to customs?", set()),  # "due to" asks for no deadline
])
def test_asked(question: str, kinds: set[str]) -> None:
    assert asked(question) == kinds


def test_holds() -> None:
    assert holds("自2024年10月1日起施行。", "date") and not holds("具体日期未读到。", "date")
    assert holds("经皇岗口岸过关，单程约45分钟。", "date")  # how long: a duration in minutes answers it
    # "什么时候 / when" is also answered by a weekday, a time of day, a clock time or a span in words.
    for when in ("每周五下午出借焊台。", "须提前三个工作日预约。", "每次最长四小时。", "Open on Fridays.", "9:30 am"):
        assert holds(when, "date"), when
    assert not holds("一线管理，第一条规定五项措施。", "date") and not holds("见第1点。", "date")
    # A year inside a document number (2026年第20号公告) dates nothing; a span of years does.
    assert not holds("以2026年第20号公告发布。", "date") and holds("有效期3年。", "date")
    assert holds("每个项目最高资助500万元。", "money") and not holds("给予资金支持。", "money")
    assert holds("共28方面任务、79条事项。", "figure") and not holds("1. 深圳园区", "figure")  # a list label
    # A date says when, not how many: "2023年10月起开行" holds no figure; a count beside a date does.
    assert not holds("2023年10月27日起开行跨境巴士。", "figure") and not holds("9月7日开园。", "figure")
    assert holds("截至2023年9月，科研人员3000余人。", "figure") and holds("有效期3年。", "figure")
    assert holds("官网为 htcz.sz.gov.cn。", "contact") and not holds("请联系河套发展署。", "contact")


def test_a_deadline_and_a_penalty_are_stated_only_by_one() -> None:
    assert holds("须于每年3月31日前提交申报材料。", "deadline") and not holds("自2024年1月1日起施行。", "deadline")
    assert holds("违规的，移出白名单。", "penalty") and holds("处以罚款。", "penalty")
    assert not holds("已纳入“白名单”备案管理的机构可以集中申报。", "penalty")


def test_a_time_of_day_is_not_a_date() -> None:
    assert holds("深圳开出时间为10:00、12:30。", "time") and holds("每周五下午开放。", "time")
    assert not holds("2023年9月7日开园。", "time") and not holds("见第3点。", "time")


BUS = """# 测试园区政策清单

## 交通

### P99 测试跨境巴士

- 首条专线：2099年10月在测试园区启动，往返测试科学园。
  - 试行期每天3班。深圳开出时间为10:00、12:30、15:00，香港开出时间为11:15、13:45、16:15。
  - 园区白名单人员可免费预约乘坐，单程约45分钟。
- 2099年8月5日：首班由测试园区开往香港的测试跨境巴士发车。
- 测试跨境巴士由测试园区管理部门协调运营，白名单科研机构人员可预约乘坐。
"""


def test_the_time_asked_for_is_quoted_from_the_same_policy_though_its_words_are_elsewhere(tmp_path: Path) -> None:
    source = tmp_path / "bus.md"
    source.write_text(BUS, encoding="utf-8")
    assistant = build_assistant(make_fake_index(tmp_path / "index", source, chunk_max_tokens=60),
                                embedder=FakeEmbedder())
    answer = assistant.answer("测试跨境巴士几点发车？")
    assert answer.answerable and any("10:00" in c.quote for c in answer.citations), answer.text


def test_hours_no_quote_states_are_declined_though_a_date_is_quoted(tmp_path: Path) -> None:
    assistant = _over(tmp_path)
    hours = assistant.answer("《河套测试促进条例》规定的园区测试服务几点开放？")
    _declined_for(hours, "time")


def test_a_contact_holds_only_the_kind_it_is() -> None:
    """A website does not answer "查询电话", nor a period such as 2023-2035 a phone question."""
    site, phone, mail = "官网为 htcz.sz.gov.cn。", "咨询电话 0755-8888 1234。", "邮箱 info@htcz.example.org。"
    assert holds(site, "website") and not holds(site, "phone") and not holds(site, "email")
    assert holds(phone, "phone") and not holds(phone, "website")
    assert holds(mail, "email") and not holds(mail, "phone")
    assert not holds("规划期为2023-2035年。", "phone")
    assert holds("地址：福田区福华路88号。", "address") and not holds(site, "address")


def test_a_document_number_is_one_with_its_year_or_its_serial() -> None:
    for numbered in ("文号与日期：财税〔2024〕5号，2024年1月19日。", "署贸函[2024]236号", "常委会公告第211号。"):
        assert holds(numbered, "docnum"), numbered
    assert not holds("2024年1月19日印发。", "docnum") and not holds("三项试点均未读到文号。", "docnum")


def test_a_sentence_stating_the_identifier_asked_for_outranks_one_with_more_of_the_words() -> None:
    """A document number (a phone number, an address) is in few sentences, and one that has it is likely the
    answer; a date or a figure is in many, most about something else, and gains less."""
    texts = ("海关科研货物便利措施的文件已经印发，2024年执行。", "文号：署贸函〔2024〕236号。")
    heading = ("海关科研货物便利措施",)
    passages = [Passage(Chunk(Chunk.make_id("a.md", t), "a.md", t, 100 * i, 100 * i + len(t), heading, {}), 1.0)
                for i, t in enumerate(texts)]
    terms = {"海关": 1.0, "科研货物": 1.0, "文件": 1.0, "文号": 1.0}
    number, _ = select_quotes("海关科研货物措施的文件文号？", passages, terms, max_quotes=1,
                              kinds={"docnum"}, kind_bonus=0.1)
    assert number[0].passage_index == 1
    # The same two sentences, a date asked: the one with more of the question's words stays first.
    dated, _ = select_quotes("海关科研货物措施的文件哪年执行？", passages, terms, max_quotes=1,
                             kinds={"date"}, kind_bonus=0.1)
    assert dated[0].passage_index == 0


def test_a_sentence_stating_the_kind_asked_for_ranks_first() -> None:
    texts = ("条例对科创合作作出规定。", "条例已经施行，自2024年10月1日起。")
    passages = [Passage(Chunk(Chunk.make_id("a.md", t), "a.md", t, 100 * i, 100 * i + len(t), ("条例",), {}), 1.0)
                for i, t in enumerate(texts)]
    terms = {"条例": 1.0}
    plain, _ = select_quotes("条例什么时候施行？", passages, terms, max_quotes=1)
    dated, _ = select_quotes("条例什么时候施行？", passages, terms, max_quotes=1, kinds={"date"}, kind_bonus=0.1)
    assert plain[0].passage_index == 0  # on terms alone the earlier passage wins the tie
    assert dated[0].passage_index == 1  # the one that states a date, when a date is asked for


DOC = """---
title: 测试条例汇编
---

# 测试条例汇编

## 一、法规

### 《河套测试促进条例》

- 制定机关：《河套测试促进条例》由深圳市人大常委会审议通过，对园区科研测试服务作出规定。
- 主要内容：《河套测试促进条例》规定园区为科研机构提供测试服务支持。
- 实施进展：2025年已有12家科研机构使用园区测试服务。
"""


def _over(tmp_path: Path, text: str = DOC) -> Assistant:
    """The assistant over an index of ``text`` alone (the fake embedder)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "law.md"
    source.write_text(text, encoding="utf-8")
    return build_assistant(make_fake_index(tmp_path / "index", source), embedder=FakeEmbedder())


def _declined_for(answer: Answer, kind: str, lang: str = "zh-Hans") -> None:
    """``answer`` declines, and its first line says the sources do not give the detail of ``kind``."""
    assert not answer.answerable and answer.meta["missing_detail"] == kind, answer.text
    assert answer.text.splitlines()[0] == message("decline.detail", lang).format(detail=message(f"kind.{kind}", lang))


@pytest.mark.parametrize("lang", ["zh-Hans", "zh-Hant", "en"])
def test_a_date_no_quote_states_is_declined_and_the_decline_names_it(tmp_path: Path, lang: str) -> None:
    assistant = _over(tmp_path)
    who = assistant.answer("《河套测试促进条例》由哪个机关审议通过？")
    assert who.answerable and "深圳市人大常委会" in who.text  # the topic is covered …
    question = {"zh-Hans": "《河套测试促进条例》是哪天审议通过的？",
                "zh-Hant": "《河套測試促進條例》是哪天審議通過的？",
                "en": "《河套测试促进条例》 when was it passed by 深圳市人大常委会?"}[lang]
    when = assistant.answer(question, lang=lang)  # … but not the date asked for
    assert not when.answerable and when.mode == "decline" and when.meta["missing_detail"] == "date"
    lead = when.text.splitlines()[0]
    assert lead == message("decline.detail", lang).format(detail=message("kind.date", lang))
    assert {"zh-Hans": "所问的日期", "zh-Hant": "所問的日期", "en": "the date asked for"}[lang] in lead


def test_a_phone_number_no_quote_states_is_declined_though_the_website_is_quoted(tmp_path: Path) -> None:
    source = tmp_path / "office.md"
    source.write_text("# 办理渠道\n\n## 联系信息\n\n- 河套测试服务中心：官网为 test.htcz.example.cn，刊载服务指南。\n",
                      encoding="utf-8")
    assistant = build_assistant(make_fake_index(tmp_path / "index", source), embedder=FakeEmbedder())
    site = assistant.answer("河套测试服务中心的官网是什么？")
    assert site.answerable and "test.htcz.example.cn" in site.text
    phone = assistant.answer("河套測試服務中心有冇查詢電話？", lang="zh-Hant")
    _declined_for(phone, "phone", "zh-Hant")


@pytest.mark.parametrize(("question", "quoted", "missing"), [
    ("你估计到2030年会有多少家？", "2025年年中：园区有8家。", ["2030"]),
    ("我2025年来园区工作，能享受吗？", "有效期：2023年1月1日至2027年12月31日。", []),  # within the span
    ("财税〔2024〕5号规定了什么？", "财税〔2024〕5号规定……", []),  # a document number, not a year asked
    ("2024年的GDP是多少？", "园区面积约3.89平方公里。", ["2024"]),
    ("Will the rate still apply after 2030?", "减按15%征收，自2024年1月1日起。", ["2030"]),
])
def test_years_not_stated(question: str, quoted: str, missing: list[str]) -> None:
    assert years_not_stated(question, quoted) == missing


def test_a_year_no_quote_speaks_of_is_declined(tmp_path: Path) -> None:
    assistant = _over(tmp_path)
    stated = assistant.answer("2025年有多少家科研机构使用园区测试服务？")
    assert stated.answerable and "12家" in stated.text
    other = assistant.answer("2030年会有多少家科研机构使用园区测试服务？")
    _declined_for(other, "year")


def test_a_document_number_no_quote_states_is_declined_and_a_line_saying_it_was_not_read_is_quoted(
        tmp_path: Path) -> None:
    assistant = _over(tmp_path)
    number = assistant.answer("《河套测试促进条例》的文号是什么？")
    _declined_for(number, "docnum")
    # Where the sources say they could not read it, that line is quoted rather than "not given".
    assistant = _over(tmp_path / "unread", DOC + "- 发文情况：《河套测试促进条例》的正式文号未读到。\n")
    unread = assistant.answer("《河套测试促进条例》的文号是什么？")
    assert not unread.answerable and unread.meta["missing_detail"] == "unread"
    assert any("正式文号未读到" in c.quote for c in unread.citations)


def test_a_question_about_another_zone_no_quote_names_is_declined_and_the_decline_says_so(tmp_path: Path) -> None:
    source = tmp_path / "law.md"
    source.write_text(DOC, encoding="utf-8")
    settings = make_fake_index(tmp_path / "index", source)
    assert "前海" in load_places(settings.index_dir / "elsewhere.txt")  # the shipped list, read by the wiring
    assistant = build_assistant(settings, embedder=FakeEmbedder())
    park = assistant.answer("《河套测试促进条例》由哪个机关审议通过？")
    assert park.answerable
    other = assistant.answer("前海的《河套测试促进条例》由哪个机关审议通过？")
    assert not other.answerable and other.meta["missing_detail"] == "place"
    assert other.text.splitlines()[0] == message("decline.place", "zh-Hans").format(place="前海")  # named
    hant = assistant.answer("前海嘅《河套測試促進條例》由邊個機關審議通過？", lang="zh-Hant")
    assert hant.text.splitlines()[0] == message("decline.place", "zh-Hant").format(place="前海")
    english = assistant.answer("Which body passed the 《河套测试促进条例》 in Qianhai?", lang="en")
    assert english.text.splitlines()[0] == message("decline.place", "en").format(place="Qianhai")
    # Named as where the asker works, the place is not what is asked.
    here = assistant.answer("我在前海工作，《河套测试促进条例》由哪个机关审议通过？")
    assert here.meta.get("missing_detail") != "place"


@pytest.mark.parametrize(("question", "terms", "missing"), [
    ("What is the corporate tax rate in Singapore?", ["企业所得税", "新加坡"], ["新加坡"]),  # "in": about it
    ("We are moving from Singapore. What is the tax rate?", ["新加坡", "税率"], []),
    ("we moved here from hong kong; how does one-north compare?", ["新加坡"], ["新加坡"]),  # "from" names HK
    ("横琴和河套比，哪边个税更划算？", ["横琴", "河套"], ["横琴"]),
    ("横琴和河套都有优惠吗？", ["横琴", "河套"], []),  # a quote names it: the sources speak of it
])
def test_places_not_stated(question: str, terms: list[str], missing: list[str]) -> None:
    quoted = "横琴、河套均有优惠。" if "都有" in question else "减按15%征收。"
    places = {"前海": ("qianhai",), "横琴": ("hengqin",), "新加坡": ("singapore", "one-north")}
    assert places_not_stated(question, terms, quoted, places) == missing


def test_the_places_file_is_read_with_its_comments(tmp_path: Path) -> None:
    assert load_places(tmp_path / "none.txt") == {}
    path = tmp_path / "places.txt"
    path.write_text("# 其他园区\n前海\tQianhai\n橫琴  # 繁体也可\n新加坡\tsingapore | one-north\n\n", encoding="utf-8")
    assert load_places(path) == {"前海": ("Qianhai",), "横琴": (), "新加坡": ("singapore", "one-north")}


@pytest.mark.parametrize(("question", "kind"), [("违反《河套测试促进条例》会受到什么处罚？", "penalty"),
                                                ("《河套测试促进条例》测试服务的申请截止日期是哪天？", "deadline")])
def test_a_penalty_or_deadline_no_quote_states_is_declined_and_the_decline_names_it(tmp_path: Path, question: str,
                                                                                     kind: str) -> None:
    assistant = _over(tmp_path)
    _declined_for(assistant.answer(question), kind)


@pytest.mark.parametrize(("question", "money"), [
    ("What's the monthly rent at the branch?", True),
    ("Is there a fee for the bus?", True),
    ("Until when does the current subsidy run?", False),  # cur-rent is no rent
    ("Are the two parks' rules different?", False),
    ("Who can I call about the white list?", False),
])
def test_english_money_words_are_whole_words(question: str, money: bool) -> None:
    assert asks(question, "money") is money
    assert not asks("Can I recall the filing?", "phone")


@pytest.mark.parametrize(("question", "penalty"), [
    ("What's the fine for carrying samples without a permit?", True),
    ("Will we be fined?", True),
    ("Is it fine to hand-carry reagents through the channel?", False),  # all right, not a penalty
])
def test_a_fine_is_asked_as_a_noun(question: str, penalty: bool) -> None:
    assert asks(question, "penalty") is penalty


@pytest.mark.parametrize(("question", "date"), [
    ("When does the regulation take effect?", True),
    ("when's the deadline for the fund?", True),
    ("the shuttle started when?", True),
    ("Until when does the tax break last?", True),
    ("What packaging rules apply when hand-carrying reagents?", False),  # a clause, not a question for a date
    ("When I move to the park, will I pay less tax?", False),
])
def test_when_asks_for_a_date_only_as_a_question_word(question: str, date: bool) -> None:
    assert asks(question, "date") is date


def test_how_long_a_policy_runs_is_quoted_from_a_quoted_policy_though_the_best_sentence_is_elsewhere() -> None:
    # The best sentence restates the subsidy (a digest); the policy quoted with it states until when it runs.
    docs = (("digest.md", ("规划摘要",), "对境外高端人才和紧缺人才继续按税负差额给予补贴。"),
            ("gba.md", ("大湾区个人所得税补贴通知",),
             "适用对象：在大湾区工作的境外高端人才和紧缺人才。\n文号与日期：财税〔2023〕34号，执行至2027年12月31日。"),
            ("other.md", ("另一项通知",), "有效期：2020年1月1日至2022年12月31日。"))
    passages = [Passage(Chunk(Chunk.make_id(src, t), src, t, 0, len(t), heading, {}), 1.0) for src, heading, t in docs]
    terms = {"高端人才": 1.0, "紧缺人才": 1.0, "补贴": 1.0, "大湾区": 1.0}
    question = "Until when does the subsidy for overseas high-end talent run?"
    assert asks(question, "validity") and holds("执行至2027年12月31日。", "validity")
    quotes, _ = select_quotes(question, passages, terms, kinds=asked(question), kind_bonus=0.1)
    quoted = [passages[q.passage_index].chunk.text[q.start : q.end] for q in quotes]
    assert any("2027年12月31日" in q for q in quoted) and not any("2022年" in q for q in quoted), quoted


def test_a_policy_s_validity_guides_the_quotes_but_is_no_missing_detail(tmp_path: Path) -> None:
    assistant = _over(tmp_path)
    question = "《河套测试促进条例》适用于哪个期间？For which period does it apply?"
    assert asked(question) == {"validity"}
    _, _, evidence = assistant._search(question, "zh-Hans", question, None)
    assert evidence.features["kind_missing"] == 0.0  # DOC states no 有效期: the question is not weaker for it


@pytest.mark.parametrize(("question", "money"), [
    ("河套跨境双币早期母基金规模有多大？", True),
    ("How big is the fund, and who manages it?", True),
    ("深圳园区规模有多大？", False),  # the park's size is an area
])
def test_a_fund_s_size_is_an_amount_of_money(question: str, money: bool) -> None:
    assert asks(question, "money") is money


@pytest.mark.parametrize(("question", "date"), [
    ("How long does the approval take?", True),
    ("How long can staff stay in Hong Kong each time?", True),
    ("How long is the new bridge across the river?", False),  # a length: a figure
])
def test_how_long_asks_for_a_time_not_a_length(question: str, date: bool) -> None:
    assert asks(question, "date") is date
    assert asks(question, "figure")
