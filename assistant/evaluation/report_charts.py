"""The evaluation report's charts: base64 PNGs drawn by matplotlib (Agg, no display, no pyplot state).

Charts show what varies between questions — where the first evidence passage ranks, MRR and R@1 by group,
the answerer's confidence when it reports one, and latency — rather than rates that sit at 100%. Chinese
labels use Noto Sans CJK when it is installed under ``/usr/share/fonts`` and fall back to matplotlib's
default font (boxes for Han characters, but no failure) when it is not.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Metrics drawn per group (language, category): the ones that spread out, not the ones at 100%.
GROUP_METRICS = ("recall_at_1", "mrr")
_LABEL = {"recall_at_1": "R@1", "mrr": "MRR"}
_PASS, _FAIL = "#4c9f70", "#d1495b"


@lru_cache(maxsize=1)
def _cjk_font() -> str | None:
    """Register Noto Sans CJK with matplotlib (once); ``None`` when it is not installed."""
    from matplotlib import font_manager

    roots = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".local/share/fonts"]
    for root in roots:
        candidates = sorted(root.glob("**/NotoSansCJK*-Regular.tt[cf]")) + sorted(root.glob("**/NotoSansCJK*.tt[cf]"))
        for path in candidates:
            try:
                font_manager.fontManager.addfont(str(path))
                return str(font_manager.FontProperties(fname=str(path)).get_name())
            except (OSError, RuntimeError):
                continue
    return None


def _png(draw: Any, size: tuple[float, float]) -> str:
    """Draw on a fresh Agg figure (no pyplot global state, so safe in any thread) → base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    font = _cjk_font()
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": family, "axes.spines.top": False, "axes.spines.right": False,
                                "font.size": 9}):
        fig = Figure(figsize=size, dpi=100, layout="constrained")
        draw(fig.add_subplot())
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def first_hit_rank(record: Mapping[str, Any]) -> int | None:
    """Rank (1-based) of the first retrieved passage that contains evidence; None when none does."""
    return next((int(p["rank"]) for p in record.get("passages", []) if p.get("hit")), None)


def rank_chart(records: Sequence[Mapping[str, Any]], k: int) -> str | None:
    """How many answerable questions found their first evidence passage at rank 1, 2, … k, or not at all."""
    ranks = [first_hit_rank(r) for r in records if r.get("metrics", {}).get("mrr") is not None]
    if not ranks:
        return None
    labels = [str(i) for i in range(1, k + 1)] + ["none"]
    counts = [sum(1 for r in ranks if r == i) for i in range(1, k + 1)] + [sum(1 for r in ranks if r is None)]

    def draw(ax: Any) -> None:
        bars = ax.bar(labels, counts, color=[_PASS] * k + [_FAIL])
        ax.bar_label(bars, fontsize=8)
        ax.set_xlabel("rank of the first passage with evidence")
        ax.set_ylabel("questions")
        ax.set_title(f"First evidence rank ({len(ranks)} answerable questions with evidence)")

    return _png(draw, (5.6, 3.0))


def group_chart(groups: Mapping[str, Mapping[str, Any]], title: str) -> str | None:
    """R@1 and MRR per group (language or category), horizontal bars sorted by MRR so the weak groups stand out."""
    names = [g for g, agg in groups.items() if agg["n"] and agg.get("mrr") is not None]
    if not names:
        return None
    names.sort(key=lambda g: groups[g]["mrr"])

    def draw(ax: Any) -> None:
        height = 0.8 / len(GROUP_METRICS)
        for i, metric in enumerate(GROUP_METRICS):
            ys = [j + (i - (len(GROUP_METRICS) - 1) / 2) * height for j in range(len(names))]
            values = [float(groups[g].get(metric) or 0.0) for g in names]
            ax.barh(ys, values, height, label=_LABEL[metric])
        ax.set_yticks(range(len(names)), [f"{g} (n={groups[g]['n']})" for g in names])
        ax.set_xlim(0, 1)
        ax.set_title(title)
        ax.legend(fontsize="small", loc="lower right")

    return _png(draw, (5.6, max(2.2, 0.32 * len(names) + 1.2)))


def latency_chart(records: Sequence[Mapping[str, Any]], passed: Sequence[bool]) -> str | None:
    """Answer latency, passing and failing questions stacked."""
    pairs = [(float(r["latency_ms"]), ok) for r, ok in zip(records, passed, strict=True)
             if r.get("latency_ms") is not None]
    return _by_outcome(pairs, "answer latency (ms)", "Latency", bins=min(30, max(5, len(pairs) // 2)))


def confidence_chart(records: Sequence[Mapping[str, Any]], passed: Sequence[bool]) -> str | None:
    """The answerer's confidence, for passing and failing questions; None when the run reported none."""
    pairs = [(float(r["confidence"]), ok) for r, ok in zip(records, passed, strict=True)
             if isinstance(r.get("confidence"), int | float)]
    return _by_outcome(pairs, "confidence", "Confidence", bins=10, range=(0, 1))


def _by_outcome(pairs: Sequence[tuple[float, bool]], xlabel: str, title: str, **hist: Any) -> str | None:
    """A histogram of ``pairs`` (value, passed) with passing and failing questions stacked; None without any.
    ``hist`` goes to matplotlib's ``hist`` (bins, range)."""
    if not pairs:
        return None

    def draw(ax: Any) -> None:
        ax.hist([[x for x, ok in pairs if ok], [x for x, ok in pairs if not ok]], stacked=True,
                color=[_PASS, _FAIL], label=["pass", "fail"], **hist)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("questions")
        ax.set_title(title)
        ax.legend(fontsize="small")

    return _png(draw, (5.6, 3.0))
