"""The indexer against the real pieces: real ingest and chunking, the real embedded chroma store, the real
BM25 index, the CLI through click's runner; the FakeEmbedder for speed, and the bundled e5 model where
retrieval quality is the point."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from support import REPO, TINY_SOURCES

import assistant.wiring
from assistant.cli import cli
from assistant.config import Settings
from assistant.data import EmbedKind
from assistant.errors import EmbeddingError, IndexNotBuiltError, StoreError
from assistant.knowledge import indexing
from assistant.knowledge.embedding import E5Embedder
from assistant.knowledge.indexing import BuildReport, LoadedIndex, load_index, read_manifest, store_dir
from assistant.knowledge.sentences import sentence_spans
from assistant.knowledge.store import collection_names, drop_collection
from assistant.testing import FakeEmbedder
from assistant.wiring import build_client, build_indexer, build_retriever

AREA_ZH = "河套合作区总面积有多大？"


def build(settings: Settings, embedder: FakeEmbedder, *, force: bool = False) -> BuildReport:
    return build_indexer(settings, embedder=embedder).build(force=force)


def load(settings: Settings) -> LoadedIndex:
    return load_index(settings.index_dir, build_client(settings))


def live_collections(settings: Settings) -> list[str]:
    return collection_names(build_client(settings), settings.collection + "__")


def build_folders(settings: Settings) -> list[str]:
    builds = store_dir(settings.index_dir) / "builds"
    return sorted(d.name for d in builds.iterdir()) if builds.exists() else []


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def fake() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def built(tiny_settings: Settings, fake: FakeEmbedder) -> BuildReport:
    """The tiny corpus, indexed once with the FakeEmbedder."""
    return build(tiny_settings, fake)


class FailingEmbedder(FakeEmbedder):
    """The FakeEmbedder (same name, same vectors) that fails once ``fail_after`` texts were embedded."""

    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        if self.embedded_count + len(texts) > self.fail_after:
            raise EmbeddingError("embedding backend went away (test)")
        return super().embed(texts, kind)


def sentences_of(settings: Settings, ids: set[str] | None = None) -> int:
    """How many sentences the live build's chunks (or those of ``ids``) have: each is embedded too."""
    return sum(len(sentence_spans(c)) for c in load(settings).chunks if ids is None or c.id in ids)


# ------------------------------------------------------------------------------------------------- builds


def test_first_build_indexes_every_chunk(tiny_settings: Settings, fake: FakeEmbedder, built: BuildReport) -> None:
    assert built.documents == 2 and built.skipped == () and not built.unchanged
    assert built.chunks > 5 and built.embedded == built.chunks and built.reused == 0
    assert fake.embedded_count == built.chunks + sentences_of(tiny_settings)  # each chunk, each sentence once
    assert {"ingest", "chunk", "embed", "write"} <= set(built.timings)

    manifest = read_manifest(tiny_settings.index_dir)
    assert manifest is not None
    assert manifest["build_id"] == built.build_id and manifest["embedder"] == "fake"
    assert set(manifest["sources"]) == {"plan-excerpt.md", "policy-excerpt.md"}
    index = load(tiny_settings)
    assert [c.id for c in index.chunks] == manifest["chunk_ids"]
    assert len(set(manifest["chunk_ids"])) == built.chunks  # ids are unique
    assert index.store.count() == built.chunks
    assert live_collections(tiny_settings) == [manifest["collection"]]
    assert build_folders(tiny_settings) == [built.build_id]
    assert (store_dir(tiny_settings.index_dir) / "builds" / built.build_id / "park_terms.txt").exists()


def test_reindex_of_an_unchanged_corpus_embeds_nothing(tiny_settings: Settings, fake: FakeEmbedder,
                                                       built: BuildReport) -> None:
    before = fake.embedded_count
    again = build(tiny_settings, fake)
    assert again.unchanged
    assert fake.embedded_count == before
    assert again.embedded == 0 and again.reused == built.chunks
    assert again.build_id == built.build_id
    assert read_manifest(tiny_settings.index_dir)["build_id"] == built.build_id  # type: ignore[index]

    # --force re-embeds everything into a new build, which then serves alone.
    forced = build(tiny_settings, fake, force=True)
    assert not forced.unchanged and forced.build_id != built.build_id
    assert forced.embedded == built.chunks
    assert fake.embedded_count == before + built.chunks + sentences_of(tiny_settings)
    assert build_folders(tiny_settings) == [forced.build_id]
    assert len(live_collections(tiny_settings)) == 1


def test_changed_file_reembeds_only_changed_chunks(tiny_settings: Settings, fake: FakeEmbedder,
                                                   built: BuildReport) -> None:
    old_manifest = read_manifest(tiny_settings.index_dir)
    assert old_manifest is not None
    plan = tiny_settings.sources / "plan-excerpt.md"
    edit(plan, "6. 面积：合作区共约3.89平方公里。", "6. 面积：合作区共约3.95平方公里（测试改动）。")
    edit(plan, "8. 口岸：", "8. 口岸与交通：")

    before = fake.embedded_count
    report = build(tiny_settings, fake)
    manifest = read_manifest(tiny_settings.index_dir)
    assert manifest is not None
    new_ids = set(manifest["chunk_ids"]) - set(old_manifest["chunk_ids"])
    assert len(new_ids) == 2  # the two edited items, nothing else
    assert report.embedded == len(new_ids)
    # Only the changed chunks and their sentences: the other sentences' vectors are copied too.
    assert fake.embedded_count - before == len(new_ids) + sentences_of(tiny_settings, new_ids)
    assert report.reused == report.chunks - len(new_ids)
    assert not report.unchanged and report.build_id != built.build_id

    # The new build serves: the new text is found, the old one is gone everywhere.
    index = load(tiny_settings)
    assert index.manifest["build_id"] == report.build_id
    assert not any("3.89平方公里" in c.text for c in index.chunks)
    top = build_retriever(tiny_settings, embedder=fake).search(AREA_ZH, k=3).passages[0]
    assert "3.95平方公里" in top.text and top.id in new_ids
    # Reused vectors are the stored ones, fresh ones are the embedder's.
    changed = next(c for c in index.chunks if c.id == top.id)
    np.testing.assert_allclose(index.store.vectors([changed.id])[changed.id],
                               FakeEmbedder().embed([indexing.chunk_index_text(changed)], "passage")[0],
                               atol=1e-6)
    assert live_collections(tiny_settings) == [manifest["collection"]]
    assert build_folders(tiny_settings) == [report.build_id]


def test_front_matter_edit_rebuilds_with_the_new_metadata(tiny_settings: Settings, fake: FakeEmbedder,
                                                          built: BuildReport) -> None:
    policy = tiny_settings.sources / "policy-excerpt.md"
    edit(policy, "note: ", "expires: 2025-12-31\nnote: ")  # no chunk's text or id changes
    report = build(tiny_settings, fake)
    assert not report.unchanged and report.embedded == 0  # a new build, every vector reused
    assert {c.meta.get("expires") for c in load(tiny_settings).chunks if c.source == "policy-excerpt.md"} == {
        "2025-12-31"}


def test_removed_file_drops_its_chunks(tiny_settings: Settings, fake: FakeEmbedder, built: BuildReport) -> None:
    policy_chunks = sum(c.source == "policy-excerpt.md" for c in load(tiny_settings).chunks)
    assert policy_chunks > 0
    (tiny_settings.sources / "policy-excerpt.md").unlink()
    before = fake.embedded_count
    report = build(tiny_settings, fake)
    assert report.documents == 1
    assert report.embedded == 0 and fake.embedded_count == before  # the rest is reused
    assert report.chunks == built.chunks - policy_chunks
    index = load(tiny_settings)
    assert {c.source for c in index.chunks} == {"plan-excerpt.md"}
    assert index.store.count() == report.chunks  # the vectors went too
    assert set(index.manifest["sources"]) == {"plan-excerpt.md"}
    result = build_retriever(tiny_settings, embedder=fake).search("香港居民个人所得税优惠", k=5)
    assert result.passages and all(p.chunk.source == "plan-excerpt.md" for p in result.passages)


# ---------------------------------------------------------------------------------- interrupted builds


def _interrupt_after_collection_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the build folder is written, after the new collection was filled."""

    def boom(path: Path, chunks: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(indexing, "_write_chunks", boom)


@pytest.mark.parametrize("failure", ["embedder fails midway", "ctrl-c after the collection was written"])
def test_interrupted_build_keeps_the_old_index(tiny_settings: Settings, fake: FakeEmbedder, built: BuildReport,
                                               monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    first = load(tiny_settings)
    edit(tiny_settings.sources / "plan-excerpt.md", "3.89平方公里", "4.00平方公里")
    if failure.startswith("embedder"):
        # force: all chunks to embed, in batches of 16; the second batch fails.
        failing = FailingEmbedder(fail_after=16)
        with pytest.raises(EmbeddingError):
            build_indexer(tiny_settings, embedder=failing).build(force=True)
        assert failing.embedded_count == 16
    else:
        with monkeypatch.context() as m:
            _interrupt_after_collection_write(m)
            with pytest.raises(KeyboardInterrupt):
                build(tiny_settings, fake)
        assert len(live_collections(tiny_settings)) == 2  # the orphan of the interrupted build
    assert len(build_folders(tiny_settings)) == 2  # the live one and the broken one

    # The first build still serves, whole.
    index = load(tiny_settings)
    assert index.manifest["build_id"] == built.build_id
    assert len(index.chunks) == len(first.chunks) == index.store.count() == built.chunks
    top = build_retriever(tiny_settings, embedder=fake).search(AREA_ZH, k=3).passages[0]
    assert "3.89平方公里" in top.text

    # The next successful build serves the edit and removes every leftover.
    report = build(tiny_settings, fake)
    assert not report.unchanged and report.embedded >= 1
    manifest = read_manifest(tiny_settings.index_dir)
    assert manifest is not None and manifest["build_id"] == report.build_id
    assert live_collections(tiny_settings) == [manifest["collection"]]
    assert build_folders(tiny_settings) == [report.build_id]
    assert [p.name for p in store_dir(tiny_settings.index_dir).glob("*current.json*")] == ["current.json"]
    assert "4.00平方公里" in build_retriever(tiny_settings, embedder=fake).search(AREA_ZH, k=1).passages[0].text


def test_leftovers_are_removed_even_when_the_next_build_finds_nothing_to_do(
        tiny_settings: Settings, fake: FakeEmbedder, built: BuildReport, monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupted --force rebuild of an unchanged corpus: the next plain run is 'unchanged', and must
    still clear the orphan collection and build folder (the module docstring's promise)."""
    with monkeypatch.context() as m:
        _interrupt_after_collection_write(m)
        with pytest.raises(KeyboardInterrupt):
            build(tiny_settings, fake, force=True)
    assert len(live_collections(tiny_settings)) == 2
    report = build(tiny_settings, fake)
    assert report.unchanged and report.build_id == built.build_id
    assert live_collections(tiny_settings) == [read_manifest(tiny_settings.index_dir)["collection"]]  # type: ignore[index]
    assert build_folders(tiny_settings) == [built.build_id]


# ------------------------------------------------------------------------------------- bad sources, errors


@pytest.fixture
def corrupt_sources(tiny_settings: Settings) -> Settings:
    (tiny_settings.sources / "x.pdf").write_bytes(np.random.default_rng(3).bytes(4096))
    (tiny_settings.sources / "notes.docx").write_bytes(b"PK? no, this is not a zip archive\n" * 20)
    return tiny_settings


def test_corrupt_files_are_skipped_and_named(corrupt_sources: Settings, fake: FakeEmbedder) -> None:
    report = build(corrupt_sources, fake)
    assert {s.source for s in report.skipped} == {"x.pdf", "notes.docx"}
    reasons = {s.source: s.reason for s in report.skipped}
    assert "PDF" in reasons["x.pdf"] and "DOCX" in reasons["notes.docx"]
    assert report.documents == 2
    index = load(corrupt_sources)
    assert {c.source for c in index.chunks} == {"plan-excerpt.md", "policy-excerpt.md"}
    assert {s["source"] for s in index.manifest["skipped"]} == {"x.pdf", "notes.docx"}


@pytest.fixture
def cli_env(tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    """The CLI reads its settings from the environment; its embedder is the FakeEmbedder (one instance)."""
    monkeypatch.setenv("PARK_INDEX_DIR", str(tiny_settings.index_dir))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(REPO / ".tiktoken"))
    embedder = FakeEmbedder()
    monkeypatch.setattr(assistant.wiring, "build_embedder", lambda settings: embedder)
    return embedder


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_index_builds_then_reports_unchanged(tiny_settings: Settings, cli_env: FakeEmbedder) -> None:
    first = run_cli("index")  # with the progress bar (17 chunks)
    assert first.exit_code == 0, first.output
    assert "embedding" in first.stderr and "chunk" in first.stderr
    manifest = read_manifest(tiny_settings.index_dir)
    assert manifest is not None
    n = manifest["chunk_count"]
    assert f"build {manifest['build_id']}: 2 documents, {n} chunks ({n} embedded, 0 reused)" in first.stdout
    assert cli_env.embedded_count == n + sentences_of(tiny_settings)
    second = run_cli("index", "--no-progress")
    assert second.exit_code == 0
    assert second.stdout.startswith(f"unchanged: 2 documents, {n} chunks (0 embedded, {n} reused)")
    assert cli_env.embedded_count == n + sentences_of(tiny_settings)


def test_cli_index_with_corrupt_files_exits_3_and_names_them(corrupt_sources: Settings,
                                                              cli_env: FakeEmbedder) -> None:
    result = run_cli("index", "--no-progress")
    assert result.exit_code == 3
    assert "skipped x.pdf: not a valid PDF" in result.stderr
    assert "skipped notes.docx: not a valid DOCX" in result.stderr
    assert "2 file(s) skipped" in result.stderr
    assert "2 documents" in result.stdout  # the rest was indexed
    assert load(corrupt_sources).manifest["chunk_count"] > 0


def test_cli_search_prints_title_section_score_and_quote(tiny_settings: Settings, fake: FakeEmbedder,
                                                         built: BuildReport, cli_env: FakeEmbedder) -> None:
    result = run_cli("search", AREA_ZH, "-k", "3")
    assert result.exit_code == 0, result.output
    top = next(c for c in load(tiny_settings).chunks if "3.89平方公里" in c.text)
    lines = result.stdout.splitlines()
    assert lines.pop(0) == "query terms added: 面积 平方公里"  # glossary synonyms of 面积
    assert lines[0].startswith(f"[1] {top.title} · 国发〔2023〕12号  score ")
    assert "(dense #" in lines[0] and "bm25 #" in lines[0]
    assert float(lines[0].split("score ")[1].split()[0]) > 0
    assert lines[1].strip() == f"{top.section_path}  [{top.source}:{top.start}-{top.end}]"
    assert lines[2].strip() == "│ " + top.text.splitlines()[0]
    assert sum(line.startswith("[") for line in lines) == 3
    assert "ms" in result.stderr  # timings go to stderr, not into the passages


def test_cli_search_json_parses_and_filters(tiny_settings: Settings, built: BuildReport,
                                            cli_env: FakeEmbedder) -> None:
    result = run_cli("search", "How large is the zone in total?", "--json", "-k", "4")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"query", "timings_ms", "passages"} <= set(data)
    rows = data["passages"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert "3.89平方公里" in rows[0]["text"]
    assert rows[0]["source"] == "plan-excerpt.md" and rows[0]["section"].endswith("› 6.")
    assert all({"id", "title", "score", "start", "end", "dense_rank", "lexical_rank"} <= set(r) for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert "面积" in data["query"]  # the English question was expanded with the glossary

    only = json.loads(run_cli("search", AREA_ZH, "--json", "--source", "policy-excerpt.md").stdout)
    assert only["passages"] and {r["source"] for r in only["passages"]} == {"policy-excerpt.md"}


def test_missing_index_says_to_run_index(tiny_settings: Settings, cli_env: FakeEmbedder) -> None:
    with pytest.raises(IndexNotBuiltError, match="run `park-assistant index`"):
        load(tiny_settings)
    with pytest.raises(IndexNotBuiltError, match=str(store_dir(tiny_settings.index_dir))):
        build_retriever(tiny_settings, embedder=FakeEmbedder())
    result = run_cli("search", AREA_ZH)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: no index at ")
    assert "run `park-assistant index`" in result.stderr
    assert "Traceback" not in result.output


def test_broken_index_errors_say_what_to_do(tiny_settings: Settings, fake: FakeEmbedder, built: BuildReport,
                                            cli_env: FakeEmbedder) -> None:
    # The live collection disappeared (someone cleaned the chroma server): StoreError, one line, exit 1.
    drop_collection(build_client(tiny_settings), read_manifest(tiny_settings.index_dir)["collection"])  # type: ignore[index]
    with pytest.raises(StoreError, match="park-assistant index"):
        load(tiny_settings)
    result = run_cli("search", AREA_ZH)
    assert result.exit_code == 1 and result.stderr.startswith("error: chroma collection ")
    assert result.stderr.count("\n") == 1

    # A build folder missing a file: rebuild with --force.
    rebuilt = build(tiny_settings, fake, force=True)
    (store_dir(tiny_settings.index_dir) / "builds" / rebuilt.build_id / "bm25.npz").unlink()
    with pytest.raises(IndexNotBuiltError, match="--force"):
        load(tiny_settings)


def test_sources_folder_missing_is_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARK_INDEX_DIR", str(tmp_path / "empty-index"))
    monkeypatch.setattr(assistant.wiring, "build_embedder", lambda settings: FakeEmbedder())
    result = run_cli("index", "--no-progress")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Sources folder ") and "PARK_SOURCES_DIR" in result.stderr


# --------------------------------------------------------------------------------- the real embedding model


@pytest.fixture(scope="module")
def e5_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, E5Embedder, BuildReport]:
    """The tiny corpus indexed with the bundled multilingual-e5 model (once for the module)."""
    index_dir = tmp_path_factory.mktemp("e5") / "index"
    shutil.copytree(TINY_SOURCES, index_dir / "sources")
    for name in ("glossary.tsv", "park_terms.txt", "colloquial.tsv"):
        shutil.copy2(REPO / "index" / name, index_dir / name)
    settings = Settings(index_dir=index_dir, tiktoken_cache_dir=REPO / ".tiktoken")
    embedder = E5Embedder()
    report = build_indexer(settings, embedder=embedder).build()
    return settings, embedder, report


@pytest.mark.slow
@pytest.mark.parametrize("question", [AREA_ZH, "深圳園區的面積是多少？", "How large is the zone in total?"])
def test_real_embedder_finds_the_area_passage(e5_index: tuple[Settings, E5Embedder, BuildReport],
                                              question: str) -> None:
    settings, embedder, report = e5_index
    assert report.embedded == report.chunks and read_manifest(settings.index_dir)["embedder"] == E5Embedder.name  # type: ignore[index]
    index = load(settings)
    vec = index.store.vectors([index.chunks[0].id])[index.chunks[0].id]
    assert vec.shape == (384,) and float(np.linalg.norm(vec)) == pytest.approx(1.0, abs=1e-3)

    result = build_retriever(settings, embedder=embedder).search(question, k=3)
    top = result.passages[0]
    assert "3.89平方公里" in top.text, [p.text[:30] for p in result.passages]
    # The model, not only BM25, puts it near the top.
    assert top.dense_rank is not None and top.dense_rank <= 2


@pytest.mark.slow
def test_cli_search_with_the_real_embedder(e5_index: tuple[Settings, E5Embedder, BuildReport],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    settings, _, _ = e5_index
    monkeypatch.setenv("PARK_INDEX_DIR", str(settings.index_dir))
    t0 = time.perf_counter()
    result = run_cli("search", "深圳園區的面積是多少？", "--json", "-k", "2")
    seconds = time.perf_counter() - t0
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["passages"]
    assert "3.89平方公里" in rows[0]["text"] and rows[0]["dense_rank"] is not None
    assert seconds < 20, f"search with the real model took {seconds:.1f} s"
    assert os.environ.get("PARK_EMBEDDER") is None  # the real default embedder, not a patched one


def test_an_index_of_an_older_format_is_refused_with_the_command(built: BuildReport, tiny_settings: Settings) -> None:
    path = store_dir(tiny_settings.index_dir) / "current.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**manifest, "format": 2}), encoding="utf-8")
    with pytest.raises(IndexNotBuiltError, match=r"older version.*park-assistant index"):
        load(tiny_settings)
