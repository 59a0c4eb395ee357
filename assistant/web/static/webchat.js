() => {
  // The web chat's few behaviours that gradio's sanitised chat messages cannot carry themselves.
  // Run once by gradio on page load (Blocks.launch(js=...)); everything is event delegation on the document,
  // so messages rendered later (streamed, restored from localStorage) work too.
  if (window.__hpWebchat) return;
  window.__hpWebchat = true;

  function openFootnote(id) {
    var note = document.getElementById(id);
    if (!note) return false;
    note.open = true;
    note.classList.remove("hp-flash");
    void note.offsetWidth; // restart the highlight animation
    note.classList.add("hp-flash");
    note.scrollIntoView({ block: "nearest", behavior: "smooth" });
    var summary = note.querySelector("summary");
    if (summary) summary.focus({ preventScroll: true });
    return true;
  }

  function answerText(turn) {
    var answer = document.getElementById("hp-ans-" + turn);
    if (!answer) return "";
    var out = Array.prototype.map.call(answer.querySelectorAll(".hp-text, .hp-checklist"), function (part) {
      return part.innerText.trim();
    }).join("\n\n");
    var notes = Array.prototype.map.call(answer.querySelectorAll("details.hp-cite"), function (d) {
      var n = d.querySelector(".hp-cite-n"), label = d.querySelector(".hp-cite-label");
      var quote = d.querySelector(".hp-quote");
      return (n ? n.innerText : "") + " " + (label ? label.innerText : "") + (quote ? "\n    " + quote.innerText : "");
    });
    return notes.length ? out + "\n\n" + notes.join("\n") : out;
  }

  function askAgain(question) {
    var box = document.querySelector("#hp-question textarea"), send = document.getElementById("hp-send");
    if (!box || !send || !question) return;
    box.value = question;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(function () { send.click(); }, 50);
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = document.createElement("textarea"); // http:// pages other than localhost have no clipboard API
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
    return Promise.resolve();
  }

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    var ref = target.closest("a.hp-ref");
    if (ref) {
      var id = (ref.getAttribute("href") || "").replace(/^#/, "");
      if (id && openFootnote(id)) { e.preventDefault(); e.stopPropagation(); }
      return;
    }
    var suggestion = target.closest("button.hp-suggestion");
    if (suggestion) { // a follow-up question: ask it as if typed
      e.preventDefault();
      e.stopPropagation();
      askAgain(suggestion.textContent);
      return;
    }
    var fact = target.closest("button.hp-fact");
    if (fact) { // 是/否 on a condition not yet said: the question again with that fact, composed by the server
      e.preventDefault();
      e.stopPropagation();
      var asked = fact.querySelector(".hp-ask-q");
      askAgain(asked ? asked.textContent : "");
      return;
    }
    var button = target.closest("button.hp-copy");
    if (button) {
      e.preventDefault();
      e.stopPropagation();
      var turn = button.id.replace(/^hp-copy-/, "");
      copy(answerText(turn)).then(function () {
        button.classList.add("hp-copied");
        button.textContent = "✓ 已复制 Copied";
        setTimeout(function () { button.classList.remove("hp-copied"); button.textContent = "复制 Copy"; }, 2000);
      });
    }
  }, true);

  // Focus the question box only where it does not pop up a keyboard and jump the page past its header.
  if (window.matchMedia("(min-width: 800px) and (pointer: fine)").matches) {
    var tries = 0;
    var timer = setInterval(function () {
      var box = document.querySelector("#hp-question textarea");
      if (box || ++tries > 50) { clearInterval(timer); if (box) box.focus({ preventScroll: true }); }
    }, 100);
  }
}
