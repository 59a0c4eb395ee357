"""The swap that ends a build: ``current.json`` is replaced whole (a new file written, synced to disk, then renamed
over the old one), so a reader sees the old manifest or the new one and never part of one, and a swap that
fails leaves the old build serving. Real builds of the tiny corpus into the real embedded chroma store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support import record_syncs

from assistant.config import Settings
from assistant.knowledge.indexing import MANIFEST, load_index, read_manifest, store_dir
from assistant.testing import FakeEmbedder
from assistant.wiring import build_client, build_indexer, build_retriever

AREA_ZH = "河套合作区总面积有多大？"


def rebuild(settings: Settings) -> str:
    return build_indexer(settings, embedder=FakeEmbedder()).build(force=True).build_id


@pytest.fixture
def first(tiny_settings: Settings) -> str:
    """The tiny corpus, built once: the build id that serves."""
    return rebuild(tiny_settings)


def manifest_path(settings: Settings) -> Path:
    return store_dir(settings.index_dir) / MANIFEST


def test_a_reader_of_the_old_manifest_reads_it_whole_after_the_swap(tiny_settings: Settings, first: str) -> None:
    """Replaced by a rename, not rewritten in place: a reader that opened the manifest before the swap still
    reads the old one, complete; the path then names a new file with the new build."""
    with manifest_path(tiny_settings).open(encoding="utf-8") as before:
        second = rebuild(tiny_settings)
        assert json.loads(before.read())["build_id"] == first
    assert read_manifest(tiny_settings.index_dir)["build_id"] == second  # type: ignore[index]


def test_a_failed_swap_leaves_the_old_build_serving(tiny_settings: Settings, first: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == MANIFEST:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    with monkeypatch.context() as m:
        m.setattr(os, "replace", replace)
        with pytest.raises(OSError, match="No space left"):
            rebuild(tiny_settings)
    assert read_manifest(tiny_settings.index_dir)["build_id"] == first  # type: ignore[index]
    index = load_index(tiny_settings.index_dir, build_client(tiny_settings))
    assert index.manifest["build_id"] == first and index.store.count() == len(index.chunks) > 0
    top = build_retriever(tiny_settings, embedder=FakeEmbedder()).search(AREA_ZH, k=1).passages[0]
    assert "3.89平方公里" in top.text
    # the next build swaps and leaves no temporary manifest behind
    second = rebuild(tiny_settings)
    assert read_manifest(tiny_settings.index_dir)["build_id"] == second  # type: ignore[index]
    assert sorted(p.name for p in store_dir(tiny_settings.index_dir).iterdir() if p.is_file()
                  and MANIFEST in p.name) == [MANIFEST]


def test_the_new_manifest_is_on_disk_before_it_is_swapped_in(tiny_settings: Settings, first: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """After a power cut the rename may survive while unsynced data does not: the new build's files and the new
    manifest (whole) are synced before the rename, so the live name never points at an empty file; and the store
    folder after it, so the rename itself is not lost."""
    events = record_syncs(monkeypatch)
    second = rebuild(tiny_settings)
    swap = next(i for i, (kind, path, _) in enumerate(events) if kind == "fsync" and path.endswith(MANIFEST))
    before, (manifest, renamed, folder) = events[:swap], events[swap:swap + 3]
    assert (manifest[0], renamed[0], folder[0]) == ("fsync", "replace", "fsync dir"), events[swap:]
    assert manifest[2] is not None and json.loads(manifest[2])["build_id"] == second  # whole when synced
    assert renamed[1] == manifest[1]  # the file synced is the file renamed
    assert folder[1] == str(store_dir(tiny_settings.index_dir).resolve())  # then the rename itself is on disk
    build = store_dir(tiny_settings.index_dir) / "builds" / second
    build_files = {str(p.resolve()) for p in build.iterdir()}
    assert "chunks.jsonl" in {Path(p).name for p in build_files}
    assert build_files <= {path for kind, path, _ in before if kind == "fsync"}
    assert {str(build.resolve()), str(build.parent.resolve())} <= {path for kind, path, _ in before
                                                                   if kind == "fsync dir"}  # their names too


def test_a_lease_taken_after_the_cleanups_first_look_keeps_its_build(tiny_settings: Settings, first: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The race the tombstone handshake closes: a server leases the old build just after the next build listed the
    leases. The cleanup's second look, build by build, sees the lease and keeps the build (and its collection)."""
    from assistant.knowledge import indexing
    from assistant.knowledge.builds import hold_build, release
    from assistant.knowledge.store import collection_names

    lease = hold_build(tiny_settings.index_dir, first)
    monkeypatch.setattr(indexing, "leased_builds", lambda index_dir: set())  # the first look saw no lease
    second = rebuild(tiny_settings)
    builds = sorted(d.name for d in (store_dir(tiny_settings.index_dir) / "builds").iterdir())
    assert builds == sorted([first, second])
    assert len(collection_names(build_client(tiny_settings), tiny_settings.collection + "__")) == 2
    release(lease)


def test_a_lease_of_a_process_that_died_does_not_keep_its_build(tiny_settings: Settings, first: str) -> None:
    """A server killed without releasing its lease leaves a stale one: it is ignored and removed, so the old build
    goes with the next build instead of staying forever."""
    import subprocess
    import sys

    from assistant.knowledge.builds import LEASES, leased_builds

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = store_dir(tiny_settings.index_dir) / LEASES / f"{first}@{gone.pid}-deadbeef"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.touch()
    assert leased_builds(tiny_settings.index_dir) == set() and not stale.exists()
    stale.touch()
    second = rebuild(tiny_settings)
    assert sorted(d.name for d in (store_dir(tiny_settings.index_dir) / "builds").iterdir()) == [second]
