"""The web chat: a gradio page over a built assistant, with footnoted citations and 👍/👎 feedback.

The page is handed its dependencies (``build_ui(assistant, feedback, settings)``) and owns no backend.
Answers stream in as the assistant produces them; each finished answer is rendered with its citations as
footnotes (``<details>``, so the quotes open without JavaScript) and the answer mode.

Everything that came from a document or a user is HTML-escaped before it goes into HTML: the rendering
helpers (:func:`render_answer` and friends) are pure functions and tested on their own.

gradio is imported inside :func:`build_ui` and :func:`launch_options`, not at module import, so that
``app.py`` can set the environment gradio reads at import (``GRADIO_ANALYTICS_ENABLED=False``,
``HF_HUB_OFFLINE=1``, ``HF_HUB_DISABLE_TELEMETRY=1``) before gradio is first imported.

Example (what ``app.py`` does)::

    blocks = build_ui(build_assistant(settings), FeedbackStore(settings.feedback_db), settings)
    blocks.launch(server_name=settings.host, server_port=settings.port, **launch_options())
    # or, inside FastAPI: gr.mount_gradio_app(app, blocks, "/", **launch_options())
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from assistant.data import Answer, AssistantLike, Citation, Delta, Message, citation_to_dict
from assistant.errors import AssistantError
from assistant.limits import Limits
from assistant.text.markers import rewrite_markers
from assistant.web.feedback import FeedbackStore

if TYPE_CHECKING:
    import gradio as gr

    from assistant.config import Settings

log = logging.getLogger(__name__)

TITLE = "河套深港科技创新合作区 政策助手 / Hetao Policy Assistant"
PAGE_TITLE = "河套政策助手 · Hetao Policy Assistant"

#: Example questions, by language: (section label, questions).
EXAMPLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("简体中文", ("河套合作区总面积有多大？", "深圳园区有哪些个人所得税优惠政策？")),
    ("繁體中文（香港）", ("深圳園區的面積是多少？", "科研物資進出合作區有甚麼海關便利？")),
    ("English", ("Which land border crossings does the zone have?",
                 "What are the development goals of the Shenzhen park for 2035?")),
)

LANG_CHOICES = (("自动 Auto", "auto"), ("简体中文", "zh-Hans"), ("繁體中文（香港）", "zh-Hant"), ("English", "en"))

DISCLAIMER = (
    "回答引用的是公开资料的整理摘编，仅供参考，不构成法律或政策意见；一切以官方发布的原文为准。"
    " 回答引用的是公開資料的整理摘編，僅供參考；一切以官方發佈的原文為準。"
    " Answers quote digests of public sources, for reference only and not legal advice; the official texts prevail."
)

#: How many answers may stream at once across all visitors (gradio's default is 1, which would queue
#: every visitor behind the one being answered; the LLM call is I/O-bound).
CONCURRENCY_LIMIT = 4
#: Minimum seconds between two streamed UI updates: a token-level stream need not repaint per token.
STREAM_REPAINT_S = 0.05

_SYSTEM_FONTS = ("system-ui", "-apple-system", "Segoe UI", "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC",
                 "Microsoft YaHei", "Helvetica Neue", "Arial", "sans-serif")
_MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Noto Sans Mono CJK SC", "monospace")
_CURSOR = '<span class="hp-cursor">▍</span>'


# --------------------------------------------------------------------------------------------------
# Rendering: pure functions from data to Markdown/HTML. Every piece of foreign text goes through _esc.


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_text(text: str) -> str:
    """Answer text as chat Markdown: HTML-escaped, ``[n]`` markers raised to ``<sup>[n]</sup>``."""
    return rewrite_markers(_esc(text), lambda numbers: "".join(f'<sup class="hp-ref">[{n}]</sup>' for n in numbers))


def mode_label(answer: Answer) -> str:
    """A short bilingual label of how the answer was made: quoted, by which model, or declined."""
    if answer.mode == "decline":
        return "未找到依据 · declined"
    if answer.mode == "llm":
        return f"模型 · {answer.model or 'LLM'}"
    return "摘录 · extractive"


def render_citation(c: Citation) -> str:
    """One footnote: ``[n] title · doc_no · section`` that opens to the exact quote and its metadata."""
    head = " · ".join(_esc(p) for p in (c.title, c.doc_no, c.section) if p)
    meta = [f"{label} {_esc(value)}" for label, value in
            (("发布 Issuer:", c.issuer), ("日期 Date:", c.date), ("来源 Source:", c.source)) if value]
    if c.url and c.url.startswith(("https://", "http://")):
        meta.append(f'<a href="{_esc(c.url)}" rel="noopener noreferrer nofollow" target="_blank">原文链接 Link</a>')
    if not c.verified:
        meta.append('<span class="hp-warn">未逐字核对 not verified verbatim</span>')
    parts = [
        f'<details class="hp-cite"><summary><span class="hp-cite-n">[{int(c.n)}]</span> {head}</summary>',
        f'<blockquote class="hp-quote">{_esc(c.quote)}</blockquote>',
        f'<div class="hp-cite-meta">{" · ".join(meta)}</div>' if meta else "",
    ]
    if c.passage_text and c.passage_text.strip() != c.quote.strip():
        parts.append(f'<details class="hp-context"><summary>上下文 Context</summary>'
                     f'<div class="hp-passage">{_esc(c.passage_text)}</div></details>')
    parts.append("</details>")
    # One line: a blank line would end the HTML block and let Markdown rewrite the quote.
    return "".join(p.replace("\n", "<br>") for p in parts)


def render_answer(answer: Answer) -> str:
    """A finished answer as chat content: text, then footnotes, then its mode and any notice."""
    out = [render_text(answer.text)]
    if answer.citations:
        notes = "".join(render_citation(c) for c in sorted(answer.citations, key=lambda c: c.n))
        out.append(f'<div class="hp-cites"><div class="hp-cites-h">引用 Sources</div>{notes}</div>')
    badges = [f'<span class="hp-badge hp-mode-{_esc(answer.mode)}">{_esc(mode_label(answer))}</span>']
    if answer.notice:
        badges.append(f'<span class="hp-notice">⚠ {_esc(answer.notice)}</span>')
    out.append(f'<div class="hp-answer-meta">{"".join(badges)}</div>')
    return "\n\n".join(out)


def render_error(exc: BaseException) -> str:
    """An error as a chat message: what went wrong, never a stack trace."""
    if isinstance(exc, AssistantError):
        detail = str(exc) or type(exc).__name__
    else:
        detail = "内部错误，请稍后再试。 Internal error — please try again later."
    return f'<div class="hp-error">⚠ 无法回答 Could not answer: {_esc(detail)}</div>'


def render_header(info: dict[str, Any]) -> str:
    """The page header with the assistant's state (mode, model, indexed chunks)."""
    mode = info.get("mode") or "?"
    mode_text = "摘录 extractive" if mode == "extractive" else f"模型 {info.get('model') or mode}"
    pills = [f"模式 Mode: {_esc(mode_text)}", f"知识库 Index: {_esc(info.get('chunks', '?'))} 段 chunks"]
    if info.get("ready") is False:
        pills.append('<span class="hp-warn">索引未就绪 Index not ready</span>')
    title_zh, _, title_en = TITLE.partition(" / ")
    return (
        '<div class="hp-header">'
        f'<h1><span class="hp-title-zh">{_esc(title_zh)}</span> <span class="hp-title-en">{_esc(title_en)}</span></h1>'
        '<p class="hp-sub">依据公开政策文件摘编作答，逐条标注出处 · '
        "Cited answers from digests of public policy documents</p>"
        f'<div class="hp-pills">{"".join(f"<span>{p}</span>" for p in pills)}</div>'
        "</div>"
    )


# --------------------------------------------------------------------------------------------------
# Handlers. The per-visitor session is a plain dict in gr.State:
#   history: [{"role", "content"}] of finished turns (plain answer text, as the assistant wants it)
#   chat:    the chatbot's messages (rendered HTML)
#   last:    the last finished answer, for feedback; None before the first one or after an error


def new_session() -> dict[str, Any]:
    """An empty per-visitor session."""
    return {"history": [], "chat": [], "last": None}


class WebChat:
    """The page's event handlers, separate from the layout so they can be driven without a browser."""

    def __init__(self, assistant: AssistantLike, feedback: FeedbackStore, *, max_history_turns: int = 10,
                 limits: Limits | None = None) -> None:
        self.assistant = assistant
        self.feedback = feedback
        self.limits = limits or Limits(max_history_turns=max_history_turns)

    def respond(self, question: str, lang: str, session: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
        """Stream the answer to ``question``; yields (chat, question box, session, feedback enabled, status)."""
        session = session or new_session()
        question = (question or "").strip()
        if not question:
            yield session["chat"], "", session, session["last"] is not None, ""
            return
        history = self.limits.recent([Message(role=m["role"], content=m["content"]) for m in session["history"]])
        chat = [*session["chat"], {"role": "user", "content": render_text(question)},
                {"role": "assistant", "content": _CURSOR}]
        yield chat, "", session, False, ""

        text, final, painted = "", None, time.monotonic()
        try:
            question, history = self.limits.check(question, history)
            for item in self.assistant.stream(question, history, lang=None if lang in ("", "auto") else lang):
                if isinstance(item, Answer):
                    final = item
                elif isinstance(item, Delta):
                    text += item.text
                    if time.monotonic() - painted >= STREAM_REPAINT_S:
                        chat[-1] = {"role": "assistant", "content": render_text(text) + _CURSOR}
                        painted = time.monotonic()
                        yield chat, "", session, False, ""
            if final is None:
                raise AssistantError("the assistant ended its answer without a result — please ask again")
        except Exception as exc:
            if not isinstance(exc, AssistantError):
                log.exception("web chat: answering %r failed", question)
            chat[-1] = {"role": "assistant", "content": render_error(exc)}
            # The failed turn stays visible but is not history: the assistant never answered it.
            yield chat, "", {**session, "chat": chat, "last": None}, False, ""
            return

        chat[-1] = {"role": "assistant", "content": render_answer(final)}
        session = {
            "history": [*session["history"], {"role": "user", "content": question},
                        {"role": "assistant", "content": final.text}],
            "chat": chat,
            "last": {
                "question": question,
                "answer": final.text,
                "citations": [citation_to_dict(c) for c in final.citations],
                "lang": final.lang,
                "mode": final.mode,
                "model": final.model,
                "notice": final.notice,
                "turn": len(session["history"]) // 2 + 1,
            },
        }
        yield chat, "", session, True, ""

    def rate(self, rating: int, reason: str, session: dict[str, Any]) -> tuple[str, str, bool, dict[str, Any]]:
        """Store 👍 (+1) or 👎 (-1) for the last answer; returns (status, reason box, feedback enabled, session)."""
        last = (session or {}).get("last")
        if not last:
            return "请先提问。 Ask a question first.", reason, False, session
        try:
            row_id = self.feedback.record(
                last["question"], last["answer"], last["citations"], rating, reason=reason, lang=last["lang"],
                mode=last["mode"],
                meta={"source": "webchat", "model": last["model"], "notice": last["notice"], "turn": last["turn"]},
            )
        except AssistantError as exc:
            return f"⚠ 反馈未保存 Feedback not saved: {_esc(exc)}", reason, True, session
        thumb = "👍" if rating > 0 else "👎"
        status = f"{thumb} 已记录，谢谢！ Thanks — feedback #{row_id} saved."
        # One rating per answer: the buttons come back with the next answer.
        return status, "", False, {**session, "last": {**last, "rated": rating}}

    def reset(self) -> tuple[list[dict[str, Any]], str, dict[str, Any], bool, str]:
        """Start a new conversation."""
        session = new_session()
        return session["chat"], "", session, False, ""


# --------------------------------------------------------------------------------------------------
# Layout


CSS = """
.gradio-container { max-width: 1180px !important; margin: 0 auto !important; }
.hp-header { padding: 18px 22px; border-radius: 12px; color: #fff;
  background: linear-gradient(120deg, #0b3d6e 0%, #125a8f 55%, #1b7a8c 100%); }
.hp-header h1 { margin: 0 !important; font-size: 1.45rem !important; font-weight: 650 !important;
  line-height: 1.35 !important; color: #fff !important; }
.hp-header .hp-title-zh { color: #fff !important; }
.hp-header .hp-title-en { font-weight: 400; color: rgba(255,255,255,.85) !important; font-size: 1.05rem;
  margin-left: .4em; }
.hp-header .hp-sub { margin: 4px 0 10px !important; color: rgba(255,255,255,.88) !important; font-size: .92rem; }
.hp-pills { display: flex; flex-wrap: wrap; gap: 8px; }
.hp-pills span { background: rgba(255,255,255,.16); color: #fff; border-radius: 999px; padding: 2px 10px;
  font-size: .8rem; }
.hp-ref { color: var(--color-accent); font-weight: 600; }
.hp-cites { margin-top: 10px; border-top: 1px solid var(--border-color-primary); padding-top: 6px; font-size: .88rem; }
.hp-cites-h { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; opacity: .65; margin-bottom: 2px; }
details.hp-cite { margin: 3px 0; }
details.hp-cite > summary { cursor: pointer; list-style-position: outside; }
.hp-cite-n { font-weight: 650; color: var(--color-accent); }
blockquote.hp-quote { margin: 6px 0 4px 0 !important; padding: 6px 10px !important;
  border-left: 3px solid var(--color-accent) !important; background: var(--background-fill-secondary); }
.hp-cite-meta, .hp-passage { font-size: .8rem; opacity: .8; }
details.hp-context > summary { font-size: .8rem; cursor: pointer; opacity: .75; }
.hp-answer-meta { margin-top: 8px; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.hp-badge { font-size: .72rem; padding: 1px 8px; border-radius: 999px; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); }
.hp-mode-decline { color: #9a6700; }
.hp-notice, .hp-warn { font-size: .78rem; color: #9a6700; }
.hp-error { color: #b42318; }
.hp-cursor { animation: hp-blink 1s steps(2) infinite; opacity: .6; }
@keyframes hp-blink { 50% { opacity: 0; } }
.hp-side { gap: 8px !important; }
.hp-side h3 { margin: 2px 0 !important; font-size: .95rem !important; }
.hp-side .hp-fb-h { margin-top: 14px !important; }
.hp-example-lang { font-size: .75rem; opacity: .65; margin: 6px 0 0; }
button.hp-example { justify-content: flex-start !important; text-align: left !important;
  white-space: normal !important; font-weight: 400 !important; }
.hp-disclaimer { font-size: .78rem; opacity: .75; line-height: 1.5; padding: 8px 4px; }
"""


def launch_options() -> dict[str, Any]:
    """Theme, CSS and footer for ``Blocks.launch`` or ``gr.mount_gradio_app`` (gradio 6 takes them there).

    The theme uses local font stacks: gradio themes otherwise may fetch web fonts, and the page must make
    no request beyond its own server.
    """
    import gradio as gr

    theme = gr.themes.Default(primary_hue="blue", secondary_hue="teal", neutral_hue="slate",
                              font=list(_SYSTEM_FONTS), font_mono=list(_MONO_FONTS))
    return {"theme": theme, "css": CSS, "footer_links": []}


def build_ui(assistant: AssistantLike, feedback: FeedbackStore, settings: Settings) -> gr.Blocks:
    """The web chat page over ``assistant``, storing ratings in ``feedback``. Launch it with
    :func:`launch_options` (see the module docstring); the caller sets gradio's environment first."""
    import gradio as gr

    chat = WebChat(assistant, feedback, limits=settings.limits)
    try:
        info = assistant.info()
    except AssistantError as exc:
        log.warning("web chat: assistant.info() failed: %s", exc)
        info = {"ready": False}

    with gr.Blocks(title=PAGE_TITLE, analytics_enabled=False) as blocks:
        session = gr.State(new_session())
        gr.HTML(render_header(info))
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    elem_id="hp-chat", show_label=False, height=560, buttons=[], feedback_options=None,
                    latex_delimiters=[], sanitize_html=True,
                    placeholder=("**您好 · 你好 · Hello**<br>请提问河套合作区的规划与政策，回答会逐条标注出处。<br>"
                                 "Ask about the Hetao zone's plan and policies; every answer cites its sources."),
                )
                with gr.Row(equal_height=True):
                    question = gr.Textbox(
                        elem_id="hp-question", show_label=False, scale=8, lines=1, max_lines=4, autofocus=True,
                        max_length=settings.max_question_chars,
                        placeholder="输入问题 · 輸入問題 · Type your question, Enter to send",
                    )
                    send = gr.Button("发送 Send", variant="primary", scale=1, min_width=120, elem_id="hp-send")
                with gr.Row():
                    lang = gr.Dropdown(choices=list(LANG_CHOICES), value="auto", label="回答语言 Answer language",
                                       scale=2, min_width=160)
                    clear = gr.Button("新对话 New chat", variant="secondary", scale=1, min_width=120)
            with gr.Column(scale=2, min_width=280, elem_classes=["hp-side"]):
                gr.Markdown("### 示例问题 · Example questions")
                example_buttons: list[tuple[gr.Button, str]] = []
                for label, questions in EXAMPLES:
                    gr.HTML(f'<div class="hp-example-lang">{_esc(label)}</div>')
                    for q in questions:
                        b = gr.Button(q, size="sm", variant="secondary", elem_classes=["hp-example"])
                        example_buttons.append((b, q))
                gr.Markdown("### 这个回答有帮助吗？ Was the last answer helpful?", elem_classes=["hp-fb-h"])
                with gr.Row():
                    up = gr.Button("👍 有帮助 Helpful", size="sm", interactive=False, elem_id="hp-up")
                    down = gr.Button("👎 没帮助 Not helpful", size="sm", interactive=False, elem_id="hp-down")
                reason = gr.Textbox(label="原因（可选） Reason (optional)", lines=2, max_length=2000,
                                    placeholder="例如：引用不对、缺少信息… e.g. wrong source, missing detail",
                                    elem_id="hp-reason")
                status = gr.Markdown(elem_id="hp-feedback-status")
        gr.HTML(f'<div class="hp-disclaimer">{_esc(DISCLAIMER)}</div>')

        def toggles(enabled: bool) -> tuple[gr.Button, gr.Button]:
            return gr.Button(interactive=enabled), gr.Button(interactive=enabled)

        def respond(q: str, lang_value: str, s: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
            for chat_value, box, s2, enabled, msg in chat.respond(q, lang_value, s):
                yield (chat_value, box, s2, *toggles(enabled), msg)

        def rate_up(why: str, s: dict[str, Any]) -> tuple[Any, ...]:
            msg, box, enabled, s2 = chat.rate(+1, why, s)
            return (msg, box, *toggles(enabled), s2)

        def rate_down(why: str, s: dict[str, Any]) -> tuple[Any, ...]:
            msg, box, enabled, s2 = chat.rate(-1, why, s)
            return (msg, box, *toggles(enabled), s2)

        def reset() -> tuple[Any, ...]:
            chat_value, box, s2, enabled, msg = chat.reset()
            return (chat_value, box, s2, *toggles(enabled), msg)

        answer_io: dict[str, Any] = {
            "fn": respond, "inputs": [question, lang, session],
            "outputs": [chatbot, question, session, up, down, status],
            "concurrency_limit": CONCURRENCY_LIMIT, "concurrency_id": "answer",  # one limit for all triggers
            "show_progress": "hidden", "api_visibility": "private",
        }
        question.submit(**answer_io)
        send.click(**answer_io)
        for button, q in example_buttons:
            button.click(lambda q=q: q, outputs=[question], api_visibility="private").then(**answer_io)
        rate_io: dict[str, Any] = {"inputs": [reason, session], "outputs": [status, reason, up, down, session],
                                   "api_visibility": "private"}
        up.click(rate_up, **rate_io)
        down.click(rate_down, **rate_io)
        reset_io: dict[str, Any] = {"outputs": [chatbot, question, session, up, down, status],
                                    "api_visibility": "private"}
        clear.click(reset, **reset_io)
        chatbot.clear(reset, **reset_io)  # the chatbot's own 🗑 button must forget the history too
    return blocks
