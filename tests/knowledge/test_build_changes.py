"""What makes the next build embed again or rebuild, beyond the sources (``test_indexing.py``): another embedding
model (its vectors are never mixed with the old model's), a changed park term list, an older index format; and a
collection left without a build folder is dropped. Real builds of the tiny corpus, real embedded chroma."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from assistant.config import Settings
from assistant.data import EmbedKind
from assistant.knowledge.indexing import (
    MANIFEST,
    BuildReport,
    chunk_index_text,
    load_index,
    read_manifest,
    store_dir,
)
from assistant.knowledge.store import ChromaStore, collection_names
from assistant.testing import FakeEmbedder
from assistant.wiring import build_client, build_indexer


class OtherModel(FakeEmbedder):
    """Another embedding model: another name, other vectors."""

    name = "other"

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        return np.roll(super().embed(texts, kind), 1, axis=1)


def build(settings: Settings, embedder: FakeEmbedder) -> BuildReport:
    return build_indexer(settings, embedder=embedder).build()


@pytest.fixture
def first(tiny_settings: Settings) -> BuildReport:
    return build(tiny_settings, FakeEmbedder())


def test_another_embedding_model_embeds_every_chunk_anew(tiny_settings: Settings, first: BuildReport) -> None:
    other = OtherModel()
    report = build(tiny_settings, other)
    assert not report.unchanged and report.reused == 0 and report.embedded == first.chunks
    index = load_index(tiny_settings.index_dir, build_client(tiny_settings))
    assert index.manifest["embedder"] == "other"
    chunk = index.chunks[0]
    stored = index.store.vectors([chunk.id])[chunk.id]
    assert np.allclose(stored, other.embed([chunk_index_text(chunk)], "passage")[0], atol=1e-5)


def test_a_changed_term_list_rebuilds(tiny_settings: Settings, first: BuildReport) -> None:
    terms = tiny_settings.index_dir / "park_terms.txt"
    terms.write_text(terms.read_text(encoding="utf-8") + "\n河套新词测试\n", encoding="utf-8")
    report = build(tiny_settings, FakeEmbedder())
    assert not report.unchanged and report.build_id != first.build_id
    assert report.reused == first.chunks  # the text did not change: the vectors are reused
    built_terms = store_dir(tiny_settings.index_dir) / "builds" / report.build_id / "park_terms.txt"
    assert "河套新词测试" in built_terms.read_text(encoding="utf-8")


def test_an_index_of_an_older_format_is_rebuilt(tiny_settings: Settings, first: BuildReport) -> None:
    path = store_dir(tiny_settings.index_dir) / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**manifest, "format": manifest["format"] - 1}), encoding="utf-8")
    report = build(tiny_settings, FakeEmbedder())
    assert not report.unchanged and report.build_id != first.build_id
    assert read_manifest(tiny_settings.index_dir)["format"] == manifest["format"]  # type: ignore[index]


def test_a_collection_without_a_build_folder_is_dropped(tiny_settings: Settings, first: BuildReport) -> None:
    client = build_client(tiny_settings)
    prefix = tiny_settings.collection + "__"
    ChromaStore.create(client, prefix + "20200101000000_dead00")  # its folder is gone (a half-finished cleanup)
    assert len(collection_names(client, prefix)) == 2
    build(tiny_settings, FakeEmbedder())  # nothing changed: still tidies up
    assert collection_names(client, prefix) == [read_manifest(tiny_settings.index_dir)["collection"]]  # type: ignore[index]


def test_a_servers_cleanup_leaves_everything_to_a_build_under_way(tiny_settings: Settings, first: BuildReport) -> None:
    """A server dropping unused builds while `park-assistant index` runs does nothing and says so: the build
    cleans up when it is done (and the server does not wait for it)."""
    from assistant.knowledge.builds import build_lock
    from assistant.knowledge.indexing import drop_unused_builds

    client = build_client(tiny_settings)
    prefix = tiny_settings.collection + "__"
    ChromaStore.create(client, prefix + "20200101000000_dead00")
    with build_lock(tiny_settings.index_dir):
        assert drop_unused_builds(tiny_settings.index_dir, client, tiny_settings.collection) is False
        assert len(collection_names(client, prefix)) == 2
    assert drop_unused_builds(tiny_settings.index_dir, client, tiny_settings.collection) is True
    assert collection_names(client, prefix) == [read_manifest(tiny_settings.index_dir)["collection"]]  # type: ignore[index]
