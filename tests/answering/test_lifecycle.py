"""Policy lifecycle: the status derived from dates, the notice on answers that cite an expired or superseded
policy (in the asker's language), and the lifecycle fields on citations — over a real built index."""

from __future__ import annotations

import datetime as dt

import pytest
from support import make_tiny_settings

from assistant.answering.assistant import Assistant
from assistant.answering.lifecycle import mark_lifecycle
from assistant.data import Answer, Chunk, Citation, Filters, Passage, citation_to_dict
from assistant.knowledge.lifecycle import STATUSES, status_of, wanted_scopes, wanted_statuses
from assistant.testing import FakeEmbedder
from assistant.wiring import build_assistant, build_indexer

TODAY = dt.date(2026, 6, 1)


@pytest.mark.parametrize(("meta", "expected"), [
    ({"effective_from": "2023-01-01", "expires": "2027-12-31"}, "in_force"),
    ({"effective_from": "2023-01-01"}, "in_force"),
    ({"expires": "2026-08-15"}, "expiring"),          # 75 days ahead
    ({"expires": "2026-08-30"}, "expiring"),          # 90 days ahead: still expiring
    ({"expires": "2026-08-31"}, "in_force"),          # 91 days ahead
    ({"expires": "2026-05-31"}, "expired"),
    ({"expires": dt.date(2026, 5, 31)}, "expired"),   # YAML gives dates as dates
    ({"effective_from": "2026-07-01"}, "upcoming"),
    ({"superseded_by": "财税〔2026〕1号", "expires": "2027-12-31"}, "superseded"),
    ({"status": "draft", "effective_from": "2023-01-01"}, "draft"),
    ({"status": "已废止"}, "superseded"),
    ({"status": "现行有效"}, "in_force"),
    ({"status": "expired", "expires": "2030-01-01"}, "expired"),  # declared wins over dates
    ({}, "undated"),
    ({"expires": "未读到"}, "undated"),                  # not a date: nothing is derived from it
])
def test_status_is_derived_from_the_dates_against_today(meta: dict[str, object], expected: str) -> None:
    assert status_of(meta, TODAY) == expected
    assert expected in STATUSES


def test_filter_values_are_checked_and_widened() -> None:
    assert wanted_statuses(["in_force"]) == {"in_force", "expiring"}
    assert wanted_statuses(["已失效"]) == {"expired"}
    assert wanted_scopes(["香港园区"]) == {"香港园区", "both"}
    with pytest.raises(ValueError, match="unknown status 'valid'"):
        wanted_statuses(["valid"])
    with pytest.raises(ValueError, match="known: 深圳园区, 香港园区, both"):
        wanted_scopes(["hk"])


def _answer(meta: dict[str, object], lang: str = "zh-Hans", notice: str | None = None) -> Answer:
    chunk = Chunk(id="c1", source="policies/p06.md", text="有效期：2023年1月1日至2025年12月31日。", start=0, end=20,
                  meta={"title": "《某项个税优惠通知》", **meta})
    cite = Citation(n=1, chunk_id="c1", source=chunk.source, title=chunk.title, section="", quote=chunk.text,
                    start=0, end=20)
    return Answer(question="q", text="…[1]", citations=(cite,), passages=(Passage(chunk, 1.0),), lang=lang,
                  notice=notice)


@pytest.mark.parametrize(("lang", "words"), [
    ("zh-Hans", ["《某项个税优惠通知》（2025-12-31）", "已过有效期"]),
    ("zh-Hant", ["《某项个税优惠通知》（2025-12-31）", "已過有效期"]),
    ("en", ["《某项个税优惠通知》 (2025-12-31)", "has expired"]),
])
def test_expired_citation_adds_a_notice_in_the_askers_language(lang: str, words: list[str]) -> None:
    marked = mark_lifecycle(_answer({"expires": "2025-12-31"}, lang), TODAY)
    assert marked.notice and all(w in marked.notice for w in words)
    out = citation_to_dict(marked.citations[0])
    assert out["status"] == "expired" and out["expires"] == "2025-12-31" and out["effective_from"] is None


def test_superseded_citation_names_its_replacement_after_an_earlier_notice() -> None:
    marked = mark_lifecycle(_answer({"superseded_by": "财税〔2026〕1号"}, notice="语言模型暂时不可用。"), TODAY)
    assert marked.notice is not None and marked.notice.startswith("语言模型暂时不可用。")
    assert "《某项个税优惠通知》（财税〔2026〕1号）" in marked.notice and "已被新文件取代" in marked.notice


@pytest.mark.parametrize("meta", [{"expires": "2027-12-31"}, {"expires": "2026-07-01"}, {}])
def test_policies_in_force_or_undated_add_no_notice(meta: dict[str, object]) -> None:
    marked = mark_lifecycle(_answer(meta), TODAY)
    assert marked.notice is None
    assert marked.citations[0].meta["lifecycle"] == status_of(meta, TODAY)


# ---------------------------------------------------------------------------------- through the assistant

EXPIRED_META = "<!-- meta\nexpires: 2025-12-31\nscope: 深圳园区\n-->\n"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    settings = make_tiny_settings(tmp_path_factory.mktemp("lifecycle"))
    policy = settings.sources / "policy-excerpt.md"
    heading = "### P06 《财政部 税务总局关于河套深港科技创新合作区深圳园区个人所得税优惠政策的通知》\n"
    policy.write_text(policy.read_text(encoding="utf-8").replace(heading, heading + EXPIRED_META), encoding="utf-8")
    build_indexer(settings, FakeEmbedder()).build()
    return build_assistant(settings, embedder=FakeEmbedder())


@pytest.mark.parametrize(("lang", "word"), [("zh-Hans", "已过有效期"), ("en", "has expired")])
def test_an_answer_citing_an_expired_policy_says_so(assistant: Assistant, lang: str, word: str) -> None:
    answer = assistant.answer("在深圳园区工作的香港居民个人所得税有什么优惠？", lang=lang)
    cited = [c for c in answer.citations if "P06" in c.section]
    assert answer.answerable and cited
    assert all(c.meta["lifecycle"] == "expired" and c.meta["scope"] == "深圳园区" for c in cited)
    assert answer.notice is not None and word in answer.notice and "2025-12-31" in answer.notice


def test_status_filter_leaves_the_expired_policy_out(assistant: Assistant) -> None:
    answer = assistant.answer("在深圳园区工作的香港居民个人所得税有什么优惠？", filters=Filters(statuses=("expired",)))
    assert answer.citations and all(c.meta["lifecycle"] == "expired" for c in answer.citations)
    kept = assistant.answer("在深圳园区工作的香港居民个人所得税有什么优惠？", filters=Filters(statuses=("undated",)))
    assert all("P06" not in c.section for c in kept.citations)
    assert kept.notice is None or "有效期" not in kept.notice
