"""The groups a rule may be asked for (index/audiences.tsv): the file's rows are checked when loaded, and the
shipped groups are named by the words people use."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO

from assistant.answering.audiences import Audiences


def _always(question: str) -> bool:
    return True


def test_the_file_is_checked_when_loaded(tmp_path: Path) -> None:
    assert Audiences.load(tmp_path / "none.tsv", _always).rows == ()
    path = tmp_path / "groups.tsv"
    path.write_text("# comment\n澳门居民\tMacau residents\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"groups\.tsv:2: expected"):
        Audiences.load(path, _always)
    path.write_text("澳门居民\tMacau residents\t澳门(\t澳门\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"groups\.tsv:1: not a regular expression"):
        Audiences.load(path, _always)


@pytest.mark.parametrize(("question", "quoted", "group"), [
    ("我係澳門居民，可唔可以登記白名單？", "白名单科研机构人员可免费预约乘坐。", "澳门居民"),
    ("Can a part-time research assistant use the No. 1 channel?", "园区企业和机构的员工获准走一号通道。", "兼职人员"),
    ("我是个体工商户，能享受15%的优惠吗？", "园区企业所得税减按15%征收。", "个体工商户"),
    ("我是在读研究生，在园区实习，能办人才签注吗？", "内地人才受雇于合作区的机构，即可申请人才签注。",
     "学生和实习生"),
    ("I'm a foreigner working in the park. Can I get the GBA tax subsidy?",
     "对在大湾区工作的境外（含港澳台）高端人才给予补贴。", None),  # 境外 names foreign nationals
    ("我是随行家属，能申请这个补贴吗？", "取得香港居民身份者（不含受养人）。", None),  # 受养人: dependants named
])
def test_the_shipped_groups(question: str, quoted: str, group: str | None) -> None:
    audiences = Audiences.load(REPO / "index" / "audiences.tsv", _always)
    assert [a.name for a in audiences.not_stated(question, quoted)] == ([group] if group else [])
