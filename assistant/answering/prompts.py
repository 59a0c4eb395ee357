"""Prompt templates are files in ``prompts/``, rendered strictly.

A template declares its variables in a first line ``# variables: a, b``; rendering with a missing or an
undeclared variable is an error that names it. Placeholders are ``{name}``; ``{{``/``}}`` are literal braces.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "hi.txt").write_text("# variables: who\\nHello {who}")
>>> Prompts(d).render("hi", who="河套")
'Hello 河套'
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path

from assistant.errors import PromptError

_HEADER = re.compile(r"^#\s*variables:\s*(.*)$")


class Prompts:
    """Loads ``<dir>/<name>.txt`` templates; caches them (they are read once per process)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @lru_cache(maxsize=64)  # noqa: B019 — few templates, one Prompts per process
    def _load(self, name: str) -> tuple[str, frozenset[str]]:
        path = self.directory / f"{name}.txt"
        if not path.exists():
            raise PromptError(f"prompt template {path} is missing (PARK_PROMPTS_DIR={self.directory})")
        text = path.read_text(encoding="utf-8")
        first, _, body = text.partition("\n")
        m = _HEADER.match(first)
        if not m:
            raise PromptError(f"{path}: first line must declare variables, e.g. '# variables: question'")
        declared = frozenset(v.strip() for v in m.group(1).split(",") if v.strip())
        used = {f for _, f, _, _ in string.Formatter().parse(body) if f}
        if used != declared:
            raise PromptError(f"{path}: declares {sorted(declared)} but uses {sorted(used)}")
        return body, declared

    def variables(self, name: str) -> frozenset[str]:
        return self._load(name)[1]

    def render(self, name: str, **values: object) -> str:
        """Render template ``name``; every declared variable must be given, and nothing else."""
        body, declared = self._load(name)
        missing = declared - values.keys()
        if missing:
            raise PromptError(f"prompt {name!r} needs {', '.join(sorted(missing))}")
        extra = values.keys() - declared
        if extra:
            raise PromptError(f"prompt {name!r} does not use {', '.join(sorted(extra))}")
        return body.format(**values)
