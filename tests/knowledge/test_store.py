"""ChromaStore against the real chroma, in both of its shapes: the embedded PersistentClient and a real
``chroma run`` server (HttpClient), and the in-memory fake of ``assistant.testing`` held to the same contract.
Every store test runs in all three; names are unique per test because the server is shared by the module."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chroma_server import ChromaServer, chroma_server, chroma_server_fixture
from support import free_port

from assistant.config import Settings
from assistant.errors import StoreError
from assistant.knowledge.indexing import read_manifest, store_dir
from assistant.knowledge.store import ChromaStore, collection_names, drop_collection, open_client
from assistant.testing import FakeEmbedder, InMemoryChromaClient
from assistant.wiring import build_client, build_indexer, build_retriever

chroma = pytest.fixture(scope="module")(chroma_server_fixture)


@pytest.fixture(params=["memory", "embedded", pytest.param("server", marks=pytest.mark.slow)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The same contract for the in-memory fake (fast tests), the embedded store and a real chroma server."""
    if request.param == "memory":
        return InMemoryChromaClient()
    if request.param == "embedded":
        return open_client(tmp_path / "chroma")
    server: ChromaServer = request.getfixturevalue("chroma")
    return open_client(host=server.host, port=server.port)


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}__"


def _unit(rows: list[list[float]]) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# Four documents in 4-d space; metadata as the indexer writes it (flat strings).
IDS = ["a", "b", "c", "d"]
VECTORS = _unit([[1, 0, 0, 0], [0.8, 0.6, 0, 0], [0, 1, 0, 0], [0.1, 0.1, 0.9, 0.4]])
METAS = [{"source": "plan.md", "kind": "plan", "status": "current"},
         {"source": "policy.md", "kind": "policy", "status": "current"},
         {"source": "policy.md", "kind": "policy", "status": "expired"},
         {"source": "faq.md"}]


@pytest.fixture
def store(client: Any, prefix: str) -> ChromaStore:
    s = ChromaStore.create(client, prefix + "main")
    s.upsert(IDS, VECTORS, METAS)
    return s


def test_query_orders_by_cosine_similarity(store: ChromaStore) -> None:
    q = _unit([[1, 0.2, 0, 0]])[0]
    hits = store.query(q, 4)
    expected = sorted(zip(IDS, (VECTORS @ q).tolist(), strict=True), key=lambda kv: -kv[1])
    assert [i for i, _ in hits] == [i for i, _ in expected]
    for (_, got), (_, want) in zip(hits, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-4)  # 1 - cosine distance: the similarity itself
    assert hits[0][1] > hits[1][1] > hits[2][1] > hits[3][1]


def test_query_k_is_capped_and_identical_vector_scores_one(store: ChromaStore) -> None:
    hits = store.query(VECTORS[2], 50)
    assert len(hits) == 4
    assert hits[0][0] == "c"
    assert hits[0][1] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(("where", "expected"), [
    ({"source": "policy.md"}, {"b", "c"}),
    ({"source": {"$in": ["plan.md", "faq.md"]}}, {"a", "d"}),
    ({"$and": [{"kind": {"$in": ["policy"]}}, {"status": {"$in": ["current"]}}]}, {"b"}),
    ({"$and": [{"source": {"$in": ["plan.md", "policy.md"]}}, {"status": {"$in": ["expired"]}}]}, {"c"}),
    ({"kind": {"$in": ["notice"]}}, set()),
])
def test_where_filters(store: ChromaStore, where: dict[str, Any], expected: set[str]) -> None:
    hits = store.query(VECTORS[0], 4, where)
    assert {i for i, _ in hits} == expected
    sims = [s for _, s in hits]
    assert sims == sorted(sims, reverse=True)


def test_vectors_round_trip(store: ChromaStore) -> None:
    got = store.vectors(["d", "a", "missing"])
    assert set(got) == {"a", "d"}  # unknown ids are simply absent
    np.testing.assert_allclose(got["a"], VECTORS[0], atol=1e-6)
    np.testing.assert_allclose(got["d"], VECTORS[3], atol=1e-6)
    assert got["a"].dtype == np.float32
    assert store.vectors([]) == {}


def test_count_and_upsert_replaces_by_id(client: Any, prefix: str, store: ChromaStore) -> None:
    assert store.count() == 4
    reopened = ChromaStore.open(client, store.name)
    assert reopened.count() == 4
    store.upsert(["a"], _unit([[0, 0, 0, 1]]), [{"source": "plan.md"}])  # same id: replaced, not added
    fresh = ChromaStore.open(client, store.name)
    assert fresh.count() == 4
    np.testing.assert_allclose(fresh.vectors(["a"])["a"], [0, 0, 0, 1], atol=1e-6)
    assert fresh.query(_unit([[0, 0, 0, 1]])[0], 1)[0][0] == "a"


def test_count_and_query_see_an_upsert_made_through_the_same_store(client: Any, prefix: str) -> None:
    """A store asked for its size before writing must not keep answering with the old size."""
    s = ChromaStore.create(client, prefix + "grow")
    assert s.count() == 0
    assert s.query(VECTORS[0], 3) == []
    s.upsert(IDS, VECTORS, METAS)
    assert s.count() == 4
    assert [i for i, _ in s.query(VECTORS[0], 1)] == ["a"]


def test_upsert_in_several_batches(client: Any, prefix: str) -> None:
    n = 2100  # more than one 2000-row write
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"id{i}" for i in range(n)]
    s = ChromaStore.create(client, prefix + "big")
    s.upsert(ids, vectors, [{"source": f"s{i % 3}.md"} for i in range(n)])
    assert ChromaStore.open(client, s.name).count() == n
    np.testing.assert_allclose(s.vectors(["id2050"])["id2050"], vectors[2050], atol=1e-6)


def test_default_embedding_function_is_never_used(client: Any, store: ChromaStore) -> None:
    if isinstance(client, InMemoryChromaClient):
        pytest.skip("chroma's own embedding function: only the real chroma has one")
    # Persisted configuration: no embedding function, cosine space.
    config = client.get_collection(store.name, embedding_function=None).configuration
    assert config["embedding_function"] is None
    assert config["hnsw"]["space"] == "cosine"
    # The collections the store works with carry none either, so a text-only call cannot embed (and
    # download chroma's default model): it fails loudly.
    for s in (store, ChromaStore.open(client, store.name)):
        assert s._col._embedding_function is None
        with pytest.raises(ValueError, match="embedding function"):
            s._col.query(query_texts=["河套合作区总面积"], n_results=1)
        with pytest.raises(ValueError, match="embedding function"):
            s._col.add(ids=["x"], documents=["a text without a vector"])
    assert store.count() == 4


def test_collection_names_and_drop(client: Any, prefix: str, store: ChromaStore) -> None:
    other = f"o{uuid.uuid4().hex[:8]}__x"
    ChromaStore.create(client, prefix + "second")
    ChromaStore.create(client, other)
    assert collection_names(client, prefix) == sorted([prefix + "main", prefix + "second"])
    drop_collection(client, prefix + "second")
    drop_collection(client, prefix + "second")  # already gone: not an error
    assert collection_names(client, prefix) == [prefix + "main"]
    assert other in collection_names(client, other[:4])
    with pytest.raises(StoreError, match=r"second.*park-assistant index"):
        ChromaStore.open(client, prefix + "second")


def test_create_existing_or_invalid_name_is_a_store_error(client: Any, store: ChromaStore) -> None:
    with pytest.raises(StoreError, match=store.name):
        ChromaStore.create(client, store.name)
    with pytest.raises(StoreError, match="could not create"):
        ChromaStore.create(client, "x")  # chroma wants 3+ characters


# --------------------------------------------------------------------------------------- the server end to end


@pytest.mark.slow
def test_index_build_and_search_through_a_chroma_server(chroma: ChromaServer, tiny_settings: Settings) -> None:
    settings = tiny_settings.with_(chroma_host=chroma.host, chroma_port=chroma.port,
                                   collection=f"srv{uuid.uuid4().hex[:6]}")
    embedder = FakeEmbedder()
    report = build_indexer(settings, embedder=embedder).build()
    assert report.chunks > 0 and report.embedded == report.chunks and not report.skipped
    assert not (store_dir(settings.index_dir) / "chroma").exists()  # nothing embedded on disk

    manifest = read_manifest(settings.index_dir)
    assert manifest is not None
    remote = open_client(host=chroma.host, port=chroma.port)
    assert collection_names(remote, settings.collection + "__") == [manifest["collection"]]
    assert ChromaStore.open(remote, manifest["collection"]).count() == report.chunks

    retriever = build_retriever(settings, embedder=embedder)
    result = retriever.search("河套合作区总面积有多大？", k=3)
    assert "3.89平方公里" in result.passages[0].text
    assert result.passages[0].dense_rank is not None  # the dense side answered from the server

    # A changed corpus: the new build replaces the old collection on the server.
    src = settings.sources / "plan-excerpt.md"
    src.write_text(src.read_text(encoding="utf-8").replace("3.89平方公里", "3.90平方公里"), encoding="utf-8")
    second = build_indexer(settings, embedder=embedder).build()
    assert 0 < second.embedded < second.chunks
    live = read_manifest(settings.index_dir)
    assert live is not None and live["collection"] != manifest["collection"]
    assert collection_names(remote, settings.collection + "__") == [live["collection"]]
    top = build_retriever(settings, embedder=embedder).search("河套合作区总面积有多大？", k=1).passages[0]
    assert "3.90平方公里" in top.text


def test_unreachable_server_is_a_store_error_naming_host_and_port(tiny_settings: Settings) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(StoreError, match=rf"127\.0\.0\.1:{port}.*CHROMA_HOST"):
        open_client(host="127.0.0.1", port=port)
    settings = tiny_settings.with_(chroma_host="127.0.0.1", chroma_port=port)
    with pytest.raises(StoreError, match=rf"127\.0\.0\.1:{port}"):
        build_client(settings)
    with pytest.raises(StoreError, match=rf"127\.0\.0\.1:{port}"):
        build_indexer(settings, embedder=FakeEmbedder())


@pytest.mark.slow
def test_server_going_away_is_a_store_error(tmp_path: Path) -> None:
    """The server stops after the collection was opened: queries fail with StoreError, not a raw trace."""
    with chroma_server(tmp_path / "short-lived") as server:
        client = open_client(host=server.host, port=server.port)
        ChromaStore.create(client, "gone__1").upsert(IDS, VECTORS, METAS)
        opened = ChromaStore.open(client, "gone__1")
    with pytest.raises(StoreError, match="gone__1"):
        opened.query(VECTORS[0], 2)
    with pytest.raises(StoreError, match="gone__1"):
        opened.vectors(["a"])



class _BrokenCollection:
    """A collection whose backend fails on every call (a server gone, a corrupt file)."""

    name = "park__broken"

    def __getattr__(self, verb: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"backend failed on {verb}")
        return fail


def test_every_call_of_a_failing_backend_is_a_store_error_naming_the_collection() -> None:
    """Fast twin of the server test above: query, vectors, count and upsert each become StoreError."""
    store = ChromaStore(_BrokenCollection())
    store._count = 4  # as after an earlier count: query goes on to the backend
    for call in (lambda: store.query(VECTORS[0], 2), lambda: store.vectors(["a"]),
                 lambda: store.upsert(IDS, VECTORS, METAS)):
        with pytest.raises(StoreError, match="park__broken"):
            call()
    with pytest.raises(StoreError, match="park__broken"):
        store.count()  # the upsert reset the cached count
