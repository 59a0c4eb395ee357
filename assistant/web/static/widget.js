/*
 * Hetao park policy assistant — embeddable chat widget. Vanilla JS, no build step, no external requests.
 *
 *   <script src="https://HOST/widget.js" data-lang="zh-Hans" data-title="河套政策助手" data-accent="#0b6e4f"
 *           data-position="right" data-welcome="您好！" data-examples="问题一|问题二" data-persist="session"
 *           data-theme="auto" defer></script>
 *
 * The API base URL is the folder this script was loaded from. Everything renders inside a Shadow DOM, so the
 * host page's CSS cannot reach in and ours cannot leak out. Server and user text is only ever inserted with
 * textContent / text nodes (never innerHTML), and the page holds no secret: the server decides which sites may
 * call it (PARK_ALLOWED_ORIGINS). The UI strings come from the server's message files (assistant/messages),
 * put in place of the STRINGS placeholder below when /widget.js is served.
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
  var MAX_KEPT = 40; // answers kept in storage
  var STRINGS = /*STRINGS*/{};

  function pickLang(value) {
    var v = String(value || "").toLowerCase();
    if (/^zh-(hant|hk|tw|mo)/.test(v)) return "zh-Hant";
    if (/^zh/.test(v)) return "zh-Hans";
    if (/^en/.test(v)) return "en";
    return null;
  }

  var data = script.dataset;
  var lang = pickLang(data.lang) || pickLang(document.documentElement.lang) || pickLang(navigator.language) || "zh-Hans";
  var TABLE = STRINGS[lang] || {};
  function T(key) { return TABLE[key] != null ? TABLE[key] : key; }
  var COLON = T("colon"), SEP = T("separator");
  var title = data.title || T("title");
  var welcome = data.welcome || T("welcome");
  var examples = (data.examples || "").split("|").map(function (s) { return s.trim(); }).filter(Boolean).slice(0, 6);
  var position = data.position === "left" ? "left" : "right";
  var accent = data.accent && window.CSS && CSS.supports("color", data.accent) ? data.accent : "#0b6e4f";
  var theme = /^(dark|light)$/.test(data.theme || "") ? data.theme : "auto";
  var persist = /^(local|session|off)$/.test(data.persist || "") ? data.persist : "session";
  var STORE_KEY = "park-assistant-widget:" + API_BASE.href;

  var LIGHT = "--bg:#fff;--fg:#1f2933;--muted:#52606d;--log:#f6f8f7;--line:#dde3e0;--soft:#eef2f0;--chip:#e6f2ee;" +
    "--quote:#f3f7f5;--err-bg:#fff4f2;--err-line:#f2b8ad;--err-fg:#8a1c0b;--link:var(--accent);";
  var DARK = "--bg:#1b1f23;--fg:#e6e9ec;--muted:#a3adb8;--log:#121518;--line:#343a40;--soft:#2a3036;--chip:#1f3a31;" +
    "--quote:#20262b;--err-bg:#3a1d19;--err-line:#7a3127;--err-fg:#ffb4a6;" +
    "--link:color-mix(in srgb,var(--accent) 45%,#fff);";
  var CSS_TEXT = [
    ":host{all:initial;" + (theme === "dark" ? DARK : LIGHT) + "}",
    theme === "auto" ? "@media (prefers-color-scheme:dark){:host{" + DARK + "}}" : "",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','PingFang SC',",
    "'Microsoft YaHei',sans-serif;color:var(--fg);font-size:15px;line-height:1.5;margin:0;padding:0;",
    "text-transform:none;letter-spacing:normal;text-align:left;visibility:visible;float:none;border:0}",
    "[hidden]{display:none!important}",
    ".launcher{position:fixed;bottom:20px;" + position + ":20px;width:56px;height:56px;border-radius:50%;",
    "background:var(--accent);cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;",
    "align-items:center;justify-content:center}",
    ".launcher svg{width:28px;height:28px;fill:#fff}",
    "button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}",
    ".panel{position:fixed;bottom:88px;" + position + ":20px;width:400px;max-width:calc(100vw - 40px);",
    "height:min(620px,calc(100vh - 110px));background:var(--bg);border-radius:14px;display:flex;flex-direction:column;",
    "box-shadow:0 10px 40px rgba(0,0,0,.28);overflow:hidden}",
    ".head{display:flex;align-items:center;gap:6px;padding:10px 12px;background:var(--accent)}",
    ".head h2{flex:1;font-size:16px;font-weight:600;color:#fff}",
    ".head button{background:transparent;color:#fff;font-size:13px;line-height:1;min-width:32px;height:32px;",
    "border-radius:6px;cursor:pointer;padding:0 6px}.head .close{font-size:22px}",
    ".head button:hover{background:rgba(255,255,255,.15)}",
    ".log{flex:1;overflow-y:auto;overflow-x:hidden;padding:12px;display:flex;flex-direction:column;gap:10px;",
    "background:var(--log)}",
    ".msg{max-width:94%;padding:8px 11px;border-radius:12px;word-break:break-word}",
    ".user{align-self:flex-end;background:var(--accent);color:#fff;white-space:pre-wrap}",
    ".bot{align-self:flex-start;background:var(--bg);border:1px solid var(--line)}",
    ".bot.error{background:var(--err-bg);border-color:var(--err-line);color:var(--err-fg)}",
    ".text p{margin:0 0 4px}.text ul{margin:2px 0 6px 18px;list-style:disc}.text ul ul{list-style:circle;margin-bottom:2px}",
    ".text ul.numbered{list-style:none;margin-left:4px}.text li{margin:2px 0}.text li>p{margin:0}",
    ".text .n{color:var(--muted)}",
    ".note{font-size:13px;color:var(--muted);margin-top:6px}",
    ".cite{display:inline-block;min-width:20px;padding:0 4px;margin:0 1px;border-radius:5px;cursor:pointer;",
    "background:var(--chip);color:var(--link);font-size:12px;font-weight:600;line-height:18px;vertical-align:1px}",
    ".cite[aria-expanded=true]{background:var(--accent);color:#fff}",
    ".sources{margin-top:8px;border-top:1px solid var(--line);padding-top:4px;list-style:none}",
    ".src-head{background:transparent;cursor:pointer;font-size:12px;color:var(--muted);text-align:left;padding:2px 0}",
    ".src-head b{color:var(--link);font-size:12px;margin-right:4px}",
    ".src-head[aria-expanded=true]{color:var(--fg)}",
    ".quote{margin:4px 0 6px;padding:8px 10px;border-left:3px solid var(--accent);background:var(--quote);border-radius:4px}",
    ".quote blockquote{font-size:14px;white-space:pre-wrap}",
    ".quote .meta{font-size:12px;color:var(--muted);margin-top:4px;white-space:normal}",
    ".quote a{color:var(--link);font-size:12px;text-decoration:underline}",
    ".acts{margin-top:6px;display:flex;flex-wrap:wrap;gap:6px;align-items:center}",
    ".acts button{background:var(--soft);border-radius:6px;padding:1px 8px;cursor:pointer;font-size:12px;color:var(--fg)}",
    ".acts span{font-size:12px;color:var(--muted)}",
    ".fb{display:flex;gap:6px;align-items:center;flex:0 1 auto}.fb input{min-width:140px}",
    ".fb input{flex:1;min-width:0;font-size:12px;padding:3px 6px;border:1px solid var(--line);border-radius:6px;",
    "background:var(--bg)}",
    ".examples{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}",
    ".examples button{background:var(--bg);border:1px solid var(--link);color:var(--link);border-radius:14px;",
    "padding:3px 10px;font-size:13px;cursor:pointer}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid var(--line);background:var(--bg)}",
    "textarea{flex:1;min-width:0;resize:none;height:44px;max-height:120px;padding:10px;border:1px solid var(--line);",
    "border-radius:10px;background:var(--bg)}",
    "form button{background:var(--accent);color:#fff;border-radius:10px;padding:0 14px;cursor:pointer;font-weight:600}",
    "form button.stop{background:#b42318}",
    ".foot{font-size:11px;color:var(--muted);padding:0 12px 8px;background:var(--bg)}",
    ".checklist{margin-top:8px;padding:8px;border:1px solid var(--line);border-radius:8px;white-space:normal}",
    ".checklist h3{font-size:13px;font-weight:600}.checklist li{list-style:none;margin:6px 0;font-size:13px}",
    ".checklist .st{font-weight:600}.checklist .met .st{color:var(--link)}.checklist .unmet .st{color:var(--err-fg)}",
    ".checklist button{background:var(--soft);border-radius:6px;padding:1px 8px;margin-left:4px;cursor:pointer}",
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
  function button(cls, text, label) {
    var b = el("button", cls, text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    return b;
  }

  // --- the DOM -----------------------------------------------------------------------------------------------
  var host = document.createElement("park-assistant-widget");
  // inline !important beats any page rule on the host element itself (e.g. `* {display:none !important}`)
  host.setAttribute("style", "all:initial!important;display:block!important;position:static!important;" +
    "visibility:visible!important;opacity:1!important;--accent:" + accent);
  host.setAttribute("data-theme", theme);
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("style", null, CSS_TEXT));

  var launcher = button("launcher", null, T("open"));
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
  var newBtn = button("new", T("new"), T("new"));
  var closeBtn = button("close", "×", T("close"));
  head.appendChild(h2);
  head.appendChild(newBtn);
  head.appendChild(closeBtn);

  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", title);
  var form = el("form");
  var input = el("textarea");
  input.rows = 1;
  input.placeholder = T("placeholder");
  input.setAttribute("aria-label", T("placeholder"));
  var sendBtn = el("button", null, T("send"));
  sendBtn.type = "submit";
  form.appendChild(input);
  form.appendChild(sendBtn);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(form);
  panel.appendChild(el("div", "foot", T("disclaimer")));
  root.appendChild(panel);
  root.appendChild(launcher);

  function intro() {
    var box = el("div", "msg bot", welcome);
    if (examples.length) {
      box.appendChild(el("div", "note", T("examples")));
      var chips = el("div", "examples");
      examples.forEach(function (q) {
        var chip = button(null, q);
        chip.addEventListener("click", function () { ask(q); });
        chips.appendChild(chip);
      });
      box.appendChild(chips);
    }
    return box;
  }

  function mount() { (document.body || document.documentElement).appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  // --- open / close / keyboard -------------------------------------------------------------------------------
  function setOpen(open, quiet) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.classList.toggle("open", open);
    scrollDown();
    if (!quiet) { if (open) input.focus(); else launcher.focus(); }
    save();
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeBtn.addEventListener("click", function () { setOpen(false); });
  newBtn.addEventListener("click", function () { reset(); input.focus(); });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { e.preventDefault(); setOpen(false); }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); ask(input.value); }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (controller) controller.abort(); else ask(input.value);
  });

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  // --- answer text: paragraphs and nested lists, [n] markers as buttons; text nodes only -----------------------
  // The item grammar of assistant/knowledge/chunking.py: bullets, 1. 1、 （1） (1) 第X条 一是.
  var ITEM = /^(?:[-*+•◦][ \t]+|(?:\d{1,3}[.、．)]|（\d{1,3}）|\(\d{1,3}\)|第[一二三四五六七八九十百零〇\d]+条|[一二三四五六七八九十百零〇]+是)[ \t]*)/;
  var MARKER = /(\[\d{1,3}(?:\s*[,，、]\s*\d{1,3})*\])/;
  var TRAILING = /(?:\s*\[\d{1,3}(?:\s*[,，、]\s*\d{1,3})*\])*\s*$/;
  function lstrip(s) { return s.replace(/^[ \t]+/, ""); }
  function indent(s) { return s.length - lstrip(s).length; }
  function isItem(s) { return ITEM.test(lstrip(s)); }
  function stripItem(s) { var t = lstrip(s), m = ITEM.exec(t); return m ? t.slice(m[0].length) : t; }
  function markerOf(s) { var t = lstrip(s), m = ITEM.exec(t); return !m || /^[-*+•◦]/.test(t) ? "" : m[0].trim(); }
  function oneLine(s) { return String(s).replace(/\s*\n\s*/g, " ").trim(); }
  function dedent(lines) {
    var base = Math.min.apply(null, lines.filter(function (x) { return x.trim(); }).map(indent).concat([1e9]));
    return lines.map(function (x) { return x.slice(Math.min(base, indent(x))); });
  }

  function Renderer(citations, onCite) {
    var byN = {}, quotes = {};
    (citations || []).forEach(function (c) {
      byN[c.n] = c;
      var line = oneLine(c.quote);
      if (!(stripItem(line) in quotes)) quotes[stripItem(line)] = c;
      if (!(line.replace(/^[-*•◦ ]+/, "") in quotes)) quotes[line.replace(/^[-*•◦ ]+/, "")] = c;
    });
    function inline(parent, text) {
      String(text).split(MARKER).forEach(function (part) {
        if (!MARKER.test(part) || part.charAt(0) !== "[") { if (part) parent.appendChild(document.createTextNode(part)); return; }
        part.slice(1, -1).split(/\s*[,，、]\s*/).forEach(function (s) {
          var c = byN[Number(s)];
          if (!c) { parent.appendChild(document.createTextNode("[" + s + "]")); return; }
          var b = button("cite", String(c.n), T("cite") + " " + c.n + COLON + (c.label || c.title));
          b.setAttribute("aria-expanded", "false");
          b.setAttribute("data-n", String(c.n));
          b.addEventListener("click", function () { onCite(c.n); });
          parent.appendChild(b);
        });
      });
    }
    function lines(parent, ls, top) {
      var i = 0;
      while (i < ls.length) {
        if (!ls[i].trim()) { i++; continue; }
        if (!isItem(ls[i])) { var p = el("p"); inline(p, ls[i].trim()); parent.appendChild(p); i++; continue; }
        var level = indent(ls[i]), ul = el("ul", !top && markerOf(ls[i]) ? "numbered" : null);
        while (i < ls.length && ls[i].trim() && isItem(ls[i]) && indent(ls[i]) === level) {
          var headLine = ls[i++], children = [];
          while (i < ls.length && ls[i].trim() && indent(ls[i]) > level) children.push(ls[i++]);
          item(ul, headLine, children, top);
        }
        parent.appendChild(ul);
      }
    }
    function item(ul, headLine, children, top) {
      var body = stripItem(headLine);
      if (top && /^[-*+•◦]/.test(lstrip(headLine)) && isItem(body)) body = stripItem(body); // "- 8. x" quoted alone
      var tail = TRAILING.exec(body), markers = tail ? tail[0].trim() : "", text = tail ? body.slice(0, tail.index) : body;
      var cited = top && !children.length ? quotes[text.trim()] : null;
      if (cited && cited.quote.trim().indexOf("\n") >= 0) { // a quoted list folded onto one line: its own lines
        var ql = dedent(cited.quote.replace(/^\n+|\n+$/g, "").split("\n"));
        var flat = ql.every(function (x) { return !x.trim() || indent(x) || isItem(x); });
        if (isItem(ql[0]) && !ql.slice(1).some(function (x) { return isItem(x) && !indent(x); })) ql[0] = stripItem(ql[0]);
        var box = el("div");
        lines(box, ql, false);
        var leaf = box, next; // the markers follow the last words quoted, however deep they sit
        while ((next = leaf.lastElementChild) && /^(UL|LI|P)$/.test(next.tagName)) leaf = next;
        if (markers) inline(leaf, markers);
        if (flat && box.childNodes.length === 1 && box.firstChild.tagName === "UL") {
          while (box.firstChild.firstChild) ul.appendChild(box.firstChild.firstChild);
        } else { var li0 = el("li"); while (box.firstChild) li0.appendChild(box.firstChild); ul.appendChild(li0); }
        return;
      }
      var li = el("li"), mark = markerOf(headLine);
      if (mark && !top) { li.appendChild(el("span", "n", mark)); li.appendChild(document.createTextNode(" ")); }
      inline(li, text.trim() + markers);
      if (children.length) lines(li, dedent(children), false);
      ul.appendChild(li);
    }
    return { render: function (parent, text) { lines(parent, String(text).replace(/\r\n?/g, "\n").split("\n"), true); } };
  }

  function shorten(s, n) { s = oneLine(s || ""); return s.length <= n ? s : s.slice(0, n - 1) + "…"; }

  // A cited policy's status today with the dates it comes from (the web chat's labels.validity_label).
  function validity(c) {
    var parts = [];
    if (c.effective_from) parts.push(T("lifecycle.from").replace("{date}", c.effective_from));
    if (c.expires) parts.push(T("lifecycle.until").replace("{date}", c.expires));
    if (c.superseded_by) parts.push(T("lifecycle.by").replace("{doc}", c.superseded_by));
    var word = T("lifecycle." + c.status);
    if (!parts.length) return word;
    return lang === "en" ? word + " (" + parts.join(", ") + ")" : word + "（" + parts.join("，") + "）";
  }

  function quoteFor(c) {
    var box = el("div", "quote");
    box.setAttribute("role", "note");
    box.appendChild(el("blockquote", null, c.quote));
    var meta = [c.title];
    if (c.doc_no) meta.push(T("docNo") + COLON + c.doc_no);
    if (c.section) meta.push(T("section") + COLON + c.section);
    if (c.issuer) meta.push(T("issuer") + COLON + shorten(c.issuer, 60));
    if (c.date) meta.push(T("date") + COLON + shorten(c.date, 60));
    if (c.status) meta.push(T("lifecycle.label") + COLON + validity(c));
    box.appendChild(el("div", "meta", meta.join(" · ")));
    if (c.verified === false) box.appendChild(el("div", "meta", T("unverified")));
    if (c.url && /^https?:\/\//i.test(c.url)) {
      var a = el("a", null, T("openDoc"));
      a.href = c.url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      box.appendChild(a);
    }
    return box;
  }

  // --- a finished answer: text, footnotes, actions ----------------------------------------------------------
  function renderAnswer(bubble, it, isLast) {
    bubble.textContent = "";
    var citations = it.citations || [];
    var shown = citations.filter(function (c) { return it.text.indexOf("[" + c.n + "]") >= 0; });
    var notes = el("ul", "sources"), byN = {};
    function toggle(n) {
      var entry = byN[n];
      if (!entry) return;
      var open = entry.head.getAttribute("aria-expanded") !== "true";
      entry.head.setAttribute("aria-expanded", String(open));
      bubble.querySelectorAll('.cite[data-n="' + n + '"]').forEach(function (b) { b.setAttribute("aria-expanded", String(open)); });
      if (entry.quote) { entry.quote.remove(); entry.quote = null; }
      if (open) { entry.quote = quoteFor(entry.c); entry.li.appendChild(entry.quote); entry.li.scrollIntoView({ block: "nearest" }); }
    }
    var body = el("div", "text");
    Renderer(citations, toggle).render(body, it.text);
    bubble.appendChild(body);
    shown.forEach(function (c) {
      var li = el("li"), head = button("src-head");
      head.setAttribute("aria-expanded", "false");
      head.appendChild(el("b", null, "[" + c.n + "]"));
      head.appendChild(document.createTextNode(c.label || (c.title + (c.doc_no ? " · " + c.doc_no : ""))));
      head.addEventListener("click", function () { toggle(c.n); });
      li.appendChild(head);
      notes.appendChild(li);
      byN[c.n] = { c: c, li: li, head: head, quote: null };
    });
    if (shown.length) { notes.setAttribute("aria-label", T("sources")); bubble.appendChild(notes); }
    if (it.checklist) bubble.appendChild(renderChecklist(it.checklist));
    if (it.notice) bubble.appendChild(el("div", "note", it.notice));
    if (it.stopped) bubble.appendChild(el("div", "note", T("stopped")));
    if (it.suggestions && it.suggestions.length) { // follow-ups the sources answer: one click asks them
      bubble.appendChild(el("div", "note", T("suggest")));
      var chips = el("div", "examples suggest");
      it.suggestions.slice(0, 4).forEach(function (q) {
        var chip = button(null, String(q));
        chip.addEventListener("click", function () { ask(String(q)); });
        chips.appendChild(chip);
      });
      bubble.appendChild(chips);
    }
    bubble.appendChild(actions(it, body, shown, isLast));
  }

  // An eligibility answer's checklist: each quoted condition with its status; an unknown one gets 是/否
  // buttons, and a click asks the question again with that fact (and the ones ticked before) added: the
  // server composes that question (ask_yes / ask_no), as it does for the web chat.
  function renderChecklist(data) {
    var box = el("div", "checklist"), L = data.labels || {}, list = el("ul");
    box.appendChild(el("h3", null, L.title || ""));
    (data.items || []).forEach(function (item) {
      var li = el("li", item.status);
      li.setAttribute("data-judged-by", item.judged_by || "terms");  // terms | model | both
      li.appendChild(el("span", "st", item.status_label + " "));
      li.appendChild(document.createTextNode(item.kind === "missing" ? item.condition : "“" + item.condition + "”"));
      if (item.status === "unknown") {
        [[L.yes, item.ask_yes], [L.no, item.ask_no]].forEach(function (spec) {
          if (!spec[1]) return;
          var b = button(null, spec[0]);
          b.addEventListener("click", function () { ask(String(spec[1])); });
          li.appendChild(b);
        });
      }
      list.appendChild(li);
    });
    box.appendChild(list);
    box.appendChild(el("div", "verdict", L.verdict || ""));
    if (data.benefit) box.appendChild(el("div", "note benefit", (L.benefit || "") + " " + data.benefit.quote));
    if (data.office) box.appendChild(el("div", "note", (L.office || "") + " " + data.office.quote));
    if (data.note) box.appendChild(el("div", "note", data.note));
    return box;
  }

  function plain(body, shown) {
    var text = body.innerText.trim();
    var lines = shown.map(function (c) { return "[" + c.n + "] " + (c.label || c.title) + "\n    " + oneLine(c.quote); });
    return lines.length ? text + "\n\n" + lines.join("\n") : text;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = el("textarea");
    area.value = text;
    root.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
    return Promise.resolve();
  }

  function actions(it, body, shown, isLast) {
    var bar = el("div", "acts");
    if (!it.stopped) {
      var copy = button("copy", T("copy"));
      copy.addEventListener("click", function () {
        copyText(plain(body, shown)).then(function () { copy.textContent = T("copied"); });
      });
      bar.appendChild(copy);
      var fb = el("div", "fb");
      if (it.rated) fb.appendChild(el("span", null, T("thanks")));
      else {
        var up = button("up", T("helpful")), down = button("down", T("unhelpful"));
        up.addEventListener("click", function () { rate(it, "up", null, fb); });
        down.addEventListener("click", function () {
          fb.textContent = "";
          var why = el("input");
          why.placeholder = T("reason");
          why.setAttribute("aria-label", T("reason"));
          why.maxLength = 1000;
          var send = button("send-reason", T("send"));
          function go() { rate(it, "down", why.value.trim() || null, fb); }
          send.addEventListener("click", go);
          why.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); go(); } });
          fb.appendChild(why);
          fb.appendChild(send);
          why.focus();
        });
        fb.appendChild(up);
        fb.appendChild(down);
      }
      bar.appendChild(fb);
    }
    if (isLast) {
      var again = button("again", T("regenerate"));
      again.addEventListener("click", function () { ask(it.q, { again: true }); });
      bar.appendChild(again);
    }
    return bar;
  }

  function rate(it, rating, reason, fb) {
    fb.textContent = "";
    fb.appendChild(el("span", null, T("thanks")));
    it.rated = rating;
    save();
    fetch(new URL("api/v1/feedback", API_BASE), {
      method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question: it.q, answer: it.text, citations: it.citations, rating: rating, reason: reason,
        lang: lang, mode: it.mode })
    }).catch(function () { /* feedback is best effort */ });
  }

  function errorText(status, body) {
    var code = body && body.error && body.error.code;
    if (code === "rate_limited" || code === "question_too_long" || code === "origin_not_allowed") return T(code);
    if (status === 429) return T("rate_limited");
    if (status === 403) return T("origin_not_allowed");
    if (lang === "en" && body && body.error && body.error.message) return body.error.message;
    return T("failed");
  }

  // --- the conversation: kept per site in sessionStorage (data-persist), drawn again on every page ------------
  var conv = { items: [], open: false };
  var storage = null;
  try { storage = persist === "local" ? window.localStorage : persist === "session" ? window.sessionStorage : null; }
  catch (e) { storage = null; } // storage blocked (privacy settings): the conversation lives on this page only
  function save() {
    if (!storage) return;
    conv.open = !panel.hidden;
    try { storage.setItem(STORE_KEY, JSON.stringify({ v: 1, items: conv.items.slice(-MAX_KEPT), open: conv.open })); }
    catch (e) { /* full or blocked: keep going without it */ }
  }
  function load() {
    if (!storage) return;
    try {
      var saved = JSON.parse(storage.getItem(STORE_KEY) || "null");
      if (saved && saved.v === 1 && Array.isArray(saved.items)) {
        conv.items = saved.items.filter(function (it) {
          return it && typeof it.q === "string" && typeof it.text === "string" && Array.isArray(it.citations || []);
        });
        conv.open = !!saved.open;
      }
    } catch (e) { conv.items = []; }
  }
  function history() {
    var out = [];
    conv.items.forEach(function (it) {
      if (!it.stopped && !it.error) out.push({ role: "user", content: it.q }, { role: "assistant", content: it.text });
    });
    return out.slice(-MAX_HISTORY);
  }
  function draw() {
    log.textContent = "";
    log.appendChild(intro());
    conv.items.forEach(function (it, i) {
      log.appendChild(el("div", "msg user", it.q));
      var bubble = el("div", "msg bot");
      if (it.error) { bubble.classList.add("error"); bubble.textContent = it.error; }
      else renderAnswer(bubble, it, i === conv.items.length - 1);
      log.appendChild(bubble);
    });
    scrollDown();
  }
  function reset() {
    if (controller) controller.abort();
    conv.items = [];
    save();
    draw();
  }

  // --- asking: POST, then read the server-sent events as they arrive -----------------------------------------
  var controller = null;

  function parseEvent(raw) {
    var event = "message", parts = [];
    raw.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) event = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) parts.push(line.slice(5).replace(/^ /, ""));
    });
    if (!parts.length) return null;
    try { return { event: event, data: JSON.parse(parts.join("\n")) }; } catch (e) { return null; }
  }

  function busy(on) {
    sendBtn.textContent = on ? T("stop") : T("send");
    sendBtn.classList.toggle("stop", on);
    sendBtn.setAttribute("aria-label", on ? T("stop") : T("send"));
  }

  async function ask(raw, opts) {
    var question = String(raw || "").trim();
    if (!question || controller) return;
    if (opts && opts.again && conv.items.length) { conv.items.pop(); draw(); }
    var past = history();
    controller = new AbortController();
    busy(true);
    input.value = "";
    var prev = log.querySelector(".acts .again");
    if (prev) prev.remove(); // only the newest answer can be regenerated
    log.appendChild(el("div", "msg user", question));
    var bubble = el("div", "msg bot", T("thinking"));
    bubble.setAttribute("aria-busy", "true");
    log.appendChild(bubble);
    scrollDown();
    var it = { q: question, text: "", citations: [] }, done = null;
    try {
      var res = await fetch(new URL("api/v1/ask/stream", API_BASE), {
        method: "POST", credentials: "omit", signal: controller.signal,
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
        body: JSON.stringify({ question: question, history: past })
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
          if (ev.event === "delta") { it.text += ev.data.text; bubble.textContent = it.text; scrollDown(); }
          else if (ev.event === "citations") it.citations = ev.data.citations || [];
          else if (ev.event === "checklist") it.checklist = ev.data;
          else if (ev.event === "done") done = ev.data;
          else if (ev.event === "error") throw { shown: errorText(0, { error: ev.data }) };
        }
      }
      if (!done) throw { shown: T("failed") };
      it.text = done.answer || it.text;
      it.mode = done.mode;
      it.notice = done.notice || null;
      it.suggestions = Array.isArray(done.suggestions) ? done.suggestions : [];
    } catch (err) {
      if (err && err.name === "AbortError") it.stopped = true;
      else { it.error = (err && err.shown) || T("network"); it.text = ""; }
    } finally {
      controller = null;
      busy(false);
      bubble.removeAttribute("aria-busy");
    }
    conv.items.push(it);
    if (it.error) { bubble.classList.add("error"); bubble.setAttribute("role", "alert"); bubble.textContent = it.error; }
    else renderAnswer(bubble, it, true);
    save();
    scrollDown();
    if (!panel.hidden) input.focus();
  }

  load();
  draw();
  if (conv.open) setOpen(true, true); // open on the previous page: open here too, without taking the focus
})();
