// The form editor (/designer/forms/<name>): a JSON editor with line numbers, a live preview drawn
// by the server with the task page's own macro, trial validation, versions, save and redeploy.
(function () {
  "use strict";
  const root = document.getElementById("form-editor");
  if (!root) return;
  const T = JSON.parse(document.getElementById("form-editor-strings").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const API = root.dataset.api;
  const $ = (id) => document.getElementById(id);
  const text = $("schema-text");
  const gutter = $("gutter");
  const preview = $("preview");
  const PREVIEW_DELAY_MS = 350;

  let name = root.dataset.name || null;
  let savedText = null; // the newest version as the editor shows it
  let previewSeq = 0;
  let previewTimer = null;
  let badLines = new Set();

  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));
  const urlFor = (template, values) =>
    Object.entries(values).reduce((url, [k, v]) => url.replace(`__${k.toUpperCase()}__`, encodeURIComponent(v)), template);

  async function call(method, path, body) {
    const options = { method, headers: { Accept: "application/json", "X-CSRFToken": csrf } };
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    try {
      const response = await fetch(API + path, options);
      let data;
      try {
        data = await response.json();
      } catch (e) {
        data = { error: `${T.requestFailed} (HTTP ${response.status})` };
      }
      return { ok: response.ok, status: response.status, data };
    } catch (error) {
      return { ok: false, status: 0, data: { error: `${T.requestFailed}: ${error.message}` } };
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(box, message, kind) {
    box.className = `alert py-2 ${box.id === "status" ? "mb-2" : "small"} alert-${kind || "info"}`;
    box.replaceChildren(...[].concat(message));
  }

  function formatTime(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return isNaN(date) ? iso : date.toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  }

  // --- the editor ----------------------------------------------------------------------------

  function drawGutter() {
    const count = text.value.split("\n").length;
    const lines = [];
    for (let i = 1; i <= count; i++) lines.push(badLines.has(i) ? `<span class="bad">${i}</span>` : String(i));
    gutter.innerHTML = lines.join("\n") + "\n";
    gutter.scrollTop = text.scrollTop;
  }

  function cursorLine() {
    const before = text.value.slice(0, text.selectionStart);
    const line = before.split("\n").length;
    const column = text.selectionStart - before.lastIndexOf("\n");
    $("cursor-position").textContent = fill(T.line, { line, column });
  }

  function goTo(line, column) {
    const lines = text.value.split("\n");
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(0, (column || 1) - 1);
    text.focus();
    text.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(text).lineHeight) || 18;
    text.scrollTop = Math.max(0, (line - 5) * lineHeight);
    cursorLine();
  }

  function replaceSelection(start, end, insert, selStart, selEnd) {
    text.setSelectionRange(start, end);
    // execCommand keeps the browser's undo history; setRangeText is the fallback.
    if (!document.execCommand || !document.execCommand("insertText", false, insert)) {
      text.setRangeText(insert, start, end, "end");
      text.dispatchEvent(new Event("input"));
    }
    text.setSelectionRange(selStart, selEnd);
  }

  let escaped = false; // Esc then Tab leaves the editor (keyboard users are not trapped)
  text.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      escaped = true;
      return;
    }
    if (event.key !== "Tab" || escaped || event.ctrlKey || event.altKey || event.metaKey) {
      escaped = false;
      return;
    }
    event.preventDefault();
    const value = text.value;
    const start = text.selectionStart;
    const end = text.selectionEnd;
    const lineStart = value.lastIndexOf("\n", start - 1) + 1;
    if (!event.shiftKey && start === end) {
      replaceSelection(start, end, "  ", start + 2, start + 2);
      return;
    }
    const block = value.slice(lineStart, end);
    const lines = block.split("\n");
    const changed = event.shiftKey ? lines.map((l) => l.replace(/^ {1,2}/, "")) : lines.map((l) => "  " + l);
    const joined = changed.join("\n");
    const firstShift = changed[0].length - lines[0].length;
    replaceSelection(lineStart, end, joined, Math.max(lineStart, start + firstShift), lineStart + joined.length);
  });
  text.addEventListener("input", () => {
    drawGutter();
    cursorLine();
    markDirty();
    schedulePreview();
  });
  text.addEventListener("scroll", () => (gutter.scrollTop = text.scrollTop));
  text.addEventListener("click", cursorLine);
  text.addEventListener("keyup", cursorLine);

  function setText(value) {
    text.value = value;
    text.scrollTop = 0;
    drawGutter();
    markDirty();
    schedulePreview(0);
  }

  function markDirty() {
    const dirty = savedText !== null && text.value !== savedText;
    $("form-title").dataset.dirty = dirty ? "1" : "";
    $("btn-save").textContent = $("btn-save").textContent.replace(/ \*$/, "") + (dirty ? " *" : "");
    $("btn-save").title = dirty ? T.unsaved : "";
  }

  // --- problems ------------------------------------------------------------------------------

  const SOURCES = { json: T.sourceJson, meta: T.sourceMeta, platform: T.sourcePlatform, render: T.sourceRender };

  function showProblems(problems) {
    const list = $("problems");
    const errors = problems.filter((p) => p.severity === "error");
    badLines = new Set(problems.filter((p) => p.line).map((p) => p.line));
    drawGutter();
    const count = $("problem-count");
    count.textContent = errors.length;
    count.classList.toggle("d-none", !errors.length);
    if (!problems.length) {
      list.replaceChildren(el("li", { class: "text-success" }, T.noProblems));
      return;
    }
    list.replaceChildren(
      ...problems.map((p) =>
        el(
          "li",
          { class: p.severity === "error" ? "text-danger" : "text-warning-emphasis", "data-source": p.source },
          el("span", { class: "badge text-bg-light border me-1" }, p.severity === "error" ? SOURCES[p.source] || p.source : T.warning),
          p.line
            ? el(
                "button",
                { type: "button", class: "btn btn-link btn-sm p-0 me-1 align-baseline problem-at", onclick: () => goTo(p.line, p.column) },
                fill(T.line, { line: p.line, column: p.column }),
              )
            : null,
          p.path ? el("code", { class: "me-1" }, p.path) : null,
          p.message,
        ),
      ),
    );
  }

  // --- the live preview ----------------------------------------------------------------------

  function schedulePreview(delay) {
    clearTimeout(previewTimer);
    $("preview-state").textContent = T.previewUpdating;
    previewTimer = setTimeout(updatePreview, delay === undefined ? PREVIEW_DELAY_MS : delay);
  }

  function drawPreview(html) {
    preview.innerHTML = html;
    preview.classList.remove("stale");
    const form = preview.querySelector("form");
    if (form && window.platformForms) window.platformForms.watch(form);
  }

  async function updatePreview() {
    const seq = ++previewSeq;
    const result = await call("POST", "/preview", { text: text.value });
    if (seq !== previewSeq) return; // a newer edit is on its way
    if (!result.ok) {
      $("preview-state").textContent = result.data.error || T.requestFailed;
      return;
    }
    showProblems(result.data.problems || []);
    if (result.data.html !== null && result.data.html !== undefined) {
      drawPreview(result.data.html);
      $("trial-result").classList.add("d-none");
      $("preview-state").textContent = T.previewUpToDate;
    } else {
      preview.classList.add("stale");
      $("preview-state").textContent = T.previewStale;
    }
  }

  // 试填校验 and the rows' add/remove buttons: the filled form goes to the server's parser and validator.
  preview.addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const data = new FormData(form, event.submitter || undefined);
    for (const [key, value] of Array.from(data.entries())) {
      if (value instanceof File) data.delete(key); // a trial keeps no files: no need to upload them
    }
    data.append("_schema", text.value);
    const result = await call("POST", "/preview/validate", data);
    const box = $("trial-result");
    if (!result.ok) {
      show(box, result.data.error || T.requestFailed, "danger");
      return;
    }
    if (result.data.html) drawPreview(result.data.html);
    if (result.data.row_action) {
      box.classList.add("d-none");
      return;
    }
    const errors = Object.entries(result.data.errors || {});
    if (!errors.length) {
      show(box, T.trialOk, "success");
    } else {
      show(
        box,
        [
          fill(T.trialErrors, { count: errors.length }),
          el("ul", { class: "mb-0", id: "trial-errors" }, errors.map(([path, message]) => el("li", {}, el("code", {}, path), " ", message))),
        ],
        "danger",
      );
    }
  });

  // --- versions and processes ----------------------------------------------------------------

  function drawDetail(detail) {
    const body = $("versions").querySelector("tbody");
    const newest = detail.versions[0];
    if (!newest) {
      drawUsedBy(detail.used_by);
      return;
    }
    body.replaceChildren(
      ...detail.versions.map((v) =>
        el(
          "tr",
          { "data-version": v.version },
          el("td", {}, `v${v.version}`, v === newest ? el("span", { class: "badge text-bg-success ms-1" }, T.current) : null),
          el("td", { "data-label": T.savedBy }, v.saved_by || ""),
          el("td", { class: "small", "data-label": T.savedAt }, formatTime(v.saved_at)),
          el("td", { class: "small", "data-label": T.sourceLabel }, v.source === "file" ? T.sourceFile : T.sourceEditor),
          el(
            "td",
            { class: "text-nowrap" },
            el("button", { type: "button", class: "btn btn-sm btn-outline-secondary me-1", onclick: () => loadVersion(v.version) }, T.load),
            el("a", { class: "btn btn-sm btn-outline-secondary", href: urlFor(root.dataset.downloadUrl, { name, version: v.version }) }, T.download),
          ),
        ),
      ),
    );
    drawUsedBy(detail.used_by);
  }

  function drawUsedBy(processes) {
    const list = $("used-by");
    $("btn-redeploy").disabled = !processes.length;
    if (!processes.length) {
      list.replaceChildren(el("li", { class: "text-body-secondary small" }, T.noProcesses));
      return;
    }
    list.replaceChildren(
      ...processes.map((p) =>
        el(
          "li",
          { "data-process": p.key },
          el("a", { href: urlFor(root.dataset.modelerUrl, { key: p.key }) }, p.name || p.key),
          ` v${p.version}`,
          el("span", { class: "small text-body-secondary ms-2" }, p.key),
        ),
      ),
    );
  }

  async function loadVersion(version) {
    if (savedText !== null && text.value !== savedText && !window.confirm(T.confirmDiscard)) return;
    const result = await call("GET", `/${encodeURIComponent(name)}/versions/${version}`);
    if (!result.ok) {
      show($("status"), result.data.error || T.requestFailed, "danger");
      return;
    }
    setText(result.data.text); // not JSON.stringify(schema): the response sorted its keys
    show($("status"), fill(T.loaded, { version }), "info");
  }

  function startEmpty() {
    const skeleton = { title: T.newFormTitle, type: "object", required: [], properties: {} };
    setText(JSON.stringify(skeleton, null, 2) + "\n");
    drawUsedBy([]);
  }

  async function load() {
    if (!name) {
      startEmpty();
      return;
    }
    const result = await call("GET", `/${encodeURIComponent(name)}`);
    if (!result.ok) {
      show($("status"), result.data.error || T.requestFailed, result.status === 404 ? "warning" : "danger");
      if (result.status === 404) startEmpty(); // saving creates the form under this name
      return;
    }
    const { current, broken_file: broken } = result.data;
    if (broken) show($("status"), broken.message, "warning");
    if (broken && broken.text !== null) {
      savedText = null; // the file is no version: its text is there to be repaired and saved
      setText(broken.text);
    } else if (current) {
      savedText = current.text;
      setText(savedText);
    }
    drawDetail(result.data);
  }

  $("btn-save").addEventListener("click", async () => {
    if (!name) {
      const input = $("form-name");
      const typed = input.value.trim();
      if (!typed || !input.checkValidity()) {
        show($("status"), T.nameRequired, "warning");
        input.focus();
        return;
      }
      name = typed;
    }
    const result = await call("PUT", `/${encodeURIComponent(name)}`, { text: text.value });
    if (!result.ok) {
      if (result.data.problems) showProblems(result.data.problems);
      show($("status"), result.data.problems ? T.saveFailed : result.data.error || T.requestFailed, "danger");
      if (!savedText) name = root.dataset.name || null; // a new form stays unnamed until saved
      return;
    }
    if (!root.dataset.name) {
      root.dataset.name = name;
      $("form-title").textContent = name;
      const nameBox = $("form-name");
      if (nameBox) nameBox.closest(".input-group").remove();
      history.replaceState(null, "", urlFor(root.dataset.editorUrl, { name }));
    }
    savedText = text.value;
    markDirty();
    drawDetail(result.data);
    show($("status"), result.data.created ? fill(T.saved, { version: result.data.version }) : T.unchanged, result.data.created ? "success" : "info");
    if (result.data.created && result.data.used_by.length) {
      $("btn-redeploy").classList.replace("btn-outline-primary", "btn-primary");
      $("used-by").scrollIntoView({ block: "nearest" });
    }
  });

  $("btn-redeploy").addEventListener("click", async () => {
    if (!name || !window.confirm(T.confirmRedeploy)) return;
    const button = $("btn-redeploy");
    button.disabled = true;
    const result = await call("POST", `/${encodeURIComponent(name)}/redeploy`);
    button.disabled = false;
    const box = $("redeploy-result");
    if (!result.ok) {
      const problems = (result.data.problems || []).map((p) => el("li", {}, p.message));
      show(box, [T.redeployFailed + ": " + (result.data.error || ""), problems.length ? el("ul", { class: "mb-0" }, problems) : ""], "danger");
      return;
    }
    button.classList.replace("btn-primary", "btn-outline-primary");
    drawUsedBy(result.data.used_by);
    show(
      box,
      [
        T.redeployed,
        el(
          "ul",
          { class: "mb-0" },
          result.data.deployed.map((d) =>
            el("li", { "data-deployed": d.key }, `${d.name || d.key}: `, fill(d.created ? T.newVersion : T.sameVersion, { version: d.version })),
          ),
        ),
      ],
      "success",
    );
  });

  $("btn-format").addEventListener("click", () => {
    try {
      setText(JSON.stringify(JSON.parse(text.value), null, 2) + "\n");
    } catch (e) {
      schedulePreview(0); // the problems list shows where the JSON breaks
    }
  });

  $("btn-download").addEventListener("click", () => {
    const blob = new Blob([text.value], { type: "application/json" });
    const link = el("a", { href: URL.createObjectURL(blob), download: name || "form.json" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });

  window.addEventListener("beforeunload", (event) => {
    if (savedText !== null ? text.value !== savedText : false) event.preventDefault();
  });

  load();
})();
