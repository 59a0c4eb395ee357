"""The Query object: every normalised form of a question, built once by QueryParser."""

from __future__ import annotations

import dataclasses

import pytest
from support import REPO

from assistant.answering import answer_type
from assistant.answering.query import UNSEEN_BOOST, Query, QueryParser, Term, said, with_rivals
from assistant.answering.units import coverage
from assistant.answering.vocabulary import Colloquial, Glossary, with_equivalents
from assistant.knowledge.lexical import load_user_dict, tokenize


class Stats:
    """Term statistics of a pretend corpus: the words it uses, all with IDF 1 (unseen ones 3)."""

    def __init__(self, words: set[str]) -> None:
        self.words = words

    def idf(self, term: str) -> float:
        return 1.0 if term in self.words else 3.0

    def known(self, term: str) -> bool:
        return term in self.words

    def vocabulary(self) -> list[str]:
        return sorted(self.words)


@pytest.fixture(scope="module")
def parser() -> QueryParser:
    load_user_dict(REPO / "index" / "park_terms.txt")
    return QueryParser(Glossary.load(REPO / "index" / "glossary.tsv"), Stats({"合作区", "面积", "深圳园区", "口岸"}))


def test_traditional_question_is_folded_once_and_keeps_its_language(parser: QueryParser) -> None:
    q = parser.parse("深圳園區的面積是多少？")
    assert q.lang == "zh-Hant" and q.original == q.standalone == "深圳園區的面積是多少？"
    assert q.simplified == "深圳园区的面积是多少？" and q.text.startswith(q.simplified)
    assert "平方公里" in q.expansion  # a Chinese synonym key of the glossary (面积 → 平方公里)
    assert "深圳园区" in q.terms and "面积|平方公里" in q.terms and not q.latin  # 面积 also found as 平方公里


def test_english_question_is_expanded_through_the_glossary(parser: QueryParser) -> None:
    q = parser.parse("How large is the zone's area?")
    assert q.lang == "en" and q.latin
    assert "面积" in q.expansion and q.text.endswith(" ".join(q.expansion))
    area = next(k for k in q.terms if k.startswith("面积|"))  # 面积, also found as 平方公里 (or 区域: area as region)
    assert "平方公里" in area.split("|") and "large" not in q.terms  # unknown Latin words: through the glossary


def test_standalone_form_drives_text_and_terms_the_original_is_kept(parser: QueryParser) -> None:
    q = parser.parse("那口岸呢？", standalone="合作区有哪些口岸 那口岸呢？")
    assert q.original == "那口岸呢？" and q.standalone.startswith("合作区")
    assert "合作区" in q.terms and "合作区" in q.text


def test_explicit_language_wins_and_the_query_is_frozen(parser: QueryParser) -> None:
    q = parser.parse("合作区面积", lang="en")
    assert isinstance(q, Query) and q.lang == "en"
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.lang = "zh-Hans"  # type: ignore[misc]


def test_spoken_and_cantonese_forms_are_rewritten_and_fillers_name_no_topic() -> None:
    colloquial = Colloquial.load(REPO / "index" / "colloquial.tsv")
    parser = QueryParser(Glossary(), Stats({"口岸", "哪个", "合作区"}), colloquial)
    q = parser.parse("合作區到底有邊個口岸？")
    assert q.lang == "zh-Hant" and "哪个" in q.text and "边个" not in q.text
    assert "到底" in q.text and not any("到底" in t for t in q.terms)  # kept for search, not a topic
    assert "口岸" in q.terms
    assert colloquial.rewrite("啥时侯开始") == "什么时候开始"  # 时侯 (a common slip) first, then 啥


def test_glossary_wordings_are_equivalent_in_term_coverage() -> None:
    glossary = Glossary.load(REPO / "index" / "glossary.tsv")
    _, groups = glossary.expand_groups("land border crossings")
    assert ("跨境陆路口岸", "口岸") in groups
    terms = with_equivalents({"跨境": 2.0, "口岸": 1.0, "合作区": 1.0}, groups)
    assert terms == {"跨境|口岸": 2.0, "口岸": 1.0, "合作区": 1.0}  # 口岸 is itself a wording of the group
    assert coverage("区内有福田口岸和皇岗口岸两个陆路口岸。", terms) == 0.75  # 跨境 found as 口岸; 合作区 not
    # A single character of a Chinese key (多 of 多大 → 面积) is no wording of its group: 多 is not found as 面积.
    assert with_equivalents({"多": 0.3, "多大": 1.0}, [("多大", "面积")]) == {"多": 0.3, "多大|面积": 1.0}


def test_a_word_no_source_uses_weighs_more_than_its_idf_but_does_not_swamp_the_rest(parser: QueryParser) -> None:
    # 食堂 is in no source: telling (an off-topic question is about it), yet plain words the sources put
    # otherwise are unseen too, so it weighs UNSEEN_BOOST (1.5) times its IDF, not double.
    terms = parser.parse("合作区的食堂").terms
    assert terms["食堂"] == pytest.approx(UNSEEN_BOOST * 3.0) and UNSEEN_BOOST == 1.5
    assert terms["合作区"] == pytest.approx(1.0)


def test_research_goods_in_plain_english_reach_the_customs_terms(parser: QueryParser) -> None:
    # What researchers carry (reagents, instruments, lab kit) is 科研货物 in the customs measures.
    q = parser.parse("Can I bring lab reagents and instruments from Hong Kong into the park?")
    assert {"试剂", "科研货物", "仪器", "实验室"} <= set(q.expansion)


def test_english_words_match_the_glossary_in_their_inflected_forms(parser: QueryParser) -> None:
    # The glossary lists "declaration", "inspection", "approval": questions say declared, inspected, approvals.
    assert "申报" in parser.parse("Must the samples be declared?").expansion
    assert "申报" in parser.parse("Are customs declarations needed?").expansion
    assert "检验" in parser.parse("Are reagents inspected at the border?").expansion
    assert "审批" in parser.parse("How many approvals are needed?").expansion
    # A short word takes only its plural: parking is not the park (园区), nor is a parked car.
    assert "园区" not in parser.parse("Is there parking?").expansion
    assert "园区" in parser.parse("Which parks are there?").expansion


def test_asking_when_is_no_topic(parser: QueryParser) -> None:
    # 什么时候 asks for a date (the answer type does the work); its 时候, a word no source uses, once weighed
    # more than what was asked about (开园) and a line labelled 日期 about something else was quoted first.
    for question in ("香港园区什么时候开园的？", "香港園區幾時開園？", "何时开园？"):
        own = {key.split("|")[0] for key in parser.parse(question).terms}  # a term before its equivalents
        assert not {"时候", "什么时候", "何时", "几时"} & own, question


def test_who_runs_a_place_reaches_the_operator(parser: QueryParser) -> None:
    expansion = parser.parse("Who manages the Hong Kong Science Park Shenzhen branch?").expansion
    assert {"香港科学园", "深圳分园", "管理", "运营"} <= set(expansion)
    assert "运营" in parser.parse("Who operates it?").expansion  # operate ~ operates


def test_which_one_question_words_are_not_read_as_topics() -> None:
    """哪一年 asks "which year": 一年 ("one year", as jieba also cuts it) is no term of the question."""
    colloquial = Colloquial.load(REPO / "index" / "colloquial.tsv")
    parser = QueryParser(Glossary(), Stats({"规划", "近期", "目标"}), colloquial)
    terms = parser.parse("规划的近期目标是哪一年？").terms
    assert {"规划", "近期", "目标"} <= set(terms) and not any("一" in t for t in terms), terms
    assert not any("一" in t for t in parser.parse("审批找哪一级批？").terms)


@pytest.mark.parametrize("question", ["跨境直通巴士一天几班？", "直通巴士一天有几班", "口岸一日有幾多人次過關？"])
def test_how_often_asks_per_day_as_the_sources_write_it(question: str) -> None:
    """一天几班 asks how many a day: the sources say 每天3班; 一天 ("one day") is no term of the question."""
    colloquial = Colloquial.load(REPO / "index" / "colloquial.tsv")
    parser = QueryParser(Glossary(), Stats({"每天", "每日", "巴士", "口岸"}), colloquial)
    terms = parser.parse(question).terms
    assert {"每天", "每日"} & set(terms) and not {"一天", "一日"} & set(terms), terms


@pytest.mark.parametrize(("question", "kind"), [("首批有幾多間企業入駐？", "figure"), ("母基金規模有幾大？", "figure"),
                                              ("政府注資咗幾多錢？", "money"), ("審批要幾耐？", "date")])
def test_cantonese_how_much_asks_for_a_figure(question: str, kind: str) -> None:
    """幾多 / 有幾大 / 幾耐 are Cantonese for 多少 / 有多大 / 多久: the question asks for a figure or a time."""
    parser = QueryParser(Glossary(), Stats(set()), Colloquial.load(REPO / "index" / "colloquial.tsv"))
    assert kind in answer_type.asked(parser.parse(question).asked)


@pytest.mark.parametrize("phrase", ["Channel No. 1", "channel no 1", "Channel 1", "channel one", "the No. 1 Channel"])
def test_the_park_facilities_english_names_reach_their_chinese_names(phrase: str) -> None:
    assert "一号通道" in Glossary.load(REPO / "index" / "glossary.tsv").expand(f"what is {phrase} used for?".lower())


@pytest.mark.parametrize(("question", "term"), [
    ("How many institutions have permits for Channel No. 1 vehicles?", "车辆"),
    ("What happens to goods moving inside the customs supervision area?", "海关监管区域"),
    ("What happens to goods moving inside the customs supervision area?", "流动"),
    ("What is the total area of the zone?", "面积"),  # area as size, and as a region (区域): both wordings
])
def test_general_english_policy_words_reach_the_sources_wording(question: str, term: str) -> None:
    assert term in Glossary.load(REPO / "index" / "glossary.tsv").expand(question.lower())


@pytest.mark.parametrize(("question", "term"), [
    ("What is the whitelist system?", "制度"),
    ("What is Channel No. 1 used for?", "用于"),
    ("Where is the science park located?", "位于"),
])
def test_what_is_and_where_is_questions_carry_their_words_over(question: str, term: str) -> None:
    assert term in Glossary.load(REPO / "index" / "glossary.tsv").expand(question.lower())


def test_the_glossary_names_the_terms_of_a_text_in_english_longest_and_first_seen_first() -> None:
    glossary = Glossary.load(REPO / "index" / "glossary.tsv")
    text = "香港特区政府成立了由行政长官主持的督导委员会；国务院印发《河套深港科技创新合作区深圳园区发展规划》。"
    names = dict(glossary.names_in(text))
    assert names["行政长官"] == "chief executive" and names["国务院"] == "state council"
    assert "印发" not in names  # two characters: mostly verbs, not names
    assert "合作区" not in names  # inside 河套深港科技创新合作区, which is listed
    assert list(names).index("行政长官") < list(names).index("国务院")  # in order of appearance
    assert len(glossary.names_in(text, limit=2)) == 2


def test_an_english_word_in_a_chinese_question_counts_through_its_chinese_terms() -> None:
    glossary = Glossary.load(REPO / "index" / "glossary.tsv")
    q = QueryParser(glossary, Stats({"人工智能", "企业"})).parse("做AI的企业有哪些？")
    assert "人工智能" in q.expansion and "人工智能" in q.terms
    assert "ai" not in q.terms  # not also an unseen word of its own: the sources say 人工智能
    # Where the glossary's terms are none the sources use (GDP → GDP), the word stays what the question is about.
    gdp = QueryParser(glossary, Stats({"企业"})).parse("园区企业的GDP是多少？")
    assert "gdp" in gdp.terms and gdp.unmatched == 1.0


@pytest.mark.parametrize("question", ["海关那份措施是哪天发的？", "海關嗰份措施係邊日發嘅？",
                                      "园区员工能不能走一号通道？", "園區員工可唔可以行一號通道？", "要不要交税？",
                                      "监管办法哪天开始实施？"])
def test_question_words_and_frames_are_no_topic(question: str) -> None:
    """哪天 is kept whole (jieba alone cuts 哪/天发, and 天发 read as a word no source uses); asking whether
    (能不能, 可否, 要不要) and since when (开始) frame the question."""
    load_user_dict(REPO / "index" / "park_terms.txt")
    parser = QueryParser(Glossary(), Stats({"海关", "措施", "员工", "一号通道", "交税"}),
                         Colloquial.load(REPO / "index" / "colloquial.tsv"))
    terms = set(parser.parse(question).terms)
    assert not {"天发", "天", "可否", "能不能", "不能", "要不要", "不要", "开始"} & terms, terms


def test_a_glossary_phrase_reaches_the_sources_when_they_use_each_word_of_its_terms() -> None:
    # 国家发展改革委 is several words to jieba's search mode: the sources use it though not as one word.
    load_user_dict(REPO / "index" / "park_terms.txt")
    words = set(tokenize("国家发展改革委")) - {"国家发展改革委"}
    parser = QueryParser(Glossary.load(REPO / "index" / "glossary.tsv"), Stats(words))
    assert parser.parse("The National Development and Reform Commission?").unmatched == 0.0
    assert parser.parse("The Singapore one?").unmatched == 1.0  # 新加坡: no source says it


def test_missing_words_are_what_the_vocabulary_does_not_reach() -> None:
    colloquial = Colloquial((("嘅", "的"),), frozenset({"到底"}))
    glossary = Glossary.load(REPO / "index" / "glossary.tsv")
    parser = QueryParser(glossary, Stats({"合作区", "面积", "口岸", "停车场"}), colloquial)
    # English: words no phrase covers (hiking); a covered one (area) and stopwords are not listed.
    assert parser.missing_words("What is the area of the zone, and is hiking allowed?") == ["hiking", "allowed"]
    # Chinese: words the sources never use, after spoken forms are rewritten; fillers and known words are not.
    missing = parser.missing_words("合作区到底嘅火锅店多唔多？")
    assert "火锅店" in missing and "到底" not in missing and "合作区" not in missing
    assert not any(len(w) == 1 for w in missing)  # single characters are left to the weights


def test_a_word_ending_a_compound_of_the_question_does_not_count_inside_another_compound() -> None:
    # 所得税 of 企业所得税 is not said by 个人所得税; 园区 of 香港园区 not by 深圳园区
    parser = QueryParser(Glossary(), Stats({"企业", "所得税", "企业所得税", "个人所得税", "个人", "税率"}))
    terms = parser.parse("企业所得税税率").terms
    assert coverage("个人所得税税率", terms) < coverage("企业所得税税率", terms) == 1.0
    assert coverage("所得税税率", terms) > coverage("个人所得税税率", terms)  # said alone, it counts
    # the question names the other part too: 个人 and 所得税 say 个人所得税
    both = parser.parse("企业所得税和个人的有啥不同").terms
    assert coverage("个人所得税", both) > coverage("个人税", both)
    assert said(Term("园区", ("深圳园区",)), "在园区注册") and not said(Term("园区", ("深圳园区",)), "深圳园区注册")
    # a key's | wordings are alternatives (跨境|口岸: a glossary term's pieces), not a compound ending in 口岸
    keyed = with_rivals({"跨境|口岸": 1.0, "口岸": 1.0}, {"口岸": ("福田口岸", "皇岗口岸")})
    assert not any(getattr(t, "rivals", ()) for t in keyed)
