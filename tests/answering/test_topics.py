"""Topics: a decline offers the nearest sections as follow-up questions in the asker's language (English
names from index/topics.tsv), and each such question, clicked, quotes the section it names."""

from __future__ import annotations

import re
import shutil

import pytest
from support import REPO, make_tiny_settings

from assistant.answering.assistant import Assistant
from assistant.answering.topics import Topics, load_topic_names, topic_name
from assistant.data import Chunk, Passage
from assistant.lang import to_traditional
from assistant.messages import text as message
from assistant.testing import FakeEmbedder
from assistant.wiring import build_assistant, build_indexer

CJK = re.compile(r"[\u3400-\u9fff]")
NAMES = load_topic_names(REPO / "index" / "topics.tsv")


def _passage(*section: str) -> Passage:
    text = "内容。"
    return Passage(Chunk(Chunk.make_id("a.md", text, section), "a.md", text, 0, len(text), section), 1.0)


def test_topic_names_drop_list_labels_and_numbering() -> None:
    assert topic_name(_passage("规划", "三、总体布局（四方面布局）", "1.").chunk) == "总体布局（四方面布局）"
    assert topic_name(_passage("政策清单", "P15 跨境数据").chunk) == "跨境数据"
    assert topic_name(_passage("规划").chunk) is None  # the document title alone is no topic


def test_english_askers_are_offered_english_names_only() -> None:
    topics = Topics({"跨境数据": "cross-border data flows"})
    near = [_passage("清单", "跨境数据"), _passage("清单", "没有英文名的章节")]
    assert topics.nearest(near, "en") == ["cross-border data flows"]
    assert topics.nearest(near, "zh-Hans") == ["跨境数据", "没有英文名的章节"]
    assert topics.nearest(near, "zh-Hant") == [to_traditional("跨境数据"), to_traditional("没有英文名的章节")]
    fallback = topics.nearest([_passage("清单", "没有英文名的章节")], "en")  # the main topics, in English
    assert fallback == message("decline.topics.default", "en").split("; ") and not CJK.search("".join(fallback))


@pytest.mark.parametrize("lang", ["zh-Hans", "zh-Hant", "en"])
def test_our_follow_up_question_leads_back_to_its_section(lang: str) -> None:
    topics = Topics({"跨境数据": "cross-border data flows"})
    (named,) = topics.nearest([_passage("清单", "跨境数据")], lang)
    assert topics.asked(topics.question(named, lang)) == "跨境数据"
    assert topics.asked("跨境数据有哪些规定？") is None  # a question of the user's own


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The shipped sources, indexed with the fake embedder (the topics do not depend on meaning)."""
    settings = make_tiny_settings(tmp_path_factory.mktemp("topics"))
    shutil.rmtree(settings.index_dir / "sources")
    shutil.copytree(REPO / "index" / "sources", settings.index_dir / "sources")
    build_indexer(settings, FakeEmbedder()).build()
    return build_assistant(settings, embedder=FakeEmbedder())


def test_every_topic_of_the_shipped_sources_has_an_english_name(shipped: Assistant) -> None:
    names = {n for c in shipped.reader.chunks if (n := topic_name(c)) is not None}
    assert names and names <= set(NAMES), sorted(names - set(NAMES))


@pytest.mark.parametrize("lang", ["zh-Hans", "zh-Hant", "en"])
def test_every_suggestion_we_offer_quotes_the_section_it_names(shipped: Assistant, lang: str) -> None:
    topics = shipped.topics
    for name, english in NAMES.items():
        shown = {"zh-Hans": name, "zh-Hant": to_traditional(name), "en": english}[lang]
        answer = shipped.answer(topics.question(shown, lang), lang=lang)
        assert answer.answerable and answer.citations, (lang, name)
        assert all(name in c.section for c in answer.citations), (lang, name, [c.section for c in answer.citations])
        assert answer.lang == lang and (lang != "zh-Hant" or "shown" in answer.citations[0].meta)


def test_an_english_decline_on_the_shipped_sources_suggests_in_english(shipped: Assistant) -> None:
    for chunk in shipped.reader.chunks:  # whichever passages were nearest
        suggestions = shipped.decliner.suggestions([Passage(chunk=chunk, score=1.0)], "en")
        assert suggestions and not any(CJK.search(s) for s in suggestions), (chunk.section, suggestions)


def test_an_english_decline_names_the_official_website_before_the_chinese_quote(shipped: Assistant) -> None:
    english = shipped.decliner.decline("Where can I park my car?", "en", [], reason="no-evidence")
    channel = english.text.splitlines()[-1]
    assert re.match(r"Official channel: [a-z0-9.-]+\.cn \(in the sources' words: .*\[1\]\)$", channel), channel
    chinese = shipped.decliner.decline("哪里可以停车？", "zh-Hans", [], reason="no-evidence")
    assert chinese.text.splitlines()[-1] == (  # the source's sentence as it stands
        "官方渠道：河套发展署：官网为 htcz.sz.gov.cn，其“入驻—政策—文件”栏目刊载园区条例等文件。[1]")
