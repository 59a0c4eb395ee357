"""The web chat's event handlers, separate from the gradio layout so they can be driven without a browser.

The per-visitor session is a plain JSON-able dict, kept in the browser (``gr.BrowserState``) so that the
conversation survives a reload:

* ``history``: ``[{"role", "content"}]`` of finished turns (plain answer text, as the assistant wants it)
* ``chat``: the chatbot's messages (rendered HTML)
* ``answers``: for each answer message (by its index in ``chat``, as a string) what a rating stores
* ``turn``: a counter that keeps footnote ids unique on the page

It comes back from the browser, so it is checked (:func:`checked_session`) before it is used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from assistant.data import Answer, AssistantLike, Delta, Message, citation_to_dict
from assistant.errors import AssistantError
from assistant.limits import Limits
from assistant.web.errors import logged, public_message
from assistant.web.feedback import FeedbackStore
from assistant.web.questions import QuestionSink, record_answer, serving_build
from assistant.web.ui_render import INTERNAL_ERROR, render_answer, render_error, render_question, render_text

#: Minimum seconds between two streamed UI updates: a token-level stream need not repaint per token.
STREAM_REPAINT_S = 0.05
#: Most messages a restored session may hold (older ones are dropped): the browser's copy is not trusted.
MAX_SESSION_MESSAGES = 200
_CURSOR = '<span class="hp-cursor">▍</span>'
_STOPPED = '<div class="hp-stopped">（已停止 · stopped）</div>'

Update = tuple[list[dict[str, Any]], str, dict[str, Any], str]  # (chat, question box, session, status)


def new_session() -> dict[str, Any]:
    """An empty per-visitor session."""
    return {"history": [], "chat": [], "answers": {}, "turn": 0}


def checked_session(value: Any) -> dict[str, Any]:
    """A session from the browser, or a new one when it is missing or not of the expected shape."""
    if not isinstance(value, dict):
        return new_session()
    history, chat, answers = value.get("history"), value.get("chat"), value.get("answers")
    turn = value.get("turn")
    if not (isinstance(history, list) and isinstance(chat, list) and isinstance(answers, dict)
            and isinstance(turn, int)):
        return new_session()
    ok_history = all(isinstance(m, dict) and m.get("role") in ("user", "assistant")
                     and isinstance(m.get("content"), str) for m in history)
    ok_chat = all(isinstance(m, dict) and m.get("role") in ("user", "assistant")
                  and isinstance(m.get("content"), str) for m in chat)
    if not (ok_history and ok_chat):
        return new_session()
    checked = {"history": history[-MAX_SESSION_MESSAGES:], "chat": chat[-MAX_SESSION_MESSAGES:],
               "answers": answers if len(chat) <= MAX_SESSION_MESSAGES else {}, "turn": turn}
    return checked


class WebChat:
    """The page's handlers over a built assistant, a feedback store and the question log (the editors' content
    gaps: each answered question is kept there as the API keeps it, channel ``webchat``)."""

    def __init__(self, assistant: AssistantLike, feedback: FeedbackStore, *, max_history_turns: int = 10,
                 limits: Limits | None = None, questions: QuestionSink | None = None) -> None:
        self.assistant = assistant
        self.feedback = feedback
        self.questions = questions
        self.limits = limits or Limits(max_history_turns=max_history_turns)
        self._stops: set[str] = set()
        self._lock = threading.Lock()

    def request_stop(self, key: str | None) -> None:
        """Ask the answer streaming for visitor ``key`` to stop at its next piece (see :meth:`respond`)."""
        if key:
            with self._lock:
                self._stops.add(key)

    def _should_stop(self, key: str | None) -> bool:
        with self._lock:
            if key in self._stops:
                self._stops.discard(key)
                return True
            return False

    def respond(self, question: str, lang: str, session: Any, key: str | None = None) -> Iterator[Update]:
        """Stream the answer to ``question``; yields (chat, question box, session, status).

        ``key`` names the visitor for :meth:`request_stop`: the stream itself ends with the part shown so far,
        marked as stopped (kept in the chat, not in the history), so no late update can overwrite the stop.
        """
        self._should_stop(key)  # a stop asked before this answer began is not for it
        session = checked_session(session)
        question = (question or "").strip()
        if not question:
            yield session["chat"], "", session, ""
            return
        history = self.limits.recent([Message(role=m["role"], content=m["content"]) for m in session["history"]])
        chat = [*session["chat"], {"role": "user", "content": render_question(question)},
                {"role": "assistant", "content": _CURSOR}]
        yield list(chat), "", session, ""

        text, final, painted = "", None, time.monotonic()
        try:
            question, history = self.limits.check(question, history)
            stream = self.assistant.stream(question, history, lang=None if lang in ("", "auto") else lang)
            for item in stream:
                if self._should_stop(key):
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
                    chat[-1] = {"role": "assistant", "content": render_text(text) + _STOPPED}
                    # regenerate can ask it again; rate finds no answer in it
                    answers = {**session["answers"], str(len(chat) - 1): {"question": question, "stopped": True}}
                    yield chat, "", {**session, "chat": chat, "answers": answers}, ""
                    return
                if isinstance(item, Answer):
                    final = item
                elif isinstance(item, Delta):
                    text += item.text
                    if time.monotonic() - painted >= STREAM_REPAINT_S:
                        chat[-1] = {"role": "assistant", "content": render_text(text) + _CURSOR}
                        painted = time.monotonic()
                        yield list(chat), "", session, ""
            if final is None:
                raise AssistantError("the assistant ended its answer without a result — please ask again")
        except Exception as exc:
            logged(exc, f"web chat: answering {question[:200]!r}")  # the visitor is told its public message
            chat[-1] = {"role": "assistant", "content": render_error(exc)}
            # The failed turn stays visible but is not history: the assistant never answered it.
            yield chat, "", {**session, "chat": chat}, ""
            return

        record_answer(self.questions, self.assistant, final, "webchat")
        turn = session["turn"] + 1
        chat[-1] = {"role": "assistant", "content": render_answer(final, turn)}
        record = {"question": question, "answer": final.text, "lang": final.lang, "mode": final.mode,
                  "model": final.model, "notice": final.notice, "turn": turn, "confidence": final.confidence,
                  "build": serving_build(self.assistant),
                  "citations": [citation_to_dict(c) for c in final.citations]}
        session = {
            "history": [*session["history"], {"role": "user", "content": question},
                        {"role": "assistant", "content": final.text}],
            "chat": chat,
            "answers": {**session["answers"], str(len(chat) - 1): record},
            "turn": turn,
        }
        yield chat, "", session, ""

    def rate(self, index: Any, liked: Any, reason: str, session: Any) -> tuple[str, str, dict[str, Any]]:
        """Store 👍 (``liked`` true) or 👎 for the answer at ``index`` in the chat; (status, reason box, session)."""
        session = checked_session(session)
        if isinstance(index, list | tuple):
            index = index[0] if index else None
        record = session["answers"].get(str(index))
        if not isinstance(record, dict) or not isinstance(record.get("question"), str) \
                or not isinstance(record.get("answer"), str):
            return "请选择一条回答来评价。 Rate an answer, not a question.", reason, session
        if liked is None or liked == "":  # the reader took the rating back: keep the stored row, say so
            return "评价已取消（已保存的反馈保留）。 Rating withdrawn.", reason, session
        rating = 1 if liked is True or liked == "Like" else -1
        try:
            row_id = self.feedback.record(
                record["question"], str(record.get("answer", "")), list(record.get("citations") or []), rating,
                reason=(reason or "").strip() or None, lang=record.get("lang"), mode=record.get("mode"),
                meta={"source": "webchat", "model": record.get("model"), "notice": record.get("notice"),
                      "turn": record.get("turn"), "build": record.get("build"),
                      "confidence": record.get("confidence")},
            )
        except Exception as exc:
            logged(exc, "web chat: saving a rating")
            return f"⚠ 反馈未保存 Feedback not saved: {public_message(exc, INTERNAL_ERROR)}", reason, session
        thumb = "👍" if rating > 0 else "👎"
        answers = {**session["answers"], str(index): {**record, "rated": rating, "feedback_id": row_id}}
        return f"{thumb} 已记录，谢谢！ Thanks — feedback #{row_id} saved.", "", {**session, "answers": answers}

    def regenerate(self, index: Any, lang: str, session: Any, key: str | None = None) -> Iterator[Update]:
        """Answer the question at chat ``index`` (the one before a retried answer) again, dropping what followed."""
        session = checked_session(session)
        if isinstance(index, list | tuple):
            index = index[0] if index else None
        if not isinstance(index, int) or not 0 <= index < len(session["chat"]):
            yield session["chat"], "", session, ""
            return
        if session["chat"][index]["role"] != "user":
            index -= 1  # the retry button sits on the answer; its question is the message before it
        record = session["answers"].get(str(index + 1))
        question = record.get("question") if isinstance(record, dict) else None
        if index < 0 or not isinstance(question, str):
            yield session["chat"], "", session, ""
            return
        answered_before = sum(1 for k, v in session["answers"].items()
                              if k.isdigit() and int(k) < index and isinstance(v, dict) and "answer" in v)
        trimmed = {
            "history": session["history"][: 2 * answered_before],
            "chat": session["chat"][:index],
            "answers": {k: v for k, v in session["answers"].items() if k.isdigit() and int(k) < index},
            "turn": session["turn"],
        }
        yield from self.respond(question, lang, trimmed, key)

    def reset(self) -> Update:
        """Start a new conversation."""
        session = new_session()
        return session["chat"], "", session, ""
