"""The shipped knowledge base: the policy list split into one document per policy (P01–P18), each with
metadata read from its own lines — nothing the text does not say — and indexed as it was inside the list."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from support import REPO

from assistant.data import Chunk
from assistant.knowledge.chunking import chunk_document
from assistant.knowledge.indexing import chunk_index_text
from assistant.knowledge.ingest import load_document, load_sources
from assistant.knowledge.lifecycle import SCOPES, STATUSES, lifecycle_meta
from assistant.text.tokens import count_tokens

SOURCES = REPO / "index" / "sources"
POLICIES = sorted((SOURCES / "policies").glob("p*.md"))
ORIGINAL = REPO.parent / "shared" / "corpus" / "hetao-policy-list.md"
LIST_TITLE = "河套深港科技创新合作区（深圳园区）落户相关政策清单"


def _as_written(iso: str) -> str:
    """2024-01-19 → 2024年1月19日; 2020-08 → 2020年8月 (how the documents write dates)."""
    parts = [int(p) for p in iso.split("-")]
    return "".join(f"{n}{unit}" for n, unit in zip(parts, "年月日", strict=False))


def test_one_document_per_policy() -> None:
    assert [p.name[:3] for p in POLICIES] == [f"p{n:02d}" for n in range(1, 19)]


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name[:3])
def test_policy_metadata_is_read_from_its_own_lines(path: Path) -> None:
    doc = load_document(path, SOURCES)
    meta, body = doc.meta, doc.text
    assert meta["title"].startswith(path.name[:3].upper() + " ") and f"### {meta['title']}" in body
    assert meta["collection"] == LIST_TITLE
    for key in ("issuer", "doc_no"):
        if key in meta:
            assert meta[key] in body, key
    for key in ("date", "effective_from", "expires"):
        if key in meta:
            dt.date.fromisoformat(meta[key] if meta[key].count("-") == 2 else meta[key] + "-01")
            assert _as_written(meta[key]) in body, key
    if "scope" in meta:
        assert meta["scope"] in SCOPES
        assert (meta["scope"] in body) if meta["scope"] != "both" else ("两园" in body)
    assert "url" not in meta  # no entry gives its official text's address


def test_nothing_of_the_list_was_lost_and_gaps_stay_marked() -> None:
    docs, skipped = load_sources(SOURCES)
    assert not skipped
    split = [d for d in docs if d.meta.get("collection") == LIST_TITLE]
    assert len(split) == 19  # 18 policies and what is left of the list (its introduction and contacts)
    text = "\n".join(d.text for d in split)
    assert len(re.findall(r"^### P\d\d ", text, re.M)) == 18 and "## 七、办理渠道与联系信息" in text
    if not ORIGINAL.exists():
        pytest.skip(f"{ORIGINAL} (the shared corpus) is not here")
    body = ORIGINAL.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    lines = [line for line in body.splitlines() if line.strip()]
    assert [line for line in lines if line not in text] == []  # every line, 未读到 included, is still there


def test_a_split_policy_is_indexed_under_the_list_title_and_its_path() -> None:
    chunk = Chunk(id="x", source="policies/p06.md", text="文号与日期：财税〔2024〕5号。", start=0, end=10,
                  section=("二、税收", "P06 《…通知》"), meta={"title": "P06 《…通知》", "collection": LIST_TITLE})
    assert chunk_index_text(chunk).startswith(f"{LIST_TITLE}\n二、税收 › P06 《…通知》\n")
    assert chunk.group == LIST_TITLE
    alone = Chunk(id="y", source="a.md", text="t", start=0, end=1, section=("A",), meta={"title": "A"})
    assert chunk_index_text(alone) == "A\nt" and alone.group == "a.md"


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name[:3])
def test_every_chunk_of_a_policy_carries_its_metadata_and_the_lists_path(path: Path) -> None:
    doc = load_document(path, SOURCES)
    chunks = chunk_document(doc, count_tokens)
    assert chunks
    for c in chunks:
        assert c.title == doc.meta["title"] and c.group == LIST_TITLE
        for key in ("issuer", "doc_no", "date", "effective_from", "expires", "scope"):
            assert c.meta.get(key) == (str(doc.meta[key]) if key in doc.meta else None), key
        assert c.section[0] == LIST_TITLE and c.section[-1].startswith(doc.meta["title"][:3])
        assert chunk_index_text(c).startswith(f"{LIST_TITLE}\n{c.section[1]} › ")  # the title once, as in the list
    cited = lifecycle_meta(chunks[0].meta, dt.date(2026, 11, 30))  # what a citation of it carries
    assert cited["lifecycle"] in STATUSES
    assert {k: cited.get(k) for k in ("effective_from", "expires")} == {
        k: (str(doc.meta[k]) if k in doc.meta else None) for k in ("effective_from", "expires")}
