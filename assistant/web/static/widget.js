/*
 * Hetao park policy assistant — embeddable chat widget. Vanilla JS, no build step, no external requests.
 *
 *   <script src="https://HOST/widget.js" data-lang="zh-Hans" data-title="河套政策助手" data-accent="#0b6e4f"
 *           data-position="right" data-welcome="您好！" data-examples="问题一|问题二" defer></script>
 *
 * The API base URL is the folder this script was loaded from. Everything renders inside a Shadow DOM,
 * so the host page's CSS cannot reach in and ours cannot leak out. Server and user text is only ever inserted
 * with textContent / text nodes (never innerHTML), and the page holds no secret: the server decides which
 * sites may call it (PARK_ALLOWED_ORIGINS).
 */
(function () {
  "use strict";
  if (window.__parkAssistantWidget) return; // loaded twice: keep the first
  window.__parkAssistantWidget = true;

  var script = document.currentScript ||
    Array.prototype.slice.call(document.querySelectorAll("script[src]")).filter(function (s) {
      return /\/widget\.js(\?|#|$)/.test(s.src);
    })[0];
  if (!script) return;
  var API_BASE = new URL(".", script.src);
  var MAX_HISTORY = 12; // messages (6 turns) sent back for follow-up questions

  var STRINGS = {
    "zh-Hans": {
      title: "河套政策助手", open: "打开政策助手", close: "关闭", placeholder: "请输入您的问题…", send: "发送",
      welcome: "您好！我可以回答关于河套深港科技创新合作区政策的问题，答案会注明出处。",
      examples: "试试这些问题：", thinking: "正在查找资料…", you: "您", bot: "助手",
      sources: "出处", docNo: "文号", section: "章节", date: "日期", issuer: "发文机关", openDoc: "查看原文",
      unverified: "注意：此引文未能在原文中逐字核对。", cite: "引文",
      helpful: "有帮助", unhelpful: "没帮助", thanks: "感谢反馈！",
      network: "无法连接到政策助手。本网站可能未获授权使用该服务，或网络暂时不可用。",
      rate_limited: "提问过于频繁，请稍后再试。", question_too_long: "问题太长，请精简后再发送。",
      origin_not_allowed: "本网站未获授权使用政策助手。", failed: "出错了，请稍后再试。",
      disclaimer: "答案仅依据收录的政策文件，请以原文为准。"
    },
    "zh-Hant": {
      title: "河套政策助手", open: "開啟政策助手", close: "關閉", placeholder: "請輸入您的問題…", send: "發送",
      welcome: "您好！我可以回答關於河套深港科技創新合作區政策的問題，答案會註明出處。",
      examples: "試試這些問題：", thinking: "正在查找資料…", you: "您", bot: "助手",
      sources: "出處", docNo: "文號", section: "章節", date: "日期", issuer: "發文機關", openDoc: "查看原文",
      unverified: "注意：此引文未能在原文中逐字核對。", cite: "引文",
      helpful: "有幫助", unhelpful: "沒幫助", thanks: "感謝回饋！",
      network: "無法連接到政策助手。本網站可能未獲授權使用該服務，或網絡暫時不可用。",
      rate_limited: "提問過於頻繁，請稍後再試。", question_too_long: "問題太長，請精簡後再發送。",
      origin_not_allowed: "本網站未獲授權使用政策助手。", failed: "出錯了，請稍後再試。",
      disclaimer: "答案僅依據收錄的政策文件，請以原文為準。"
    },
    en: {
      title: "Hetao policy assistant", open: "Open the policy assistant", close: "Close",
      placeholder: "Ask a question…", send: "Send",
      welcome: "Hello! I answer questions about the policies of the Hetao Shenzhen–Hong Kong Science and " +
        "Technology Innovation Cooperation Zone, with sources.",
      examples: "Try asking:", thinking: "Searching the documents…", you: "You", bot: "Assistant",
      sources: "Sources", docNo: "Document No.", section: "Section", date: "Date", issuer: "Issuer",
      openDoc: "Open the document", unverified: "Note: this quote could not be matched word for word.",
      cite: "Citation", helpful: "Helpful", unhelpful: "Not helpful", thanks: "Thanks for the feedback!",
      network: "Could not reach the assistant. This site may not be allowed to use it, or the network is down.",
      rate_limited: "Too many questions in a short time — please wait a moment.",
      question_too_long: "The question is too long — please shorten it.",
      origin_not_allowed: "This site is not allowed to use the assistant.", failed: "Something went wrong — please try again.",
      disclaimer: "Answers are based only on the indexed policy documents; check the original text."
    }
  };

  function pickLang(value) {
    var v = String(value || "").toLowerCase();
    if (/^zh-(hant|hk|tw|mo)/.test(v)) return "zh-Hant";
    if (/^zh/.test(v)) return "zh-Hans";
    if (/^en/.test(v)) return "en";
    return null;
  }

  var data = script.dataset;
  var lang = pickLang(data.lang) || pickLang(document.documentElement.lang) || pickLang(navigator.language) || "zh-Hans";
  var T = STRINGS[lang];
  var COLON = lang === "en" ? ": " : "：", SEP = lang === "en" ? "; " : "；";
  var title = data.title || T.title;
  var welcome = data.welcome || T.welcome;
  var examples = (data.examples || "").split("|").map(function (s) { return s.trim(); }).filter(Boolean).slice(0, 6);
  var position = data.position === "left" ? "left" : "right";
  var accent = data.accent && window.CSS && CSS.supports("color", data.accent) ? data.accent : "#0b6e4f";

  var CSS_TEXT = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','PingFang SC',",
    "'Microsoft YaHei',sans-serif;color:#1f2933;font-size:15px;line-height:1.5;margin:0;padding:0;",
    "text-transform:none;letter-spacing:normal;text-align:left;visibility:visible;float:none;border:0}",
    "[hidden]{display:none!important}",
    ".launcher{position:fixed;bottom:20px;" + position + ":20px;width:56px;height:56px;border-radius:50%;",
    "background:var(--accent);cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;",
    "align-items:center;justify-content:center}",
    ".launcher svg{width:28px;height:28px;fill:#fff}",
    "button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}",
    ".panel{position:fixed;bottom:88px;" + position + ":20px;width:380px;max-width:calc(100vw - 40px);",
    "height:min(600px,calc(100vh - 110px));background:#fff;border-radius:14px;display:flex;flex-direction:column;",
    "box-shadow:0 10px 40px rgba(0,0,0,.28);overflow:hidden}",
    ".head{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--accent)}",
    ".head h2{flex:1;font-size:16px;font-weight:600;color:#fff}",
    ".head button{background:transparent;color:#fff;font-size:22px;line-height:1;width:32px;height:32px;",
    "border-radius:6px;cursor:pointer}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px;background:#f6f8f7}",
    ".msg{max-width:92%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;word-break:break-word}",
    ".user{align-self:flex-end;background:var(--accent);color:#fff}",
    ".bot{align-self:flex-start;background:#fff;border:1px solid #dde3e0}",
    ".bot.error{background:#fff4f2;border-color:#f2b8ad;color:#8a1c0b}",
    ".note{font-size:13px;color:#52606d;margin-top:6px}",
    ".cite{display:inline-block;min-width:22px;padding:0 4px;margin:0 1px;border-radius:5px;cursor:pointer;",
    "background:#e6f2ee;color:var(--accent);font-size:12px;font-weight:600;line-height:18px;vertical-align:1px}",
    ".cite[aria-expanded=true]{background:var(--accent);color:#fff}",
    ".quote{margin-top:8px;padding:8px 10px;border-left:3px solid var(--accent);background:#f3f7f5;border-radius:4px}",
    ".quote blockquote{font-size:14px;white-space:pre-wrap}",
    ".quote .meta{font-size:12px;color:#52606d;margin-top:4px;white-space:normal}",
    ".quote a{color:var(--accent);font-size:12px;text-decoration:underline}",
    ".sources{margin-top:8px;font-size:12px;color:#52606d;white-space:normal}",
    ".fb{margin-top:6px;display:flex;gap:6px;align-items:center}",
    ".fb button{background:#eef2f0;border-radius:6px;padding:1px 8px;cursor:pointer;font-size:12px;color:#334e45}",
    ".fb span{font-size:12px;color:#52606d}",
    ".examples{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}",
    ".examples button{background:#fff;border:1px solid var(--accent);color:var(--accent);border-radius:14px;",
    "padding:3px 10px;font-size:13px;cursor:pointer}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #dde3e0;background:#fff}",
    "textarea{flex:1;resize:none;height:44px;max-height:120px;padding:10px;border:1px solid #c5cec9;",
    "border-radius:10px;background:#fff}",
    "form button{background:var(--accent);color:#fff;border-radius:10px;padding:0 14px;cursor:pointer;font-weight:600}",
    "form button:disabled{opacity:.5;cursor:default}",
    ".foot{font-size:11px;color:#7b8794;padding:0 12px 8px;background:#fff}",
    ".checklist{margin-top:8px;padding:8px;border:1px solid #dde3e0;border-radius:8px;white-space:normal}",
    ".checklist h3{font-size:13px;font-weight:600}.checklist li{list-style:none;margin:6px 0;font-size:13px}",
    ".checklist .st{font-weight:600}.checklist .met .st{color:#0b6e4f}.checklist .unmet .st{color:#8a1c0b}",
    ".checklist button{background:#eef2f0;border-radius:6px;padding:1px 8px;margin-left:4px;cursor:pointer}",
    ".checklist .verdict{font-weight:600;margin-top:6px}",
    "@media (max-width:480px){.panel{top:0;bottom:0;left:0;right:0;width:100%;max-width:100%;height:100%;",
    "border-radius:0}.launcher.open{display:none}}"
  ].join("");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  // --- the DOM -----------------------------------------------------------------------------------------------
  var host = document.createElement("park-assistant-widget");
  // inline !important beats any page rule on the host element itself (e.g. `* {display:none !important}`)
  host.setAttribute("style", "all:initial!important;display:block!important;position:static!important;" +
    "visibility:visible!important;opacity:1!important;--accent:" + accent);
  var root = host.attachShadow({ mode: "open" });
  var style = el("style", null, CSS_TEXT);
  root.appendChild(style);

  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", T.open);
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "pa-panel");
  var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6a1.5 " +
    "1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z");
  svg.appendChild(path);
  launcher.appendChild(svg);

  var panel = el("div", "panel");
  panel.id = "pa-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", "pa-title");
  panel.lang = lang;
  var head = el("div", "head");
  var h2 = el("h2", null, title);
  h2.id = "pa-title";
  var closeBtn = el("button", "close", "×");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", T.close);
  head.appendChild(h2);
  head.appendChild(closeBtn);

  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", title);
  var form = el("form");
  var input = el("textarea");
  input.rows = 1;
  input.placeholder = T.placeholder;
  input.setAttribute("aria-label", T.placeholder);
  var sendBtn = el("button", null, T.send);
  sendBtn.type = "submit";
  form.appendChild(input);
  form.appendChild(sendBtn);
  var foot = el("div", "foot", T.disclaimer);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(form);
  panel.appendChild(foot);
  root.appendChild(panel);
  root.appendChild(launcher);

  var intro = el("div", "msg bot", welcome);
  if (examples.length) {
    intro.appendChild(el("div", "note", T.examples));
    var chips = el("div", "examples");
    examples.forEach(function (q) {
      var chip = el("button", null, q);
      chip.type = "button";
      chip.addEventListener("click", function () { ask(q); });
      chips.appendChild(chip);
    });
    intro.appendChild(chips);
  }
  log.appendChild(intro);

  function mount() { (document.body || document.documentElement).appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  // --- open / close / keyboard -------------------------------------------------------------------------------
  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.classList.toggle("open", open);
    if (open) input.focus(); else launcher.focus();
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeBtn.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { e.preventDefault(); setOpen(false); }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); ask(input.value); }
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); ask(input.value); });

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  // --- answers: text nodes for the text, buttons for the [n] markers -----------------------------------------
  function renderAnswer(bubble, text, citations) {
    var byN = {};
    (citations || []).forEach(function (c) { byN[c.n] = c; });
    var body = el("div", "text");
    var quoteBox = null;
    var parts = String(text).split(/(\[\d+\])/);
    parts.forEach(function (part) {
      var m = /^\[(\d+)\]$/.exec(part);
      var c = m && byN[Number(m[1])];
      if (!c) { if (part) body.appendChild(document.createTextNode(part)); return; }
      var btn = el("button", "cite", String(c.n));
      btn.type = "button";
      btn.setAttribute("aria-expanded", "false");
      btn.setAttribute("aria-label", T.cite + " " + c.n + ": " + c.title);
      btn.addEventListener("click", function () {
        var wasOpen = btn.getAttribute("aria-expanded") === "true";
        bubble.querySelectorAll(".cite").forEach(function (b) { b.setAttribute("aria-expanded", "false"); });
        if (quoteBox) { quoteBox.remove(); quoteBox = null; }
        if (wasOpen) return;
        btn.setAttribute("aria-expanded", "true");
        quoteBox = quoteFor(c);
        body.after(quoteBox);
        scrollDown();
      });
      body.appendChild(btn);
    });
    bubble.textContent = "";
    bubble.appendChild(body);
    var shown = (citations || []).filter(function (c) { return text.indexOf("[" + c.n + "]") >= 0; });
    if (shown.length) {
      bubble.appendChild(el("div", "sources", T.sources + COLON + shown.map(function (c) {
        return "[" + c.n + "] " + c.title + (c.doc_no ? (lang === "en" ? " (" + c.doc_no + ")" : "（" + c.doc_no + "）") : "");
      }).join(SEP)));
    }
  }

  function quoteFor(c) {
    var box = el("div", "quote");
    box.setAttribute("role", "note");
    box.appendChild(el("blockquote", null, c.quote));
    var meta = [c.title];
    if (c.doc_no) meta.push(T.docNo + COLON + c.doc_no);
    if (c.section) meta.push(T.section + COLON + c.section);
    if (c.issuer) meta.push(T.issuer + COLON + c.issuer);
    if (c.date) meta.push(T.date + COLON + c.date);
    box.appendChild(el("div", "meta", meta.join(" · ")));
    if (c.verified === false) box.appendChild(el("div", "meta", T.unverified));
    if (c.url && /^https?:\/\//i.test(c.url)) {
      var a = el("a", null, T.openDoc);
      a.href = c.url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      box.appendChild(a);
    }
    return box;
  }

  function feedbackBar(question, answer, citations, mode) {
    var bar = el("div", "fb");
    [["up", T.helpful], ["down", T.unhelpful]].forEach(function (spec) {
      var b = el("button", null, spec[1]); // words, not emoji: kiosks and old phones lack emoji fonts
      b.type = "button";
      b.addEventListener("click", function () {
        bar.textContent = "";
        bar.appendChild(el("span", null, T.thanks));
        fetch(new URL("api/v1/feedback", API_BASE), {
          method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ question: question, answer: answer, citations: citations, rating: spec[0], lang: lang,
            mode: mode })
        }).catch(function () { /* feedback is best effort */ });
      });
      bar.appendChild(b);
    });
    return bar;
  }

  function errorText(status, body) {
    var code = body && body.error && body.error.code;
    if (code === "rate_limited" || code === "question_too_long" || code === "origin_not_allowed") return T[code];
    if (status === 429) return T.rate_limited;
    if (status === 403) return T.origin_not_allowed;
    if (lang === "en" && body && body.error && body.error.message) return body.error.message;
    return T.failed;
  }

  // --- asking: POST, then read the server-sent events as they arrive -----------------------------------------
  var history = [];
  var busy = false;

  function parseEvent(raw) {
    var event = "message", lines = [];
    raw.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) event = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) lines.push(line.slice(5).replace(/^ /, ""));
    });
    if (!lines.length) return null;
    try { return { event: event, data: JSON.parse(lines.join("\n")) }; } catch (e) { return null; }
  }

  // An eligibility answer's checklist: each quoted condition with its status; an unknown one gets 是/否
  // buttons, and a click asks the question again with that fact (and the ones ticked before) added.
  function renderChecklist(data, question) {
    var box = el("div", "checklist"), L = data.labels || {}, list = el("ul");
    box.appendChild(el("h3", null, L.title || ""));
    (data.items || []).forEach(function (item) {
      var li = el("li", item.status);
      li.appendChild(el("span", "st", item.status_label + " "));
      li.appendChild(document.createTextNode(item.kind === "missing" ? item.condition : "“" + item.condition + "”"));
      if (item.status === "unknown") {
        [[L.yes, L.fact_yes], [L.no, L.fact_no]].forEach(function (spec) {
          var b = el("button", null, spec[0]);
          b.type = "button";
          b.addEventListener("click", function () {
            var fact = spec[1] + "“" + item.condition.replace(/[，,。；;：:\s]+/g, "、").replace(/、$/, "") + "”";
            ask(question + "。" + fact);
          });
          li.appendChild(b);
        });
      }
      list.appendChild(li);
    });
    box.appendChild(list);
    box.appendChild(el("div", "verdict", L.verdict || ""));
    if (data.office) box.appendChild(el("div", "note", (L.office || "") + " " + data.office.quote));
    if (data.note) box.appendChild(el("div", "note", data.note));
    return box;
  }

  async function ask(raw) {
    var question = String(raw || "").trim();
    if (!question || busy) return;
    busy = true;
    sendBtn.disabled = true;
    input.value = "";
    log.appendChild(el("div", "msg user", question));
    var bubble = el("div", "msg bot", T.thinking);
    bubble.setAttribute("aria-busy", "true");
    log.appendChild(bubble);
    scrollDown();
    var text = "", citations = [], done = null, checklist = null;
    try {
      var res = await fetch(new URL("api/v1/ask/stream", API_BASE), {
        method: "POST", credentials: "omit",
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
        body: JSON.stringify({ question: question, history: history.slice(-MAX_HISTORY) })
      });
      if (!res.ok || !res.body) {
        var body = null;
        try { body = await res.json(); } catch (e) { /* not JSON */ }
        throw { shown: errorText(res.status, body) };
      }
      var reader = res.body.getReader(), decoder = new TextDecoder(), buf = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buf += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
        var cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          var ev = parseEvent(buf.slice(0, cut));
          buf = buf.slice(cut + 2);
          if (!ev) continue;
          if (ev.event === "delta") { text += ev.data.text; bubble.textContent = text; scrollDown(); }
          else if (ev.event === "citations") citations = ev.data.citations || [];
          else if (ev.event === "checklist") checklist = ev.data;
          else if (ev.event === "done") done = ev.data;
          else if (ev.event === "error") throw { shown: errorText(0, { error: ev.data }) };
        }
      }
      if (!done) throw { shown: T.failed };
      text = done.answer || text;
      renderAnswer(bubble, text, citations);
      if (checklist) bubble.appendChild(renderChecklist(checklist, question));
      if (done.notice) bubble.appendChild(el("div", "note", done.notice));
      bubble.appendChild(feedbackBar(question, text, citations, done.mode));
      history.push({ role: "user", content: question }, { role: "assistant", content: text });
    } catch (err) {
      bubble.classList.add("error");
      bubble.setAttribute("role", "alert");
      bubble.textContent = (err && err.shown) || T.network;
    } finally {
      bubble.removeAttribute("aria-busy");
      busy = false;
      sendBtn.disabled = false;
      scrollDown();
      if (!panel.hidden) input.focus();
    }
  }
})();
