"""Tests for assistant.knowledge.ingest: every loader against real files made by the real libraries
(fpdf2, python-docx)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import zipfile
from pathlib import Path

import pytest
from support import REPO

from assistant.errors import IngestError
from assistant.knowledge.ingest import SkippedFile, load_document, load_sources

SHIPPED_SOURCES = REPO / "index" / "sources"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _cjk_font() -> Path | None:
    for pattern in ("NotoSansCJK-Regular.ttc", "NotoSansCJK*.ttc", "NotoSerifCJK*.ttc", "*CJK*.otf", "*CJK*.ttf"):
        found = sorted(Path("/usr/share/fonts").rglob(pattern))
        if found:
            return found[0]
    return None


def make_pdf(path: Path, pages: list[str], *, title: str = "", author: str = "", font: Path | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC))
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    if font is not None:
        # Index 2 of the Noto CJK collection is the Simplified Chinese face; every face covers the test text.
        pdf.add_font("body", fname=str(font), collection_font_number=2 if font.suffix == ".ttc" else 0)
    for text in pages:
        pdf.add_page()
        pdf.set_font("body" if font is not None else "helvetica", size=12)
        if text:
            pdf.multi_cell(0, 8, text)
    pdf.output(str(path))
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Hetao Talent Measures", level=1)
    document.add_paragraph("These measures apply to the Shenzhen Park.")
    document.add_heading("Eligibility", level=2)
    document.add_paragraph("Applicants must meet the following:")
    document.add_paragraph("Registered in the park", style="List Bullet")
    document.add_paragraph("Tax paid in Shenzhen", style="List Bullet")
    document.add_paragraph("For at least one year", style="List Bullet 2")
    document.add_paragraph("第三条 本办法自发布之日起施行。")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["Item", "Amount", "Unit"], ["Subsidy", "500000", "CNY"], ["Note", "", ""]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(2, 1).merge(table.cell(2, 2)).text = "capped per year"
    document.add_paragraph("Final paragraph.")
    props = document.core_properties
    props.title = "河套人才措施"
    props.author = "深圳市科技创新局"
    props.created = dt.datetime(2024, 3, 1, 8, 0, 0)
    document.save(str(path))
    return path


# --------------------------------------------------------------------------------------------------- Markdown


def test_markdown_front_matter_is_parsed_and_body_kept_exactly(tmp_path: Path) -> None:
    body = "\n# 河套规划\n\n阅读说明：\n\n## 一、总则\n\n1. 第一条。\n"
    raw = (
        "---\ntitle: 规划摘编\ndoc_no: 国发〔2023〕12号\ndate: 2023-08-08\nyear: 2023\n"
        "tags: [a, b]\nempty:\n---\n" + body
    )
    path = tmp_path / "plan.md"
    path.write_text(raw, encoding="utf-8")

    doc = load_document(path, tmp_path)

    assert doc.source == "plan.md"
    assert doc.text == body
    assert doc.text.index("## 一、总则") == body.index("## 一、总则")
    assert doc.meta["title"] == "规划摘编"  # front matter wins over the first heading
    assert doc.meta["doc_no"] == "国发〔2023〕12号"
    assert doc.meta["date"] == "2023-08-08"  # YAML would make this a date; meta holds strings
    assert doc.meta["year"] == "2023"
    assert doc.meta["tags"] == "a; b"
    assert "empty" not in doc.meta
    assert doc.meta["format"] == "md"
    assert doc.meta["sha1"] == hashlib.sha1(raw.encode("utf-8")).hexdigest()
    json.dumps(doc.meta)


def test_markdown_title_falls_back_to_first_h1_and_newlines_are_normalised(tmp_path: Path) -> None:
    raw = "\ufeff## 前言\r\n\r\n```\r\n# not a heading\r\n```\r\n\r\n# 深港合作 #\r\n正文。\r\n"
    path = tmp_path / "notes" / "no-front-matter.markdown"
    path.parent.mkdir()
    path.write_bytes(raw.encode("utf-8"))

    doc = load_document(path, tmp_path)

    assert doc.source == "notes/no-front-matter.markdown"
    assert doc.text == "## 前言\n\n```\n# not a heading\n```\n\n# 深港合作 #\n正文。\n"
    assert doc.meta["title"] == "深港合作"
    assert doc.meta["format"] == "md"


def test_markdown_with_broken_front_matter_is_skipped_with_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_text("---\ntitle: [unclosed\n---\n# Body\n", encoding="utf-8")
    (tmp_path / "good.md").write_text("# Good\n", encoding="utf-8")

    docs, skipped = load_sources(tmp_path)

    assert [d.source for d in docs] == ["good.md"]
    assert len(skipped) == 1 and skipped[0].source == "bad.md"
    assert "front matter is not valid YAML" in skipped[0].reason


# -------------------------------------------------------------------------------------------------------- txt


def test_txt_in_gb18030_keeps_traditional_characters(tmp_path: Path) -> None:
    text = "河套深港科技創新合作區\n香港園區與深圳園區 𠀀\n"  # Traditional forms and a CJK Ext-B character
    path = tmp_path / "hk.txt"
    path.write_bytes(text.encode("gb18030"))

    doc = load_document(path, tmp_path)

    assert doc.text == text
    assert doc.meta == {
        "encoding": "gb18030",
        "format": "txt",
        "sha1": hashlib.sha1(text.encode("gb18030")).hexdigest(),
    }


def test_txt_utf8_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff第一行\r\n第二行\r第三行".encode())

    doc = load_document(path, tmp_path)

    assert doc.text == "第一行\n第二行\n第三行"
    assert doc.meta["encoding"] == "utf-8"


def test_binary_txt_is_skipped_as_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "binary.txt").write_bytes(b"\x00\xff\xfe\x80garbage\x00\x81")

    docs, skipped = load_sources(tmp_path)

    assert docs == []
    assert skipped[0].source == "binary.txt"
    assert skipped[0].reason.startswith("not valid UTF-8")


# ------------------------------------------------------------------------------------------------------- HTML

HTML = """<!DOCTYPE html>
<html><head><meta charset="gb2312"><title>河套政策 | 深圳</title>
<meta name="Author" content="福田区人民政府"><meta name="date" content="2024-05-01">
<style>p { color: red; }</style><script>var secret = "DO-NOT-INDEX";</script></head>
<body>
<nav><a href="/">首页</a> <a href="/news">新闻</a></nav>
<h1>河套合作区
  政策</h1>
<p>第一段，<b>加粗</b>文字。<br>第二行。</p>
<div>第二段<script>alert("x")</script></div>
<h2>适用对象</h2>
<ul><li>港澳青年</li><li>科研机构<ul><li>高校</li></ul></li></ul>
<table><tr><th>项目</th><th>金额</th></tr><tr><td>补贴</td><td>50万元</td></tr></table>
<!-- a comment -->
</body></html>"""


def test_html_drops_script_style_nav_and_keeps_structure(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_bytes(HTML.encode("gb2312"))

    doc = load_document(path, tmp_path)

    assert doc.text == (
        "# 河套合作区 政策\n\n"
        "第一段，加粗文字。\n第二行。\n\n"
        "第二段\n\n"
        "## 适用对象\n\n"
        "- 港澳青年\n- 科研机构\n  - 高校\n\n"
        "项目 | 金额\n补贴 | 50万元"
    )
    for unwanted in ("DO-NOT-INDEX", "alert", "color", "首页", "comment"):
        assert unwanted not in doc.text
    assert doc.meta["title"] == "河套政策 | 深圳"
    assert doc.meta["author"] == doc.meta["issuer"] == "福田区人民政府"
    assert doc.meta["date"] == "2024-05-01"
    assert doc.meta["format"] == "html"


def test_html_without_title_uses_first_h1(tmp_path: Path) -> None:
    path = tmp_path / "plain.html"
    path.write_text("<html><body><p>intro</p><h1>Hetao Zone</h1><p>text</p></body></html>", encoding="utf-8")

    doc = load_document(path, tmp_path)

    assert doc.meta["title"] == "Hetao Zone"
    assert doc.text == "intro\n\n# Hetao Zone\n\ntext"


# -------------------------------------------------------------------------------------------------------- PDF


def test_pdf_pages_text_and_document_info(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "measures.pdf",
        ["Hetao Shenzhen Park measures.\nArticle 1 applies to all.", "Article 2 takes effect on 1 March."],
        title="Hetao Measures",
        author="Futian District",
        font=DEJAVU if DEJAVU.exists() else None,
    )

    doc = load_document(path, tmp_path)

    assert doc.text == "Hetao Shenzhen Park measures.\nArticle 1 applies to all.\n\nArticle 2 takes effect on 1 March."
    assert doc.meta["pages"] == 2
    assert doc.meta["title"] == "Hetao Measures"
    assert doc.meta["author"] == doc.meta["issuer"] == "Futian District"
    assert doc.meta["created"].startswith("2024-03-01T09:30")
    assert doc.meta["format"] == "pdf"
    assert doc.meta["sha1"] == hashlib.sha1(path.read_bytes()).hexdigest()
    json.dumps(doc.meta)


def test_pdf_with_chinese_text(tmp_path: Path) -> None:
    font = _cjk_font()
    if font is None:
        pytest.skip("no CJK font under /usr/share/fonts (install fonts-noto-cjk); the English PDF test still runs")
    text = "河套深港科技创新合作区深圳园区\n第二条 香港園區與深圳園區協同發展。"
    path = make_pdf(tmp_path / "规划.pdf", [text], title="深圳园区发展规划", author="国务院", font=font)

    doc = load_document(path, tmp_path)

    assert doc.source == "规划.pdf"
    assert doc.text == text
    assert "\x00" not in doc.text
    assert doc.meta["title"] == "深圳园区发展规划"
    assert doc.meta["issuer"] == "国务院"


def test_pdf_without_text_is_skipped_as_scanned(tmp_path: Path) -> None:
    make_pdf(tmp_path / "scan.pdf", ["", ""])

    docs, skipped = load_sources(tmp_path)

    assert docs == []
    assert skipped == [SkippedFile("scan.pdf", "no text could be extracted (scanned PDF? run OCR on it first)")]


# ------------------------------------------------------------------------------------------------------- DOCX


def test_docx_headings_lists_tables_and_core_properties(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "measures.docx")

    doc = load_document(path, tmp_path)

    assert doc.text == (
        "# Hetao Talent Measures\n\n"
        "These measures apply to the Shenzhen Park.\n\n"
        "## Eligibility\n\n"
        "Applicants must meet the following:\n\n"
        "- Registered in the park\n- Tax paid in Shenzhen\n  - For at least one year\n\n"
        "第三条 本办法自发布之日起施行。\n\n"
        "Item | Amount | Unit\nSubsidy | 500000 | CNY\nNote | capped per year\n\n"
        "Final paragraph."
    )
    assert doc.meta["title"] == "河套人才措施"
    assert doc.meta["author"] == doc.meta["issuer"] == "深圳市科技创新局"
    assert doc.meta["created"].startswith("2024-03-01T08:00")
    assert doc.meta["format"] == "docx"
    json.dumps(doc.meta)


# -------------------------------------------------------------------------------------------------- the walk


def test_corrupt_files_are_skipped_and_named_while_the_rest_loads(tmp_path: Path) -> None:
    rng = random.Random(7)
    (tmp_path / "a-broken.pdf").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    (tmp_path / "b-broken.docx").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    with zipfile.ZipFile(tmp_path / "c-not-word.docx", "w") as zf:
        zf.writestr("hello.txt", "a zip, but not a Word document")
    (tmp_path / "d-empty.md").write_bytes(b"")
    (tmp_path / "e-sheet.xlsx").write_bytes(b"PK\x03\x04")
    make_pdf(tmp_path / "f-good.pdf", ["Good PDF text."])
    make_docx(tmp_path / "g-good.docx")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "h-good.md").write_text("# Sub\n\ntext\n", encoding="utf-8")
    (tmp_path / "i-good.txt").write_text("plain", encoding="utf-8")
    (tmp_path / ".hidden.md").write_text("# hidden\n", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "notes.md").write_text("# in git\n", encoding="utf-8")
    (tmp_path / "~$g-good.docx").write_bytes(b"lock file")

    docs, skipped = load_sources(tmp_path)

    assert [d.source for d in docs] == ["f-good.pdf", "g-good.docx", "i-good.txt", "sub/h-good.md"]
    reasons = {s.source: s.reason for s in skipped}
    assert list(reasons) == ["a-broken.pdf", "b-broken.docx", "c-not-word.docx", "d-empty.md", "e-sheet.xlsx"]
    assert reasons["a-broken.pdf"].startswith("not a valid PDF: ")
    assert reasons["b-broken.docx"].startswith("not a valid DOCX: ")
    assert reasons["c-not-word.docx"].startswith("not a valid DOCX: ")
    assert reasons["d-empty.md"] == "empty file"
    assert reasons["e-sheet.xlsx"].startswith("unsupported type '.xlsx'")
    assert all(isinstance(s, SkippedFile) for s in skipped)
    for doc in docs:
        json.dumps(doc.meta)


def test_load_document_raises_ingest_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\nnot really")

    with pytest.raises(IngestError, match=r"broken\.pdf: not a valid PDF"):
        load_document(path, tmp_path)


def test_missing_root_raises_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"does not exist.*PARK_SOURCES_DIR"):
        load_sources(tmp_path / "nope")
    (tmp_path / "file.md").write_text("# x", encoding="utf-8")
    with pytest.raises(IngestError, match="is not a folder"):
        load_sources(tmp_path / "file.md")


def test_shipped_sources_load_with_front_matter() -> None:
    docs, skipped = load_sources(SHIPPED_SOURCES)

    assert skipped == []
    assert [d.source for d in docs] == sorted(p.relative_to(SHIPPED_SOURCES).as_posix()
                                              for p in SHIPPED_SOURCES.rglob("*.md"))
    by_source = {d.source: d for d in docs}
    plan = by_source["hetao-plan-digest.md"]
    assert plan.meta["doc_no"] == "国发〔2023〕12号"
    assert plan.meta["issuer"] == "国务院"
    assert by_source["hetao-seed-article.md"].meta["kind"] == "解读文章"
    for doc in docs:
        raw = (SHIPPED_SOURCES / doc.source).read_bytes()
        assert doc.meta["title"] and doc.title == doc.meta["title"]
        assert doc.meta["sha1"] == hashlib.sha1(raw).hexdigest()
        assert not doc.text.startswith("---")
        assert raw.decode("utf-8").endswith(doc.text)  # the body is the file's own text, offsets included
        # A document split out of a collection starts at its category heading (## …), as it sat in the list.
        assert ("\n# " in doc.text or doc.meta.get("collection")) and "\n## " in doc.text
        json.dumps(doc.meta)
