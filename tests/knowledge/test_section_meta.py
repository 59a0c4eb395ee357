"""Per-section metadata (``<!-- meta`` blocks): parsed, validated at ingest, carried into chunks and citations."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answering.citations import make_citation
from assistant.data import Passage
from assistant.errors import IngestError
from assistant.knowledge.chunking import chunk_document
from assistant.knowledge.ingest import load_document
from assistant.knowledge.section_meta import parse_section_meta

DOC = """---
title: 政策清单
issuer: 多个机关
---

# 政策清单

<!-- meta
kind: policy
-->

## 二、税收

### P09 企业所得税
<!-- meta
doc_no: 财税〔2024〕13号
expires: 2027-12-31
url: https://example.gov.cn/p09
issuer: 财政部、税务总局
-->

- 税率：减按15%征收。

#### 条件
- 须同时满足两项条件。

### P10 其他

- 没有元数据的条目。
"""


def _chunks(tmp_path: Path, text: str = DOC) -> list:
    path = tmp_path / "list.md"
    path.write_text(text, encoding="utf-8")
    doc = load_document(path, tmp_path)
    return chunk_document(doc, len, max_tokens=200, min_tokens=1)


def test_section_meta_applies_to_its_section_and_below_and_overrides_front_matter(tmp_path: Path) -> None:
    p09, cond, p10 = _chunks(tmp_path)
    assert p09.section[-1] == "P09 企业所得税" and cond.section[-1] == "条件"
    for c in (p09, cond):
        assert (c.meta["doc_no"], c.meta["expires"], c.meta["url"]) == ("财税〔2024〕13号", "2027-12-31",
                                                                          "https://example.gov.cn/p09")
        assert c.meta["issuer"] == "财政部、税务总局"  # the section overrides the document's issuer
    assert "doc_no" not in p10.meta and "url" not in p10.meta and p10.meta["issuer"] == "多个机关"
    assert {c.meta["kind"] for c in (p09, cond, p10)} == {"policy"}  # a block before any section: whole file


def test_meta_blocks_are_never_chunk_text_and_offsets_stay_exact(tmp_path: Path) -> None:
    (tmp_path / "x.md").write_text(DOC, encoding="utf-8")
    doc = load_document(tmp_path / "x.md", tmp_path)
    for c in chunk_document(doc, len, max_tokens=200, min_tokens=1):
        assert "<!--" not in c.text and "-->" not in c.text and "doc_no" not in c.text
        assert doc.text[c.start : c.end] == c.text


def test_citation_carries_the_section_metadata(tmp_path: Path) -> None:
    p09 = _chunks(tmp_path)[0]
    citation = make_citation(1, Passage(chunk=p09, score=1.0))
    assert (citation.doc_no, citation.url, citation.issuer) == ("财税〔2024〕13号", "https://example.gov.cn/p09",
                                                                "财政部、税务总局")


@pytest.mark.parametrize(("block", "message"), [
    ("<!-- meta\nexpires: [unclosed\n-->", "not valid YAML"),
    ("<!-- meta\n- a list\n-->", "'key: value' lines"),
    ("<!-- meta\nfavourite_colour: green\n-->", r"unknown section metadata key\(s\) favourite_colour"),
    ("<!-- meta\nexpires: 2027-12-31\n", "must end with '-->'"),
])
def test_bad_blocks_are_refused_with_the_reason(block: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_section_meta(block)


def test_a_file_with_a_bad_block_is_unreadable_and_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: x\n---\n\n# x\n\n## a\n<!-- meta\nscope: [oops\n-->\n\ntext.\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"bad\.md: line 8: section metadata is not valid YAML"):
        load_document(path, tmp_path)


def test_dates_become_iso_strings() -> None:
    assert parse_section_meta("<!-- meta\neffective_from: 2024-01-01\nscope: 深圳园区\n-->") == {
        "effective_from": "2024-01-01", "scope": "深圳园区"}
