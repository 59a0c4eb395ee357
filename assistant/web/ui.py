"""The web chat: a gradio page over a built assistant, with footnoted citations and per-answer actions.

The page is handed its dependencies (``build_ui(assistant, feedback, settings)``) and owns no backend. The
pieces: :mod:`assistant.web.ui_render` turns answers into HTML (pure functions), :mod:`assistant.web.ui_chat`
holds the event handlers, this module lays out the page; ``static/webchat.css`` styles it and
``static/webchat.js`` makes ``[n]`` open its footnote and the copy button copy.

Each answer has 👍/👎 (with an optional reason), copy and regenerate; a stop button ends a streaming answer;
the conversation is kept in the browser (``localStorage``) and survives a reload until "new chat".

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
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.data import AssistantLike
from assistant.errors import AssistantError
from assistant.web.feedback import FeedbackStore
from assistant.web.questions import QuestionSink
from assistant.web.ui_chat import WebChat, checked_session, new_session
from assistant.web.ui_render import render_answer, render_citation, render_error, render_text

if TYPE_CHECKING:
    import gradio as gr

    from assistant.config import Settings

__all__ = ["EXAMPLES", "WebChat", "build_ui", "launch_options", "new_session", "render_answer", "render_citation",
           "render_error", "render_text"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
TITLE = "河套深港科技创新合作区 政策助手 / Hetao Policy Assistant"
PAGE_TITLE = "河套政策助手 · Hetao Policy Assistant"
#: localStorage key of the conversation; bump the suffix when the session's shape changes.
STORAGE_KEY = "hetao-webchat-v2"

#: Example questions, by language (shown in the empty chat, next to the input).
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

PLACEHOLDER = ("**您好 · 你好 · Hello**<br>请提问河套合作区的规划与政策，回答会逐条标注出处。<br>"
               "Ask about the Hetao zone's plan and policies; every answer cites its sources.")

#: How many answers may stream at once across all visitors (gradio's default is 1, which would queue
#: every visitor behind the one being answered; the LLM call is I/O-bound).
CONCURRENCY_LIMIT = 4

_SYSTEM_FONTS = ("system-ui", "-apple-system", "Segoe UI", "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC",
                 "Microsoft YaHei", "Helvetica Neue", "Arial", "sans-serif")
_MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Noto Sans Mono CJK SC", "monospace")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


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


def launch_options() -> dict[str, Any]:
    """Theme, CSS, script and footer for ``Blocks.launch`` or ``gr.mount_gradio_app`` (gradio 6 takes them there).

    The theme uses local font stacks: gradio themes otherwise may fetch web fonts, and the page must make
    no request beyond its own server.
    """
    import gradio as gr

    theme = gr.themes.Default(primary_hue="blue", secondary_hue="teal", neutral_hue="slate",
                              font=list(_SYSTEM_FONTS), font_mono=list(_MONO_FONTS))
    css = (STATIC / "webchat.css").read_text(encoding="utf-8")
    js = (STATIC / "webchat.js").read_text(encoding="utf-8")
    # In <head>, not css=: gradio scopes css= rules inside its app container (and drops the unscoped copy of
    # rules in @media), so the phone layout could not reach the page padding around it.
    return {"theme": theme, "head": f"<style>{css}</style>", "js": js, "footer_links": []}


def build_ui(assistant: AssistantLike, feedback: FeedbackStore, settings: Settings,
             questions: QuestionSink | None = None) -> gr.Blocks:
    """The web chat page over ``assistant``, storing ratings in ``feedback`` and the questions answered in
    ``questions`` (the content gaps). Launch it with :func:`launch_options` (see the module docstring); the
    caller sets gradio's environment first."""
    import gradio as gr

    chat = WebChat(assistant, feedback, limits=settings.limits, questions=questions)
    try:
        info = assistant.info()
    except AssistantError as exc:
        log.warning("web chat: assistant.info() failed: %s", exc)
        info = {"ready": False}
    examples: list[Any] = [{"text": q} for _, questions in EXAMPLES for q in questions]  # ExampleMessage dicts

    with gr.Blocks(title=PAGE_TITLE, analytics_enabled=False, fill_height=True) as blocks:
        saved = gr.BrowserState(new_session(), storage_key=STORAGE_KEY)
        session = gr.State(new_session())
        gr.HTML(render_header(info))
        chatbot = gr.Chatbot(
            elem_id="hp-chat", show_label=False, buttons=[], feedback_options=("Like", "Dislike"),
            latex_delimiters=[], sanitize_html=True, examples=examples, autoscroll=True, scale=1,
            min_height=320, placeholder=PLACEHOLDER,
        )
        with gr.Row(equal_height=True, elem_id="hp-input-row"):
            question = gr.Textbox(
                elem_id="hp-question", show_label=False, scale=8, lines=1, max_lines=4, min_width=160,
                max_length=settings.max_question_chars, placeholder="输入问题 · Ask a question",
            )
            send = gr.Button("发送 Send", variant="primary", scale=1, min_width=80, elem_id="hp-send")
            stop = gr.Button("■ 停止 Stop", variant="stop", scale=1, min_width=80, elem_id="hp-stop", visible=False)
        with gr.Row(elem_id="hp-tools"):
            lang = gr.Dropdown(choices=list(LANG_CHOICES), value="auto", label="回答语言 Answer language",
                               scale=2, min_width=150, elem_id="hp-lang")
            reason = gr.Textbox(label="反馈原因（可选，评价前填写） Reason for 👍/👎 (optional)", lines=1, max_lines=3,
                                max_length=2000, scale=3, min_width=200, elem_id="hp-reason",
                                placeholder="例如：引用不对、缺少信息… e.g. wrong source, missing detail")
            clear = gr.Button("新对话 New chat", variant="secondary", scale=1, min_width=110, elem_id="hp-new")
        status = gr.Markdown(elem_id="hp-feedback-status")
        gr.HTML(f'<div class="hp-disclaimer">{_esc(DISCLAIMER)}</div>')

        def streaming(running: bool) -> tuple[Any, Any]:
            return gr.Button(visible=not running), gr.Button(visible=running)

        def answer(updates: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
            out: tuple[Any, ...] = ()
            for chat_value, box, s2, msg in updates:
                out = (chat_value, box, s2, s2, msg)
                # the browser's copy is written once the answer is complete, not with every partial one
                yield (chat_value, box, s2, gr.skip(), msg, *streaming(True))
            if out:
                yield (*out, *streaming(False))

        def respond(q: str, lang_value: str, s: Any, request: gr.Request) -> Iterator[tuple[Any, ...]]:
            yield from answer(chat.respond(q, lang_value, s, request.session_hash))

        def regenerate(data: gr.RetryData, lang_value: str, s: Any, request: gr.Request) -> Iterator[tuple[Any, ...]]:
            yield from answer(chat.regenerate(data.index, lang_value, s, request.session_hash))

        def stop_answer(request: gr.Request) -> None:
            chat.request_stop(request.session_hash)

        def pick(data: gr.SelectData) -> str:
            value = data.value
            return str(value.get("text", "")) if isinstance(value, dict) else str(value)

        def rate(data: gr.LikeData, why: str, s: Any) -> tuple[Any, ...]:
            msg, box, s2 = chat.rate(data.index, data.liked, why, s)
            return msg, box, s2, s2

        def reset() -> tuple[Any, ...]:
            chat_value, box, s2, msg = chat.reset()
            return (chat_value, box, s2, s2, msg, *streaming(False))

        def restore(stored: Any) -> tuple[Any, ...]:
            s = checked_session(stored)
            return s["chat"], s

        # gradio finds its event-data argument by annotation; this module's annotations are strings
        pick.__annotations__["data"], rate.__annotations__["data"] = gr.SelectData, gr.LikeData
        regenerate.__annotations__["data"] = gr.RetryData
        for fn in (respond, regenerate, stop_answer):
            fn.__annotations__["request"] = gr.Request
        outputs = [chatbot, question, session, saved, status, send, stop]
        common: dict[str, Any] = {"outputs": outputs, "concurrency_limit": CONCURRENCY_LIMIT,
                                  "concurrency_id": "answer", "show_progress": "hidden", "api_visibility": "private"}
        events = [question.submit(respond, [question, lang, session], **common),
                  send.click(respond, [question, lang, session], **common),
                  chatbot.example_select(pick, None, [question],
                                         api_visibility="private").then(respond, [question, lang, session], **common),
                  chatbot.retry(regenerate, [lang, session], **common)]
        # The stop is a flag the streaming answer reads: it ends itself, so no late update can undo the stop.
        stop.click(stop_answer, None, None, concurrency_limit=None, show_progress="hidden", api_visibility="private")
        chatbot.like(rate, [reason, session], [status, reason, session, saved], api_visibility="private")
        reset_io: dict[str, Any] = {"outputs": outputs, "api_visibility": "private"}
        clear.click(reset, cancels=events, **reset_io)  # a new chat also ends an answer still streaming
        blocks.load(restore, [saved], [chatbot, session], api_visibility="private")
    return blocks

