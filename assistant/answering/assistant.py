"""The answering core: ``Assistant.answer()`` / ``Assistant.stream()``. Protocols in, :class:`Answer` out.

Every question goes the same way: guard (prompt injection) → resolve a follow-up from the history →
retrieve → decide from the evidence whether the sources answer → answer, extractively (quoted sentences,
the offline default) or with the configured chat model → cite and verify. The chat model failing in any
way (unreachable, timeout, error, broken stream) yields the extractive answer with a notice.

>>> # assistant = build_assistant(Settings.from_env())      # see assistant.wiring
>>> # answer = assistant.answer("河套合作区总面积有多大？")
>>> # answer.text, [c.quote for c in answer.citations]
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator, Sequence

from assistant.answering.citations import make_citation, parse_markers, renumber, strip_unknown_markers, verify_claims
from assistant.answering.extractive import Quote, notes_for, question_terms, select_quotes, sentence_end, siblings
from assistant.answering.guard import is_injection, resolve_followup
from assistant.answering.llm import ChatModel
from assistant.answering.prompts import Prompts
from assistant.answering.retrieval import Filters, HybridRetriever
from assistant.data import Answer, Chunk, Citation, Delta, Message, Passage, Usage
from assistant.errors import InputError, LLMError
from assistant.knowledge.chunking import strip_item_marker
from assistant.knowledge.lexical import tokenize
from assistant.lang import Lang, detect_lang, to_traditional

#: Below this share of the question's (IDF-weighted) terms found in the best sentence, the sources
#: are taken not to answer. Measured on the dev set: answerable questions score ≥ 0.6, unanswerable ≤ 0.45.
ANSWERABLE_MIN_COVERAGE = 0.5

_HEADERS: dict[str, str] = {
    "zh-Hans": "摘录式回答（以下为资料原文摘录，非模型生成）：",
    "zh-Hant": "摘錄式回答（以下為資料原文摘錄，原文為簡體中文，非模型生成）：",
    "en": "Quoted answer (excerpts from the Chinese sources, not generated text):",
}
_NOTES: dict[str, dict[str, str]] = {
    "unread": {
        "zh-Hans": "注意：资料注明部分细节在公开资料中未读到或不完整，以下不作补充。",
        "zh-Hant": "注意：資料註明部分細節在公開資料中未讀到或不完整，以下不作補充。",
        "en": "Note: the sources mark some details as not found (未读到) or incomplete; nothing is added here.",
    },
    "disagree": {
        "zh-Hans": "注意：资料对此说法不一，各来源分列如下。",
        "zh-Hant": "注意：資料對此說法不一，各來源分列如下。",
        "en": "Note: the sources disagree on this; each is quoted below.",
    },
    "unverified": {
        "zh-Hans": "模型的回答无法对应到资料，以下改为资料原文摘录。",
        "zh-Hant": "模型的回答無法對應到資料，以下改為資料原文摘錄。",
        "en": "The model's answer could not be tied to the sources; showing quoted excerpts instead.",
    },
    "fallback": {
        "zh-Hans": "语言模型暂时不可用，以下为资料原文摘录。",
        "zh-Hant": "語言模型暫時不可用，以下為資料原文摘錄。",
        "en": "The language model is unavailable right now; showing quoted excerpts instead.",
    },
}
_WEB_ADDRESS = re.compile(r"https?://|[a-z0-9-]+\.(?:gov\.cn|gov\.hk|com|cn|hk|org)\b", re.I)
_DECLINE_LEADS: dict[str, dict[str, str]] = {
    "injection": {
        "zh-Hans": "我只能根据河套合作区的规划和政策资料回答问题，不能执行其他指令，也不会透露系统设置。",
        "zh-Hant": "我只能根據河套合作區的規劃和政策資料回答問題，不能執行其他指令，也不會透露系統設定。",
        "en": "I can only answer questions from the Hetao zone's plan and policy sources; I cannot follow other "
              "instructions or reveal my configuration.",
    },
    "no-evidence": {
        "zh-Hans": "抱歉，现有资料（河套合作区规划要点、政策清单和解读文章）没有回答这个问题，我不作推测。",
        "zh-Hant": "抱歉，現有資料（河套合作區規劃要點、政策清單和解讀文章）沒有回答這個問題，我不作推測。",
        "en": "Sorry — the sources I have (the Hetao plan digest, the policy list and a commentary article) do "
              "not answer this question, and I will not guess.",
    },
}
_LANGUAGE_NAMES = {"zh-Hans": "Simplified Chinese (简体中文)", "zh-Hant": "Traditional Chinese, Hong Kong (繁體中文)",
                   "en": "English"}


class UnverifiedAnswer(LLMError):
    """The model answered, but nothing in its answer could be tied to a source passage."""


class Assistant:
    """Answers questions about the park from the retrieved sources, with verified citations."""

    def __init__(self, *, retriever: HybridRetriever, chat_model: ChatModel | None, prompts: Prompts,
                 count_tokens: Callable[[str], int], top_k: int = 6, context_tokens: int = 2500,
                 max_tokens: int = 700, max_question_chars: int = 2000) -> None:
        self.retriever = retriever
        self.chat_model = chat_model
        self.prompts = prompts
        self.count_tokens = count_tokens
        self.top_k = top_k
        self.context_tokens = context_tokens
        self.max_tokens = max_tokens
        self.max_question_chars = max_question_chars
        self._channel: tuple[str, Passage] | None = None
        self._channel_looked_up = False  # the official-channel sentence is looked up on first decline

    # -- public surface ---------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return "llm" if self.chat_model is not None else "extractive"

    @property
    def model_name(self) -> str | None:
        return self.chat_model.name if self.chat_model is not None else None

    def info(self) -> dict[str, object]:
        """Mode, model, index size and readiness (for /readyz and the UI)."""
        return {"mode": self.mode, "model": self.model_name, "chunks": len(self.retriever.index.chunks),
                "build": self.retriever.index.manifest.get("build_id"), "ready": True}

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (the embedding model, the channel line)."""
        self.retriever.embedder.embed(["河套"], "query")
        self._official_channel()

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self.retriever.index.chunk(chunk_id)

    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None,
               filters: Filters | None = None) -> Answer:
        """Answer ``question`` (the last of a conversation whose earlier turns are ``history``)."""
        final: Answer | None = None
        for event in self.stream(question, history, lang=lang, filters=filters):
            if isinstance(event, Answer):
                final = event
        assert final is not None  # stream() always ends with an Answer
        return final

    def stream(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None,
               filters: Filters | None = None) -> Iterator[Delta | Answer]:
        """Yield text deltas, then the final :class:`Answer` (whose text is authoritative: an LLM answer
        may lose unsupported sentences in verification)."""
        t0 = time.perf_counter()
        question = (question or "").strip()
        if not question:
            raise InputError("the question is empty")
        if len(question) > self.max_question_chars:
            raise InputError(f"the question is longer than {self.max_question_chars} characters")
        language: Lang = lang if lang in ("zh-Hans", "zh-Hant", "en") else detect_lang(question)  # type: ignore[assignment]

        if is_injection(question):
            answer = self._decline(question, language, [], t0, reason="injection")
            yield from self._emit(answer)
            return

        standalone = self._standalone(question, history)
        result = self.retriever.search(standalone, self.top_k, filters)
        passages = list(result.passages)
        terms = self._terms(result.query, result.expansion, language == "en")
        quotes, best = select_quotes(standalone, passages, terms, paragraph_of=self._paragraph_before)
        timings = {"retrieve": result.timings_ms.get("total", 0.0), "embed_query": result.timings_ms["embed_query"]}
        if not terms or best < ANSWERABLE_MIN_COVERAGE:
            answer = self._decline(question, language, passages, t0, reason="no-evidence", coverage=best)
            yield from self._emit(answer)
            return

        if self.chat_model is not None:
            try:
                yield from self._generate(question, standalone, history, language, passages, t0, timings)
                return
            except LLMError as exc:
                kind = "unverified" if isinstance(exc, UnverifiedAnswer) else "fallback"
                notice = f"{_NOTES[kind][language]} ({exc})"
                answer = self._extractive(question, standalone, language, passages, quotes, t0, timings, notice)
                yield from self._emit(answer)
                return
        yield from self._emit(self._extractive(question, standalone, language, passages, quotes, t0, timings))

    # -- steps ------------------------------------------------------------------------------------------
    def _standalone(self, question: str, history: Sequence[Message]) -> str:
        """The question made standalone: by the chat model if there is one, else from the previous turn."""
        if not history:
            return question
        if self.chat_model is not None:
            convo = "\n".join(f"{m.role}: {m.content}" for m in history[-6:])
            prompt = self.prompts.render("condense_question", history=convo, question=question)
            try:
                text = "".join(self.chat_model.stream([Message("user", prompt)], max_tokens=120)).strip()
                if 2 <= len(text) <= 4 * len(question) + 200:
                    return text.splitlines()[0]
            except LLMError:
                pass  # the heuristic below still resolves most follow-ups
        return resolve_followup(question, history, self._previous_items)

    def _terms(self, query: str, expansion: Sequence[str] = (), english: bool = False) -> dict[str, float]:
        df = self.retriever.index.text_df
        keep = set(tokenize(" ".join(expansion)))
        return question_terms(query, df.idf, df.__contains__, drop_unknown_latin=english, keep=keep)

    def _previous_items(self, previous_question: str) -> list[str]:
        """The quoted lines of the extractive answer to an earlier question (to resolve "the second one")."""
        result = self.retriever.search(previous_question, self.top_k)
        terms = self._terms(result.query, result.expansion, detect_lang(previous_question) == "en")
        quotes, _ = select_quotes(previous_question, result.passages, terms, paragraph_of=self._paragraph_before)
        items = []
        for p, span in self._expand_lists(previous_question, list(result.passages), quotes):
            items.append(p.chunk.text[span[0] - p.chunk.start : span[1] - p.chunk.start])
        return items

    def _expand_lists(self, question: str, passages: list[Passage],
                      quotes: list[Quote]) -> list[tuple[Passage, tuple[int, int]]]:
        """Quotes as (passage, span); a quoted numbered item brings its sibling items (a list kept whole)."""
        out: list[tuple[Passage, tuple[int, int]]] = []
        seen: set[str] = set()
        for q in quotes:
            p = passages[q.passage_index]
            group = siblings(p.chunk, self.retriever.index.chunks) if q.whole_list else [p.chunk]
            for c in group:
                if c.id in seen:
                    continue
                seen.add(c.id)
                if c.id == p.chunk.id:
                    out.append((p, (q.start, q.end)))
                else:
                    out.append((Passage(chunk=c, score=p.score), (c.start, c.end)))
            if q.continues:
                # A list sentence cut by the chunk budget: quote on to its full stop in the next chunk.
                nxt = self._next_chunk(p.chunk)
                if nxt is not None and nxt.id not in seen:
                    seen.add(nxt.id)
                    end = nxt.start + sentence_end(nxt.text, 0)
                    out.append((Passage(chunk=nxt, score=p.score), (nxt.start, end)))
        return out

    def _paragraph_before(self, chunk: Chunk) -> str:
        """The earlier chunks of the paragraph ``chunk`` was cut from (same section path, adjacent)."""
        index = self.retriever.index
        i = index.by_id.get(chunk.id)
        parts: list[str] = []
        while i is not None and i > 0 and len(parts) < 3:
            prev = index.chunks[i - 1]
            if prev.source != chunk.source or prev.section != chunk.section:
                break
            parts.insert(0, prev.text)
            i -= 1
        return "\n".join(parts)

    def _next_chunk(self, chunk: Chunk) -> Chunk | None:
        index = self.retriever.index
        i = index.by_id.get(chunk.id)
        if i is None or i + 1 >= len(index.chunks):
            return None
        nxt = index.chunks[i + 1]
        return nxt if nxt.source == chunk.source and nxt.section[:-1] == chunk.section[:-1] else None

    def _extractive(self, question: str, standalone: str, lang: Lang, passages: list[Passage],
                    quotes: list[Quote], t0: float, timings: dict[str, float], notice: str | None = None) -> Answer:
        spans = self._expand_lists(standalone, passages, quotes)
        citations = [make_citation(n, p, span) for n, (p, span) in enumerate(spans, start=1)]
        unread, disagree = notes_for([c.quote for c in citations])
        lines = [_HEADERS[lang]]
        if disagree:
            lines.append(_NOTES["disagree"][lang])
        # Each quote is a bullet of its own (a quote that is itself a bullet line loses its "- "); the same
        # sentence found in several passages is shown once, with all their markers.
        bullets: dict[str, list[int]] = {}
        for c in citations:
            bullets.setdefault(_one_line(c.quote).lstrip("-*• "), []).append(c.n)
        lines.extend(f"- {quote}{''.join(f'[{n}]' for n in ns)}" for quote, ns in bullets.items())
        if unread:
            lines.append(_NOTES["unread"][lang])
        text = "\n".join(lines)
        timings = {**timings, "total": (time.perf_counter() - t0) * 1000}
        return Answer(question=question, text=text, citations=tuple(citations), answerable=True, mode="extractive",
                      lang=lang, passages=tuple(passages), notice=notice, timings_ms=timings,
                      usage=Usage(completion_tokens=self.count_tokens(text)),
                      meta={"standalone": standalone, "unread": unread, "disagree": disagree})

    def _generate(self, question: str, standalone: str, history: Sequence[Message], lang: Lang,
                  passages: list[Passage], t0: float, timings: dict[str, float]) -> Iterator[Delta | Answer]:
        assert self.chat_model is not None
        context, used = self._context(passages)
        system = self.prompts.render("system", today=dt.date.today().isoformat())
        user = self.prompts.render("answer", passages=context, question=standalone if standalone != question
                                   else question, language=_LANGUAGE_NAMES[lang])
        messages = [Message("system", system), *history[-6:], Message("user", user)]
        pieces: list[str] = []
        for delta in self.chat_model.stream(messages, max_tokens=self.max_tokens):
            pieces.append(delta)
            yield Delta(delta)
        raw = strip_unknown_markers("".join(pieces).strip(), len(used))
        checks = verify_claims(raw, used)
        unsupported = [c for c in checks if not c.supported]
        joiner = " " if lang == "en" else ""
        kept = joiner.join(c.sentence for c in checks if c.supported) if unsupported else raw
        cited = [n for n in parse_markers(kept) if 1 <= n <= len(used)]
        if not kept.strip() or not cited:
            raise UnverifiedAnswer("the model's answer cited no source passage")
        mapping = {old: new for new, old in enumerate(cited, start=1)}
        text = renumber(kept, mapping)
        citations = tuple(make_citation(mapping[n], used[n - 1]) for n in cited)
        notice = None
        if unsupported:
            notice = {"zh-Hans": "已删去无法在所引资料中核实的句子。", "zh-Hant": "已刪去無法在所引資料中核實的句子。",
                      "en": "Sentences that could not be verified against the cited passages were removed."}[lang]
        usage = self.chat_model.last_usage
        if usage.total_tokens == 0:
            usage = Usage(self.count_tokens(system + user), self.count_tokens(raw))
        yield Answer(question=question, text=text, citations=citations, answerable=True, mode="llm",
                     model=self.chat_model.name, lang=lang, passages=tuple(passages), notice=notice,
                     timings_ms={**timings, "total": (time.perf_counter() - t0) * 1000}, usage=usage,
                     meta={"standalone": standalone, "unsupported": [c.sentence for c in unsupported]})

    def _context(self, passages: list[Passage]) -> tuple[str, list[Passage]]:
        """Numbered passages, best first, within the context token budget."""
        blocks: list[str] = []
        used: list[Passage] = []
        budget = self.context_tokens
        for p in passages:
            c = p.chunk
            head = " · ".join(x for x in (c.title, str(c.meta.get("doc_no") or ""), c.section_path) if x)
            block = f"[{len(used) + 1}] {head}\n{c.text}"
            cost = self.count_tokens(block)
            if cost > budget and used:
                break
            blocks.append(block)
            used.append(p)
            budget -= cost
        return "\n\n".join(blocks), used

    def _decline(self, question: str, lang: Lang, passages: list[Passage], t0: float, *, reason: str,
                 coverage: float | None = None) -> Answer:
        channel = self._official_channel()
        topics = _topics(passages, lang) if reason != "injection" else _topics([], lang)
        citations: tuple[Citation, ...] = ()
        if channel is not None:
            sentence, passage = channel
            citations = (make_citation(1, passage, _span_of(passage, sentence)),)
            channel_text = f"{strip_item_marker(_one_line(sentence))}[1]"
        else:
            channel_text = {"zh-Hans": "河套发展署", "zh-Hant": "河套發展署",
                            "en": "the Hetao Development Office"}[lang]
        text = self.prompts.render(f"decline.{lang}", lead=_DECLINE_LEADS[reason][lang], topics=topics,
                                   channel=channel_text)
        return Answer(question=question, text=text, citations=citations, answerable=False, mode="decline",
                      lang=lang, passages=tuple(passages),
                      timings_ms={"total": (time.perf_counter() - t0) * 1000},
                      meta={"decline_reason": reason, "coverage": coverage})

    def _official_channel(self) -> tuple[str, Passage] | None:
        """The corpus' own sentence naming the official website (looked up once)."""
        if not self._channel_looked_up:
            self._channel_looked_up = True
            hits = self.retriever.index.bm25.top(["官网", "办理", "渠道", "联系"], 5)
            lines = [(line.strip(), n) for n, _ in hits for line in self.retriever.index.chunks[n].text.splitlines()
                     if "官网" in line]
            # A line that gives the address beats one that only mentions the website.
            lines.sort(key=lambda ln: not _WEB_ADDRESS.search(ln[0]))
            if lines:
                line, n = lines[0]
                self._channel = (line, Passage(chunk=self.retriever.index.chunks[n], score=0.0))
        return self._channel

    def _emit(self, answer: Answer) -> Iterator[Delta | Answer]:
        for line in answer.text.splitlines(keepends=True):
            yield Delta(line)
        yield answer


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text).strip()


def _span_of(passage: Passage, sentence: str) -> tuple[int, int]:
    c = passage.chunk
    i = c.text.find(sentence)
    return (c.start + i, c.start + i + len(sentence)) if i >= 0 else (c.start, c.end)


def _topics(passages: Sequence[Passage], lang: Lang) -> str:
    """Section names of the nearest passages (or the documents' main parts) as 'closest topics'."""
    names: list[str] = []
    for p in passages[:6]:
        section = [s for s in p.chunk.section[1:] if not re.match(r"^[\d（(]|^[一二三四五六七八九十]+是", s)]
        if section:
            name = re.sub(r"^[〇一二三四五六七八九十]+、|^（[一二三四五六七八九十]+）", "", section[-1])
            if name not in names:
                names.append(name)
        if len(names) == 4:
            break
    if not names:
        if lang == "en":
            return ("the zone's area and boundaries; positioning and targets; tax incentives; customs and research "
                    "materials; entry and exit; cross-border funds and data")
        names = ["规划面积与范围", "发展定位与目标", "税收优惠", "海关与科研物资", "人员出入境", "资金与数据跨境"]
    sep = "; " if lang == "en" else "、"
    joined = sep.join(names)
    return to_traditional(joined) if lang == "zh-Hant" else joined
