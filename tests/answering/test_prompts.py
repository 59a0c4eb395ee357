"""Prompt templates: strict rendering, and every shipped template declares exactly what it uses."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from support import REPO

from assistant.answering.prompts import Prompts
from assistant.errors import PromptError

PROMPTS_DIR = REPO / "prompts"


@pytest.fixture
def prompts(tmp_path: Path) -> Prompts:
    (tmp_path / "hi.txt").write_text("# variables: who, where\nHello {who} in {where}. Literal {{braces}}.",
                                     encoding="utf-8")
    (tmp_path / "none.txt").write_text("# variables:\nNo variables here.", encoding="utf-8")
    (tmp_path / "undeclared.txt").write_text("# variables: who\nHello {who} and {stranger}.", encoding="utf-8")
    (tmp_path / "unused.txt").write_text("# variables: who, spare\nHello {who}.", encoding="utf-8")
    (tmp_path / "noheader.txt").write_text("Hello {who}.", encoding="utf-8")
    return Prompts(tmp_path)


def test_render(prompts: Prompts) -> None:
    assert prompts.render("hi", who="河套", where="深圳") == "Hello 河套 in 深圳. Literal {braces}."
    assert prompts.render("none") == "No variables here."
    assert prompts.variables("hi") == frozenset({"who", "where"})
    # Values are inserted as they are: braces inside a value are not re-read as placeholders.
    assert prompts.render("hi", who="{where}", where="x") == "Hello {where} in x. Literal {braces}."


def test_missing_variable_is_named(prompts: Prompts) -> None:
    with pytest.raises(PromptError, match="where"):
        prompts.render("hi", who="河套")


def test_extra_variable_is_rejected(prompts: Prompts) -> None:
    with pytest.raises(PromptError, match="extra"):
        prompts.render("hi", who="a", where="b", extra="c")


def test_template_using_an_undeclared_placeholder_is_rejected(prompts: Prompts) -> None:
    with pytest.raises(PromptError, match="stranger"):
        prompts.render("undeclared", who="a")
    with pytest.raises(PromptError, match="spare"):
        prompts.variables("unused")


def test_template_without_header_is_rejected(prompts: Prompts) -> None:
    with pytest.raises(PromptError, match="variables"):
        prompts.render("noheader", who="a")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(PromptError) as err:
        Prompts(tmp_path).render("absent")
    assert str(tmp_path / "absent.txt") in str(err.value)


SHIPPED = sorted(p.stem for p in PROMPTS_DIR.glob("*.txt"))


def test_prompts_are_shipped() -> None:
    assert {"system", "answer", "condense_question"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_prompt_declares_exactly_what_it_uses(name: str) -> None:
    text = (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8")
    header, _, body = text.partition("\n")
    declared = {v.strip() for v in re.sub(r"^#\s*variables:", "", header).split(",") if v.strip()}
    used = {f for _, f, _, _ in string.Formatter().parse(body) if f}
    prompts = Prompts(PROMPTS_DIR)
    assert prompts.variables(name) == frozenset(declared) == frozenset(used)
    # It renders with exactly those variables, and every value lands in the text.
    values = {v: f"<<{v}>>" for v in declared}
    rendered = prompts.render(name, **values)
    assert all(value in rendered for value in values.values())
    assert not any("{" + v + "}" in rendered for v in declared)
