"""Tab-separated data files of patterns under ``index/`` (``unread_details.tsv``, ``audiences.tsv``): one row a
line, ``#`` comments and blank lines skipped, the last columns regular expressions. A bad row names its line.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "rows.tsv"
>>> _ = path.write_text("# name, pattern\\namount\\t预算|多少钱\\n", encoding="utf-8")
>>> [(names, [p.pattern for p in patterns]) for names, patterns in pattern_rows(path, ("name", "pattern"), 1)]
[(['amount'], ['预算|多少钱'])]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path


def pattern_rows(path: Path, fields: Sequence[str], patterns: int) -> list[tuple[list[str], list[re.Pattern[str]]]]:
    """The rows of ``path``, each as its plain values and its last ``patterns`` values compiled (case-insensitive);
    a row without a value for each of ``fields`` or with a bad expression raises ValueError naming its line."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != len(fields) or not all(parts):
            raise ValueError(f"{path}:{number}: expected {'<TAB>'.join(fields)}")
        try:
            compiled = [re.compile(p, re.I) for p in parts[len(parts) - patterns :]]
        except re.error as exc:
            raise ValueError(f"{path}:{number}: not a regular expression ({exc})") from exc
        rows.append((parts[: len(parts) - patterns], compiled))
    return rows
