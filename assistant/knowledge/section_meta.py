"""Metadata for one section of a document: the per-section form of front matter.

A policy list holds many policies in one file, each with its own issuer, document number, dates, status and
official link. Under a Markdown heading, a comment block that starts with ``<!-- meta`` holds YAML
``key: value`` lines for that section and every section below it (until the next heading of the same or a
higher level); a key set here overrides the document's front matter for those chunks and their citations.
The block is invisible when the Markdown is rendered and is never part of a chunk's text::

    ### P09 《财政部 税务总局关于……企业所得税优惠政策的通知》
    <!-- meta
    doc_no: 财税〔2024〕13号
    issuer: 财政部、税务总局
    effective_from: 2023-01-01
    expires: 2027-12-31
    url: https://www.example.gov.cn/p09.html
    -->

>>> parse_section_meta("<!-- meta\\ndoc_no: 国发〔2023〕12号\\nexpires: 2027-12-31\\n-->")
{'doc_no': '国发〔2023〕12号', 'expires': '2027-12-31'}
"""

from __future__ import annotations

import datetime as dt
import re

import yaml

#: The first line of a section-metadata block (at the start of a line, no indent).
OPENING = re.compile(r"^<!--\s*meta\b")
CLOSING = "-->"
#: Keys a section may set: the document keys that travel into citations, and the policy lifecycle.
SECTION_KEYS = ("kind", "issuer", "doc_no", "date", "status", "park", "url", "about", "period", "note",
                "effective_from", "expires", "superseded_by", "scope")


def parse_section_meta(block: str) -> dict[str, str]:
    """The fields of one ``<!-- meta … -->`` block as strings; ValueError (saying what is wrong) otherwise."""
    body = OPENING.sub("", block.strip(), count=1)
    if not body.rstrip().endswith(CLOSING):
        raise ValueError("a '<!-- meta' block must end with '-->' on its own line")
    body = body.rstrip()[: -len(CLOSING)]
    try:
        fields = yaml.safe_load(body) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"section metadata is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(fields, dict):
        raise ValueError("section metadata must be 'key: value' lines")
    unknown = sorted(str(k) for k in fields if k not in SECTION_KEYS)
    if unknown:
        raise ValueError(f"unknown section metadata key(s) {', '.join(unknown)}; known: {', '.join(SECTION_KEYS)}")
    out: dict[str, str] = {}
    for key, value in fields.items():
        if value is None or value == "":
            continue
        out[str(key)] = value.isoformat() if isinstance(value, dt.date) else str(value).strip()
    return out


def meta_blocks(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, block)`` of every section-metadata block of ``text`` (offsets into ``text``)."""
    found = []
    pos = 0
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if OPENING.match(lines[i]):
            start = pos
            j = i
            while j < len(lines) and CLOSING not in lines[j]:
                pos += len(lines[j])
                j += 1
            if j < len(lines):
                pos += len(lines[j])
            end = pos
            found.append((start, end, text[start:end]))
            i = j + 1
            continue
        pos += len(lines[i])
        i += 1
    return found
