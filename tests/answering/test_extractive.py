"""The extractive answerer: list questions, question terms, coverage, quote selection, lists kept whole."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support import REPO, make_fake_index

from assistant.answering.extractive import (
    is_list_question,
    notes_for,
    select_quotes,
    sentence_end,
    sentence_start,
    whole_item,
    with_referent,
)
from assistant.answering.query import UNSEEN_BOOST, question_terms
from assistant.answering.units import coverage
from assistant.data import Chunk, Passage
from assistant.knowledge.chunking import last_item_number, list_continuation
from assistant.knowledge.lexical import load_user_dict
from assistant.knowledge.reader import siblings
from assistant.testing import FakeEmbedder
from assistant.wiring import build_assistant


@pytest.fixture(autouse=True, scope="module")
def _park_terms() -> None:
    load_user_dict(REPO / "index" / "park_terms.txt")


def _chunk(text: str, section: tuple[str, ...], source: str = "plan.md", start: int = 0) -> Chunk:
    return Chunk(id=Chunk.make_id(source, text, section), source=source, text=text, start=start,
                 end=start + len(text), section=section, meta={"title": section[0]})


def _passages(*chunks: Chunk) -> list[Passage]:
    return [Passage(chunk=c, score=1.0 - i / 10) for i, c in enumerate(chunks)]


@pytest.mark.parametrize(
    ("question", "is_list"),
    [
        ("深圳园区有哪些发展定位？", True),
        ("三大定位是什么", True),
        ("两阶段发展目标分别是什么？", True),
        ("合作区有几个口岸？", True),
        ("规划包括哪几个部分", True),
        ("香港園區有哪些設施", True),
        ("Which ports are in the zone?", True),
        ("What are the goals for 2035?", True),
        ("List the talent policies", True),
        ("合作区总面积有多大？", False),
        ("深圳园区在哪里？", False),
        ("规划是哪一年印发的？", False),
        ("How big is the zone?", False),
        ("When was the plan issued?", False),
    ],
)
def test_is_list_question(question: str, is_list: bool) -> None:
    assert is_list_question(question) is is_list


def _idf(table: dict[str, float], default: float = 2.0) -> Callable[[str], float]:
    return lambda t: table.get(t, default)


def test_question_terms_strip_question_words() -> None:
    terms = question_terms("深圳园区哪三大定位？", _idf({}), lambda t: True)
    assert "三大" in terms and "哪三大" not in terms
    assert "定位" in terms
    # A question word that leaves a single character behind is dropped entirely.
    assert not any(t.startswith(("哪", "几")) for t in question_terms("发展定位有哪几个", _idf({}), lambda t: True))


def test_question_terms_keep_the_counted_thing_said_as_its_counter() -> None:
    # 一共分几章？: the counter ends the phrase, so it names what is counted (共八章) and weighs as a word.
    terms = question_terms("条例一共分几章？", _idf({"章": 3.0}), lambda t: True)
    assert terms["章"] == pytest.approx(3.0)
    # Followed by what is counted, the counter is not the topic: 多少条措施 is counted in 项 as well.
    assert "条" not in question_terms("规划有多少条措施？", _idf({}), lambda t: True)
    assert "章" not in question_terms("几章内容讲监管？", _idf({}), lambda t: True)


def test_question_terms_weights_follow_idf_single_chars_and_figures() -> None:
    idf = _idf({"面积": 3.0, "合作区": 1.0, "年": 2.0, "2035": 2.0, "目标": 2.0})
    terms = question_terms("合作区面积多少", idf, lambda t: True)
    assert terms["面积"] > terms["合作区"]
    years = question_terms("2035年目标", idf, lambda t: True)
    assert years["2035"] == pytest.approx(3.0)  # figures pin the answer: × 1.5
    assert years["年"] == pytest.approx(0.6)  # single characters are mostly grammar: × 0.3
    assert years["目标"] == pytest.approx(2.0)


def test_question_terms_english_drops_unknown_latin_unless_kept() -> None:
    known = {"合作区", "面积", "hetao"}.__contains__
    text = "What is the area of the Hetao zone 合作区 面积"
    english = question_terms(text, _idf({}), known, drop_unknown_latin=True)
    assert "area" not in english and "zone" not in english
    assert "hetao" in english and "面积" in english and "合作区" in english
    kept = question_terms(text, _idf({}), known, drop_unknown_latin=True, keep={"zone"})
    assert "zone" in kept and "area" not in kept
    # In a Chinese question Latin words stay (GDP is a topic).
    chinese = question_terms("合作区的GDP目标", _idf({}), known)
    assert "gdp" in chinese


def test_question_terms_drop_unseen_compounds_of_known_parts() -> None:
    unseen = question_terms("深圳园区的面积", _idf({}), {"深圳", "园区", "面积"}.__contains__)
    assert "深圳园区" not in unseen and {"深圳", "园区", "面积"} <= set(unseen)
    seen = question_terms("深圳园区的面积", _idf({}), {"深圳", "园区", "面积", "深圳园区"}.__contains__)
    assert "深圳园区" in seen


def test_question_terms_count_an_unseen_word_of_unseen_pieces_once() -> None:
    # jieba's search mode cuts 东南西北 into 东南, 南西, 西北 as well: three overlapping pieces of one thing no
    # source says (the sources write 东侧 … 为界). It counts once, at its own weight.
    known = {"深圳园区", "为界"}.__contains__
    terms = question_terms("深圳园区东南西北到哪里为界", _idf({}), known)
    assert "东南西北" in terms and not {"东南", "南西", "西北"} & set(terms)
    assert terms["东南西北"] == pytest.approx(2.0 * UNSEEN_BOOST)
    # With a piece the corpus does use, the pieces speak for it (as for 深圳园区 above).
    assert "东南西北" not in question_terms("东南西北为界", _idf({}), {"东南", "为界"}.__contains__)


def test_question_terms_join_a_separable_verb_said_with_an_aspect_word(monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.answering.query as query_module

    # The spoken form (备过案: "have filed") as one token, as jieba cuts it when the user dictionary knows it.
    monkeypatch.setattr(query_module, "tokenize", lambda text: ["备过案", "机构", "交过税"])
    known = {"备案", "机构"}.__contains__
    terms = question_terms("备过案的机构", _idf({"备案": 3.0}), known)
    assert "备案" in terms and "备过案" not in terms and terms["备案"] == pytest.approx(3.0)
    # Only to a form the corpus uses: 交税 is unknown here, so 交过税 stays as asked.
    assert "交过税" in terms


def test_coverage_weights_text_context_and_passage() -> None:
    terms = {"面积": 1.0, "口岸": 1.0}
    assert coverage("合作区面积与口岸", terms) == pytest.approx(1.0)
    assert coverage("合作区面积", terms) == pytest.approx(0.5)
    assert coverage("合作区面积", terms, context="一、口岸") == pytest.approx(0.75)  # heading: half
    assert coverage("合作区面积", terms, passage="区内有口岸。") == pytest.approx(0.625)  # passage: quarter
    assert coverage("合作区面积", terms, context="口岸", passage="口岸") == pytest.approx(0.75)  # best place counts
    assert coverage("合作區面積", terms) == pytest.approx(0.5)  # Traditional text folds
    assert coverage("任何文字", {}) == 0.0


def test_sentence_bounds() -> None:
    text = "第一句。第二句很长！\n第三行"
    assert sentence_start(text, text.index("很")) == text.index("第二")
    assert sentence_end(text, text.index("很")) == text.index("！") + 1
    assert sentence_end(text, text.index("第三")) == len(text)
    assert sentence_start("  前面有空格", 3) == 2


AREA = _chunk("6. 面积：合作区共约3.89平方公里。其中深圳园区3.02平方公里。香港方面常用公顷表述。",
              ("规划要点", "一、序言与规划背景", "6."))
PORTS = _chunk("8. 口岸：区内有福田口岸和皇岗口岸两个陆路口岸。", ("规划要点", "一、序言与规划背景", "8."), start=200)


def test_select_quotes_picks_the_best_sentence() -> None:
    passages = _passages(PORTS, AREA)
    terms = {"合作区": 1.0, "面积": 2.0}
    quotes, best = select_quotes("合作区面积有多大？", passages, terms)
    assert best > 0.9
    assert len(quotes) == 1
    q = quotes[0]
    assert q.passage_index == 1
    # A short list item is quoted whole (its sentences after the best one say what it is part of).
    assert AREA.text[q.start - AREA.start : q.end - AREA.start] == AREA.text
    assert not q.whole_list


def test_select_quotes_nothing_matches() -> None:
    _, best = select_quotes("人才签注怎么办？", _passages(AREA), {"人才": 1.0, "签注": 1.0})
    assert best < 0.1  # only the rank prior
    assert select_quotes("问题", [], {"人才": 1.0}) == ([], 0.0)


POSITIONS = _chunk("1. 深港科技创新开放合作先导区：与香港园区联动。\n2. 国际先进科技创新规则试验区：建立跨境机制。\n"
                   "3. 粤港澳大湾区中试转化集聚区：具体内容未读到。",
                   ("规划要点", "二、总体要求", "（二）三大发展定位"), start=400)


def test_select_quotes_list_question_quotes_a_list_shaped_passage_whole() -> None:
    # The first line matches best; the others only through the section heading.
    terms = {"三大": 1.0, "发展": 1.0, "定位": 2.0, "先导区": 2.0}
    assert is_list_question("深圳园区的三大发展定位有哪些？")
    quotes, _ = select_quotes("深圳园区的三大发展定位有哪些？", _passages(POSITIONS), terms)
    assert (quotes[0].start, quotes[0].end) == (POSITIONS.start, POSITIONS.end)
    # The same terms in a question that wants one thing quote only the best line.
    assert not is_list_question("先导区的发展定位是什么？")
    single, _ = select_quotes("先导区的发展定位是什么？", _passages(POSITIONS), terms)
    first_line = POSITIONS.text.splitlines()[0]
    assert POSITIONS.text[single[0].start - POSITIONS.start : single[0].end - POSITIONS.start] == first_line


def test_select_quotes_numbered_item_under_a_heading_naming_the_question_asks_for_its_siblings() -> None:
    parent = ("规划要点", "二、总体要求", "（二）三大发展定位")
    item = _chunk("2. 国际先进科技创新规则试验区：建立跨境科创体制机制。", (*parent, "2."), start=500)
    terms = {"三大": 1.0, "发展": 1.0, "定位": 1.0}
    quotes, _ = select_quotes("三大发展定位有哪些？", _passages(item), terms)
    assert quotes[0].whole_list
    # Not for a question that wants one thing, nor under a heading that does not name what is asked.
    assert not is_list_question("试验区的发展定位是什么？")
    assert not select_quotes("试验区的发展定位是什么？", _passages(item), {"试验区": 1.0, **terms})[0][0].whole_list
    other = _chunk(item.text, ("规划要点", "二、总体要求", "（一）指导思想", "2."), start=500)
    assert not select_quotes("三大发展定位有哪些？", _passages(other), terms)[0][0].whole_list
    # Nor for a passage that is not a numbered item.
    plain = _chunk(item.text, parent, start=500)
    assert not select_quotes("三大发展定位有哪些？", _passages(plain), terms)[0][0].whole_list


PROGRESS = _chunk("10. 截至2023年9月（据发布会）：\n    - 园区内已有量子科学中心等机构。\n"
                  "    - 园区汇聚院士12名、科研人员3000余人。", ("规划要点", "四、进展", "10."), start=700)
COMMUTE = _chunk("11. （进展）科研人员通勤：2023年10月起开行跨境巴士。", ("规划要点", "四、进展", "11."), start=780)


def test_an_item_is_read_with_the_line_introducing_its_list() -> None:
    # 2023 is only in the item's lead line: the count of researchers wins over a line naming 2023 and
    # researchers with no count, and the quote starts at the lead line, which says when.
    question = "2023年园区有多少科研人员？"
    terms = {"2023": 3.0, "园区": 0.6, "科研人员": 2.0}
    quotes, _ = select_quotes(question, _passages(COMMUTE, PROGRESS), terms, kinds={"figure"}, kind_bonus=0.15)
    assert quotes[0].passage_index == 1
    quoted = PROGRESS.text[quotes[0].start - PROGRESS.start : quotes[0].end - PROGRESS.start]
    assert quoted.startswith("10. 截至2023年9月") and quoted.endswith("科研人员3000余人。")
    # Without the year in the question the lead adds nothing: the item is quoted from its own line.
    quotes, _ = select_quotes("园区有多少科研人员？", _passages(PROGRESS), {"园区": 0.6, "科研人员": 2.0},
                              kinds={"figure"}, kind_bonus=0.15)
    quoted = PROGRESS.text[quotes[0].start - PROGRESS.start : quotes[0].end - PROGRESS.start]
    assert quoted.startswith("- 园区汇聚院士")


def test_select_quotes_sentence_ending_with_colon_brings_its_list() -> None:
    parts = _chunk("7. 深圳园区由两片组成：\n   - 福田保税区：1.35平方公里。\n   - 皇岗口岸片区：1.67平方公里。",
                   ("规划要点", "一、序言与规划背景", "7."), start=300)
    question = "深圳园区由什么组成？"
    assert not is_list_question(question)
    quotes, _ = select_quotes(question, _passages(parts), {"深圳": 1.0, "园区": 1.0, "组成": 2.0})
    assert quotes[0].start == parts.start and quotes[0].end == parts.end


def test_the_quote_stating_the_time_asked_comes_second_at_the_latest() -> None:
    terms = {"巴士": 4.0, "直通": 2.0, "开出": 2.0}
    about = _chunk("跨境直通巴士于2023年开行，白名单人员可预约乘坐巴士。", ("规划要点", "进展"), source="plan.md")
    more = _chunk("直通巴士由福田区联合营运，直通巴士往返两园区。", ("政策清单", "P13"), source="policy.md")
    times = _chunk("巴士从深圳开出时间为10:00、12:30。", ("新闻", "班次"), source="news.md")
    quotes, _ = select_quotes("直通巴士几点开出？", _passages(about, more, times), terms, kinds={"time"})
    assert [q.passage_index for q in quotes] == [0, 2, 1]  # the timetable is weighed with the first quote
    # Not asked for a time of day, the quotes keep their rank.
    quotes, _ = select_quotes("直通巴士怎么开出？", _passages(about, more, times), terms)
    assert [q.passage_index for q in quotes] == [0, 1, 2]


def test_select_quotes_includes_another_sources_best_sentence() -> None:
    terms = {"面积": 4.0, "合作区": 1.0}
    best = _chunk("合作区面积约3.89平方公里。", ("规划要点", "一、背景"), source="plan.md")
    same_source = _chunk("园区面积另行统计。", ("规划要点", "二、布局"), source="plan.md", start=100)
    other_source = _chunk("两个园区面积合计。", ("政策清单", "一、概况"), source="policy.md")
    # Scores: 1.05 (best), 0.825 and 0.817 — both below 0.8 × best, but the other source's is within 0.75 ×.
    quotes, _ = select_quotes("合作区面积多大", _passages(best, same_source, other_source), terms)
    assert [q.passage_index for q in quotes] == [0, 2]
    # The same sentence from the best passage's own source is not quoted.
    third_same = _chunk("两个园区面积合计。", ("规划要点", "三、其他"), source="plan.md", start=300)
    quotes, _ = select_quotes("合作区面积多大", _passages(best, same_source, third_same), terms)
    assert [q.passage_index for q in quotes] == [0]


def test_select_quotes_includes_another_source_stating_the_same_figure() -> None:
    terms = {"面积": 4.0, "合作区": 1.0, "总共": 2.0}
    best = _chunk("合作区总共面积约3.89平方公里。", ("规划要点", "一、背景"), source="plan.md")
    # Holds only 合作区 (score 1/7 ≈ 0.14 of the best's), far below the other-source bar, but states 3.89.
    restates = _chunk("合作区约3.89平方公里的园区横跨深圳河两岸。", ("评论", "一、概况"), source="article.md")
    same_year = _chunk("合作区2023年起步。", ("评论", "二、进展"), source="news.md")
    loose = {"合作区": 1.0}
    quotes, _ = select_quotes("合作区总共多大", _passages(best, restates), terms, corroboration_relative=0.1)
    assert [q.passage_index for q in quotes] == [0, 1]
    # Without the shared figure, or below the bar, it stays out.
    quotes, _ = select_quotes("合作区总共多大", _passages(best, same_year), terms, corroboration_relative=0.1)
    assert [q.passage_index for q in quotes] == [0]
    quotes, _ = select_quotes("合作区总共多大", _passages(best, restates), terms, corroboration_relative=0.9)
    assert [q.passage_index for q in quotes] == [0]
    # A bare year is no shared fact: "2023年" in both is not enough.
    dated = _chunk("合作区总共面积2023年公布。", ("规划要点", "一、背景"), source="plan.md")
    quotes, _ = select_quotes("合作区总共多大", _passages(dated, same_year), loose | terms, corroboration_relative=0.1)
    assert [q.passage_index for q in quotes] == [0]


def test_select_quotes_respects_max_quotes() -> None:
    chunks = [_chunk(f"合作区面积约3.89平方公里，来源{i}。", ("标题", "一、概况"), source=f"s{i}.md") for i in range(6)]
    terms = {"合作区": 1.0, "面积": 1.0}
    quotes, _ = select_quotes("合作区面积多大", _passages(*chunks), terms, max_quotes=3)
    assert len(quotes) == 3
    assert [q.passage_index for q in quotes] == [0, 1, 2]  # ties broken by rank
    assert len(select_quotes("合作区面积多大", _passages(*chunks), terms)[0]) == 4  # the default


def test_siblings() -> None:
    parent = ("规划要点", "二、总体要求", "（三）两阶段发展目标")
    items = [_chunk(f"{n}. 目标{n}。", (*parent, f"{n}."), start=n * 20) for n in range(1, 5)]
    elsewhere = _chunk("1. 其他。", ("规划要点", "三、总体布局", "1."), start=500)
    other_doc = _chunk("2. 另一文件。", (*parent, "2."), source="policy.md")
    heading_only = _chunk("说明文字。", parent, start=5)
    chapter = _chunk("总体要求说明。", ("规划要点", "二、总体要求"), start=3)
    next_chapter = _chunk("总体布局说明。", ("规划要点", "三、总体布局"), start=600)
    everything = [chapter, heading_only, *items, elsewhere, other_doc, next_chapter]
    assert siblings(items[1], everything) == items
    assert siblings(items[1], everything, limit=2) == items[:2]
    assert siblings(heading_only, everything) == [heading_only]
    assert siblings(chapter, everything) == [chapter]  # a chapter heading (二、…) is not a list item
    assert siblings(elsewhere, everything) == [elsewhere]
    assert siblings(items[0], [elsewhere]) == [items[0]]  # not in the list given


def test_notes_for() -> None:
    assert notes_for(["具体内容未读到。"]) == ([0], [])
    assert notes_for(["合作区共约3.89平方公里。", "两份资料说法不一。"]) == ([], [1])
    assert notes_for(["在可读到的页面中不完整", "与发布会实录不一致"]) == ([0], [1])
    assert notes_for(["合作区共约3.89平方公里。"]) == ([], [])
    assert notes_for([]) == ([], [])


def test_a_note_names_the_quotes_it_is_about(tmp_path: Path) -> None:
    """One quote recording differing accounts (of another thing's area) is not the sources disagreeing on the
    answer: the note names the quote that says so, and so does the note on what was not read."""
    import shutil

    from support import make_tiny_settings

    from assistant.wiring import build_indexer

    settings = make_tiny_settings(tmp_path)
    sources = settings.index_dir / "sources"
    shutil.rmtree(sources)
    sources.mkdir()
    (sources / "zone.md").write_text("---\ntitle: 2099年测试合作区概况\n---\n\n# 测试合作区概况\n\n## 面积\n\n"
                                     "- 测试合作区的面积：共约9.99平方公里。\n", encoding="utf-8")
    (sources / "branch.md").write_text("---\ntitle: 2099年测试分园\n---\n\n# 测试分园\n\n## 规模\n\n"
                                       "- 测试分园的面积说法不一：甲报称1.1万平方米，乙报称1.2万平方米；门牌未读到。\n",
                                       encoding="utf-8")
    build_indexer(settings, FakeEmbedder()).build()
    answer = build_assistant(settings, embedder=FakeEmbedder()).answer("测试合作区和测试分园的面积各是多少？")
    by_text = {c.quote: c.n for c in answer.citations}
    marked = next(n for q, n in by_text.items() if "说法不一" in q)
    plain = next(n for q, n in by_text.items() if "9.99" in q)
    notes = [line for line in answer.text.splitlines() if line.startswith("注意：")]
    assert len(notes) == 2 and answer.meta["disagree"] and answer.meta["unread"]
    assert f"引文[{marked}]注明各方说法不一" in notes[0] and f"[{plain}]" not in notes[0]
    assert f"引文[{marked}]注明部分细节" in notes[1] and f"[{plain}]" not in notes[1]


def test_a_list_introduced_in_a_quote_goes_on_with_its_next_items_only() -> None:
    quote = "- 报告列出五项措施：\n  1. 方便往来。\n  2. 便利资金流动。"
    assert last_item_number(quote) == 2
    assert last_item_number("6. 面积：合作区共约3.89平方公里。") is None  # one item of a list of facts
    assert last_item_number("- 报告列出五项措施：") is None  # nothing listed yet
    nxt = "3. 便利数据交流。\n   含临床样本。\n4. 发挥人才优势。\n- 2024年报告：另一项。\n"
    assert nxt[: list_continuation(nxt, 2)] == "3. 便利数据交流。\n   含临床样本。\n4. 发挥人才优势。"
    assert list_continuation(nxt, 5) == 0  # the next chunk does not carry this list on


LIST_DOC = """# 测试施政报告

## 相关措施

- 2099年施政报告列出正在探索的五项测试措施：
  1. 方便测试人员往来：预先登记的人员可在两园区之间便捷通行，并利用人脸识别等技术实现无感通关。
  2. 便利测试区内的跨境资金流动，支持测试机构开立多币种账户并办理跨境结算业务。
  3. 便利测试或试验所需数据和样本的交流，建立数据跨境流动的安全评估和备案机制。
  4. 发挥香港汇聚国际测试人才的优势，为国际人才提供签证、住房和子女教育等便利。
  5. 推动前沿研究和中试转化，例如建立测试医药公共研发服务平台。
- 2100年施政报告：香港与深圳合作建立测试协作平台。
"""


def test_a_list_cut_over_several_chunks_is_quoted_whole(tmp_path: Path) -> None:
    source = tmp_path / "report.md"
    source.write_text(LIST_DOC, encoding="utf-8")
    settings = make_fake_index(tmp_path / "index", source, chunk_max_tokens=120)
    assistant = build_assistant(settings, embedder=FakeEmbedder())
    assert len(assistant.reader.chunks) >= 3  # the list is spread over chunks
    answer = assistant.answer("2099年施政报告讲了哪些正在探索的测试措施？")
    quoted = "\n".join(c.quote for c in answer.citations)
    assert all(f"{n}. " in quoted for n in range(1, 6)) and "测试医药公共研发服务平台" in quoted
    assert "2100年" not in quoted  # the list ends where its numbering does


def test_a_sentence_opening_with_this_is_quoted_with_the_one_it_points_back_to() -> None:
    item = "- “科汇通”试点：园区科研机构多为事业单位。该试点为外资科研机构汇入科研经费开通了渠道。截至报道时已有5家。"
    at = item.index("该试点")
    assert item[with_referent(item, at):].startswith("- “科汇通”试点：")
    later = item.index("截至")
    assert with_referent(item, later) == later  # no anaphor: the sentence stands alone
    # Never across a line: the line before is another item or paragraph.
    lines = "1. 适用对象：白名单机构。\n其余措施：未读到。"
    assert with_referent(lines, lines.index("其余")) == lines.index("其余")
    chain = "甲项目启动。该项目分两期。其一期已完工。"
    assert with_referent(chain, chain.index("其一期")) == 0


def test_the_quote_of_a_sentence_opening_with_this_names_what_it_is_about() -> None:
    fund = _chunk("- “科汇通”试点：园区科研机构多为事业单位。该试点为外资科研机构汇入科研经费开通了渠道。",
                  ("政策清单", "P14 跨境科研资金"), start=50)
    quotes, _ = select_quotes("科研经费怎样汇入？", _passages(fund), {"科研经费": 2.0, "汇入": 2.0})
    q = quotes[0]
    assert fund.text[q.start - fund.start : q.end - fund.start].startswith("- “科汇通”试点：")


def test_a_short_list_item_is_quoted_whole() -> None:
    text = ("7. 深圳园区由两片组成：\n   - 皇岗口岸片区：1.67平方公里。东到华强南路，北到滨河大道。\n"
            "   - 福田保税区：1.35平方公里。")
    s = text.index("皇岗口岸片区")
    start, end = whole_item(text, s, text.index("。", s) + 1)
    assert text[start:end] == "- 皇岗口岸片区：1.67平方公里。东到华强南路，北到滨河大道。"
    # A line that introduces a list, a long item and a paragraph keep the sentence alone.
    assert whole_item(text, 0, 5) == (0, 5)
    assert whole_item(text, s, s + 5, limit=20) == (s, s + 5)
    prose = "皇岗口岸片区：1.67平方公里。东到华强南路。"
    assert whole_item(prose, 0, 16) == (0, 16)


def test_the_quote_of_a_list_item_s_sentence_brings_the_rest_of_the_item() -> None:
    area = _chunk("7. 深圳园区由两片组成：\n   - 皇岗口岸片区：1.67平方公里。东到华强南路，北到滨河大道。",
                  ("规划要点", "一、序言与规划背景", "7."))
    quotes, _ = select_quotes("皇岗口岸片区有多大？", _passages(area), {"皇岗口岸片区": 3.0})
    q = quotes[0]
    assert area.text[q.start - area.start : q.end - area.start].endswith("北到滨河大道。")


def test_question_terms_drop_the_counter_after_how_many() -> None:
    # 30项措施 answers 多少条措施: the counter 条 names no topic. A unit of time is what is asked, and stays.
    assert "条" not in question_terms("规划一共有多少条措施？", _idf({}), lambda t: True)
    assert "家" not in question_terms("首批有几家企业入驻？", _idf({}), lambda t: True)
    assert "天" in question_terms("审批要多少天？", _idf({}), lambda t: True)
