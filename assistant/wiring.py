"""The one place where concrete classes meet: settings in, built components out.

>>> # from assistant.config import Settings
>>> # assistant = build_assistant(Settings.from_env())
>>> # assistant.answer("河套合作区总面积有多大？").text
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from assistant.answering.answer_type import load_places
from assistant.answering.answerability import ARTIFACT, AnswerabilityModel
from assistant.answering.assistant import Assistant
from assistant.answering.audiences import Audiences
from assistant.answering.budget import CircuitBreaker, GuardedChatModel, ModelGate
from assistant.answering.eligibility.cues import Cues
from assistant.answering.llm import ChatModel
from assistant.answering.prompts import Prompts
from assistant.answering.retrieval import Glossary, HybridRetriever
from assistant.answering.topics import Topics, load_topic_names
from assistant.answering.unread import UnreadDetails
from assistant.answering.vocabulary import Colloquial
from assistant.config import Settings
from assistant.errors import IndexNotBuiltError, LLMError
from assistant.knowledge.embedding import E5Embedder, Embedder, OpenAIEmbedder
from assistant.knowledge.indexing import Indexer, load_index, store_dir
from assistant.knowledge.store import open_client
from assistant.text.tokens import count_tokens, encoding
from assistant.web.admin import AdminTools
from assistant.web.jobs import IndexJobs
from assistant.web.reload import IndexBuilds, LiveAssistant

if TYPE_CHECKING:
    from assistant.answering.llm_server import Supervisor

log = logging.getLogger(__name__)


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "openai":
        return OpenAIEmbedder(settings.embedding_model, settings.openai_base_url, settings.openai_api_key)
    return E5Embedder(threads=settings.embed_threads)


def build_client(settings: Settings) -> Any:
    """The chroma client: a server when CHROMA_HOST is set, else embedded in the index folder."""
    return open_client(store_dir(settings.index_dir) / "chroma", settings.chroma_host, settings.chroma_port)


def token_counter(settings: Settings) -> partial[int]:
    encoding(settings.tokenizer)  # fail here, at start-up, on an unknown encoding name
    return partial(count_tokens, name=settings.tokenizer)


def build_indexer(settings: Settings, embedder: Embedder | None = None, *, client: Any = None) -> Indexer:
    """The indexer of ``settings.sources``; ``client`` replaces the configured chroma client (tests)."""
    return Indexer(sources=settings.sources, index_dir=settings.index_dir,
                   embedder=embedder or build_embedder(settings),
                   client=client if client is not None else build_client(settings),
                   collection=settings.collection, count_tokens=token_counter(settings),
                   chunk_max_tokens=settings.chunk_max_tokens, chunk_min_tokens=settings.chunk_min_tokens)


def build_retriever(settings: Settings, embedder: Embedder | None = None, *, client: Any = None) -> HybridRetriever:
    """The hybrid retriever over the built index; ``client`` replaces the configured chroma client (tests)."""
    index = load_index(settings.index_dir, client if client is not None else build_client(settings))
    embedder = embedder or build_embedder(settings)
    built_with = index.manifest.get("embedder")
    if built_with != embedder.name:
        raise IndexNotBuiltError(f"the index was built with the embedder {built_with!r} but {embedder.name!r} is "
                                 "configured (PARK_EMBEDDER) — run `park-assistant index` to rebuild it")
    return HybridRetriever(index, embedder,
                           Glossary.load(settings.index_dir / "glossary.tsv"), candidates=settings.candidates)


def start_local_model(settings: Settings, *, wait: bool = True, must_start: bool = False) -> Supervisor | None:
    """The supervised llama.cpp server of the local model (``PARK_LOCAL_MODEL``), started; None if there is none.

    With ``wait`` it blocks until the server is healthy. A server that fails to start raises only with
    ``must_start``; otherwise the supervisor keeps trying while answers fall back to quotes.
    """
    from assistant.answering.llm_server import Supervisor
    from assistant.answering.local_model import resolve_model

    model = resolve_model(settings.local_model, settings.local_chat_template, settings.model_dir)
    if model is None:
        return None
    supervisor = Supervisor(model, threads=settings.llm_threads, n_ctx=4096 * settings.llm_slots,
                            parallel=settings.llm_slots)
    try:
        return supervisor.start(wait=wait)
    except LLMError as exc:
        if must_start:
            raise
        log.error("the local model did not start (answers are quoted until it does): %s", exc)
        return supervisor.start(wait=False)


def build_chat_model(settings: Settings) -> ChatModel | None:
    """The chat model when the effective mode is ``llm`` (the configured endpoint, else the local model,
    started here), behind a gate (bounded queue, circuit breaker); else None."""
    if settings.answer_mode != "llm":
        return None
    from assistant.answering.llm import OpenAIChatModel

    inner: ChatModel
    if settings.llm_configured:
        inner = OpenAIChatModel(model=settings.llm_model, base_url=settings.openai_base_url,
                                api_key=settings.openai_api_key, timeout_s=settings.llm_timeout_s)
    else:
        from assistant.answering.llm_server import LocalChatModel

        supervisor = start_local_model(settings)
        if supervisor is None:
            return None
        inner = LocalChatModel(supervisor, timeout_s=settings.llm_timeout_s)
    gate = ModelGate(slots=settings.llm_slots, max_waiting=settings.llm_queue, max_wait_s=settings.llm_max_wait_s,
                     breaker=CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_s))
    return GuardedChatModel(inner, gate)


def answerability_model(embedder_name: str) -> AnswerabilityModel | None:
    """The shipped answerability model, if it was fitted on this embedder's similarities (its features
    include cosines, whose scale is the embedder's own); else None, and the coverage rule decides."""
    if not ARTIFACT.exists():
        return None
    model = AnswerabilityModel.load()
    return model if model.meta.get("embedder") == embedder_name else None


def build_assistant(settings: Settings, *, embedder: Embedder | None = None,
                    chat_model: ChatModel | None = None, client: Any = None) -> Assistant:
    """The assistant over the built index, answering extractively or with the configured LLM."""
    retriever = build_retriever(settings, embedder, client=client)
    cues = Cues.load(settings.index_dir / "eligibility.tsv")
    return Assistant(
        retriever=retriever,
        chat_model=chat_model if chat_model is not None else build_chat_model(settings),
        prompts=Prompts(settings.prompts_dir),
        count_tokens=token_counter(settings),
        top_k=settings.top_k,
        context_tokens=settings.local_context_tokens if settings.uses_local_model else settings.context_tokens,
        llm_context=settings.llm_context,
        max_tokens=settings.local_max_tokens if settings.uses_local_model else settings.llm_max_tokens,
        max_question_chars=settings.max_question_chars,
        colloquial=Colloquial.load(settings.index_dir / "colloquial.tsv"),
        answerability=answerability_model(retriever.embedder.name),
        request_budget_s=settings.request_budget_s,
        lenient_gate=settings.lenient_gate,
        eligibility=cues,
        judge_checklist=settings.judge_checklist,
        prime_model=settings.uses_local_model,  # llama.cpp keeps the prefix in its prompt cache; an API may not
        topics=Topics(load_topic_names(settings.index_dir / "topics.tsv")),
        unread=UnreadDetails.load(settings.index_dir / "unread_details.tsv"),
        elsewhere=load_places(settings.index_dir / "elsewhere.txt"),
        audiences=Audiences.load(settings.index_dir / "audiences.tsv",
                                 lambda question: cues is not None and cues.search("ask", question) is not None),
    )


def live_assistant(settings: Settings) -> LiveAssistant:
    """The assistant over the index's live build, moving to each new build (see :mod:`assistant.web.reload`),
    warmed up so the first visitor does not wait for the model to load.

    The embedder and the chat model are built once and shared by every build's assistant.
    """
    embedder, chat_model = build_embedder(settings), build_chat_model(settings)
    builds = IndexBuilds(settings.index_dir, build_client(settings), settings.collection)
    live = LiveAssistant(lambda: build_assistant(settings, embedder=embedder, chat_model=chat_model), builds,
                         interval_s=settings.reload_interval_s)
    live.warm_up()
    return live


def admin_tools(settings: Settings) -> AdminTools:
    """What the admin API needs: a queue of incremental index builds of ``settings``' sources, and query
    embeddings for grouping questions (the embedder is built on first use)."""
    from functools import cache

    embedder = cache(lambda: build_embedder(settings))
    return AdminTools(jobs=IndexJobs(lambda progress: build_indexer(settings).build(progress=progress)),
                      embed=lambda texts: embedder().embed(texts, "query"))
