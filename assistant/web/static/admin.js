// The editors' page: everything goes through the admin API with the token kept in sessionStorage.
(function () {
  "use strict";
  const API = "/api/v1/admin";
  const LABELS = { in_force: "有效 in force", expiring: "即将到期 expiring", expired: "已失效 expired",
    superseded: "已被替代 superseded", upcoming: "未生效 upcoming", draft: "草案 draft", undated: "未注明 undated" };
  const $ = (id) => document.getElementById(id);
  let documents = [];

  const token = () => sessionStorage.getItem("park-admin-token") || "";
  const headers = () => ({ Authorization: "Bearer " + token() });
  function cell(text) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); return td; }
  function row(cells) { const tr = document.createElement("tr"); cells.forEach((c) => tr.appendChild(c)); return tr; }

  async function api(path, options) {
    const r = await fetch(API + path, Object.assign({ headers: headers() }, options || {}));
    if (r.status === 401) { signOut("令牌不正确 The token was not accepted."); throw new Error("401"); }
    if (!r.ok) { const body = await r.json().catch(() => ({})); throw new Error((body.error && body.error.message) || r.statusText); }
    return r;
  }

  function signOut(message) {
    sessionStorage.removeItem("park-admin-token");
    $("app").hidden = true; $("logout").hidden = true; $("login").hidden = false;
    $("login-error").textContent = message || "";
  }

  async function signIn() {
    $("login").hidden = true; $("app").hidden = false; $("logout").hidden = false;
    await Promise.all([loadDocuments(), loadGaps(), loadFeedback()]);
  }

  function badge(status) {
    const span = document.createElement("span");
    span.className = "badge s-" + status; span.dataset.status = status; span.textContent = LABELS[status] || status;
    const td = document.createElement("td"); td.appendChild(span); return td;
  }

  function renderDocuments() {
    const status = $("f-status").value, scope = $("f-scope").value, text = $("f-text").value.trim().toLowerCase();
    const body = $("docs").tBodies[0]; body.textContent = "";
    const shown = documents.filter((d) => (!status || d.status === status || (status === "in_force" && d.status === "expiring"))
      && (!scope || d.scope === scope || (scope !== "both" && d.scope === "both"))
      && (!text || (d.title + " " + d.source + " " + (d.doc_no || "") + " " + (d.issuer || "")).toLowerCase().includes(text)));
    for (const d of shown) {
      const del = document.createElement("button"); del.className = "danger"; del.textContent = "删除 Delete";
      del.addEventListener("click", () => remove(d));
      const title = cell(d.title); const src = document.createElement("div"); src.className = "muted"; src.textContent = d.source;
      title.appendChild(src);
      const valid = [d.effective_from, d.expires].some(Boolean) ? (d.effective_from || "…") + " – " + (d.expires || "…") : "";
      const tr = row([title, badge(d.status), cell(d.doc_no), cell(d.issuer), cell(d.date), cell(valid), cell(d.scope),
        cell(d.chunks), (() => { const td = document.createElement("td"); td.appendChild(del); return td; })()]);
      tr.dataset.source = d.source; body.appendChild(tr);
    }
    $("doc-count").textContent = shown.length + " / " + documents.length;
  }

  async function loadDocuments() {
    const data = await (await api("/documents")).json();
    documents = data.documents; $("build").textContent = data.build ? "build " + data.build : "";
    renderDocuments();
  }

  async function loadGaps() {
    const data = await (await api("/gaps")).json(); const body = $("gaps").tBodies[0]; body.textContent = "";
    for (const g of data.gaps) {
      const langs = Object.entries(g.languages).map(([k, v]) => k + " ×" + v).join(", ");
      body.appendChild(row([cell(g.count), cell(g.question), cell(g.questions.slice(1).join(" / ")), cell(langs), cell(g.last_seen)]));
    }
  }

  async function loadFeedback() {
    const data = await (await api("/feedback")).json(); const body = $("feedback").tBodies[0]; body.textContent = "";
    for (const f of data.feedback) {
      const cites = (f.citations || []).map((c) => "[" + c.n + "] " + (c.title || c.source || "")).join("; ");
      body.appendChild(row([cell(f.rating > 0 ? "👍" : "👎"), cell(f.question), cell(f.reason), cell(cites),
        cell(f.confidence == null ? "" : Number(f.confidence).toFixed(2)), cell(f.created_at)]));
    }
  }

  async function download(what) {
    const blob = await (await api("/" + what + "?format=csv")).blob();
    const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = what + ".csv";
    document.body.appendChild(a); a.click(); a.remove();
  }

  function status(text) { $("upload-status").textContent = text; }

  async function follow(job, label) {
    const bar = $("progress"); bar.hidden = false;
    for (;;) {
      const j = await (await api("/jobs/" + job)).json();
      bar.value = j.progress || 0;
      status(label + " · " + j.status + (j.error ? ": " + j.error : ""));
      if (j.status === "done" || j.status === "failed") break;
      await new Promise((ok) => setTimeout(ok, 500));
    }
    bar.hidden = true; await loadDocuments();
  }

  function upload() {
    const file = $("file").files[0]; if (!file) { status("请先选择文件 Choose a file first."); return; }
    const form = new FormData(); form.append("file", file);
    const xhr = new XMLHttpRequest(); const bar = $("progress");
    xhr.open("POST", API + "/documents"); xhr.setRequestHeader("Authorization", "Bearer " + token());
    bar.hidden = false; bar.value = 0;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) { bar.value = e.loaded / e.total; status("上传中 uploading " + Math.round(100 * e.loaded / e.total) + "%"); } };
    xhr.onload = () => {
      let body = {}; try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 202) { follow(body.job, "索引 indexing " + file.name); }
      else if (xhr.status === 401) { signOut("令牌不正确 The token was not accepted."); }
      else { bar.hidden = true; status("失败 failed: " + ((body.error && body.error.message) || xhr.status)); }
    };
    xhr.onerror = () => { bar.hidden = true; status("网络错误 network error"); };
    xhr.send(form);
  }

  async function remove(d) {
    if (!window.confirm("删除 Delete “" + d.title + "” (" + d.source + ")?")) return;
    try { const j = await (await api("/documents/" + d.id, { method: "DELETE" })).json(); await follow(j.job, "删除 deleting " + d.source); }
    catch (e) { status("失败 failed: " + e.message); }
  }

  $("enter").addEventListener("click", () => { sessionStorage.setItem("park-admin-token", $("token").value.trim()); signIn().catch(() => {}); });
  $("token").addEventListener("keydown", (e) => { if (e.key === "Enter") $("enter").click(); });
  $("logout").addEventListener("click", () => signOut(""));
  ["f-status", "f-scope"].forEach((id) => $(id).addEventListener("change", renderDocuments));
  $("f-text").addEventListener("input", renderDocuments);
  $("upload").addEventListener("click", upload);
  $("gaps-csv").addEventListener("click", () => download("gaps"));
  $("feedback-csv").addEventListener("click", () => download("feedback"));
  if (token()) signIn().catch(() => {});
})();
