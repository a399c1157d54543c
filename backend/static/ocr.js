// OCR on the application form (backend/ocr/views.py): polls the extractions listed in
// #ocr-panel and shows their progress, reveals "用文件中的信息填写" once one is done, marks the
// fields filled from a file ("来自文件，请核对", the snippet on hover or tap). Choosing a file
// does not submit by itself ("上传并识别" does): other documents may be chosen first. Without
// JavaScript the buttons still work: the server fills and shows the state at each render.
(function () {
  "use strict";

  const panel = document.getElementById("ocr-panel");
  if (!panel) return;
  const form = document.querySelector("form.task-form");
  const POLL_MS = 1500;

  function text(key, values) {
    let out = panel.dataset[key] || "";
    Object.entries(values || {}).forEach(([name, value]) => {
      out = out.split(`{${name}}`).join(String(value));
    });
    return out;
  }

  function show(item, status) {
    const target = item.querySelector(".ocr-state");
    item.dataset.state = status.state;
    target.classList.remove("text-danger");
    if (status.state === "queued") target.textContent = text("textQueued");
    else if (status.state === "running" && status.pages_total)
      target.textContent = text("textRunning", { done: status.pages_done, total: status.pages_total });
    else if (status.state === "running") target.textContent = text("textStarting");
    else if (status.state === "done") target.textContent = text("textDone", { found: status.found.length });
    else {
      target.textContent = text("textFailed", { error: status.error || "" });
      target.classList.add("text-danger");
    }
    // A done reading of only the first pages (a timeout) says so; "重新识别" where it may help.
    const notice = item.querySelector(".ocr-notice");
    if (notice) {
      notice.textContent = status.notice || "";
      notice.title = status.notice ? status.error || "" : "";
      notice.hidden = !status.notice;
    }
    const retry = item.querySelector("[data-ocr-retry]");
    if (retry) retry.hidden = !status.retryable;
    if (status.state === "done") {
      ["ocr-fill", "ocr-overwrite"].forEach((id) => {
        const element = document.getElementById(id);
        if (element) element.hidden = false;
      });
    }
  }

  function poll(item) {
    fetch(item.dataset.ocrExtraction, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((status) => {
        if (!status) return;
        show(item, status);
        if (status.state === "queued" || status.state === "running") setTimeout(() => poll(item), POLL_MS);
      })
      .catch(() => setTimeout(() => poll(item), POLL_MS * 4));
  }

  panel.querySelectorAll("[data-ocr-extraction]").forEach((item) => {
    if (item.dataset.state === "queued" || item.dataset.state === "running") poll(item);
  });

  // "重新识别": POST (the form's CSRF token in the header), then follow the new reading.
  const csrf = (document.querySelector('input[name="csrf_token"]') || {}).value || "";
  panel.querySelectorAll("[data-ocr-retry]").forEach((button) => {
    const item = button.closest("[data-ocr-extraction]");
    button.hidden = button.dataset.retryable !== "true";
    button.addEventListener("click", () => {
      button.disabled = true;
      fetch(button.dataset.ocrRetry, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrf },
      })
        .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
        .then(({ ok, body }) => {
          button.disabled = false;
          if (!ok) {
            const target = item.querySelector(".ocr-state");
            target.textContent = body.message || text("textRetryFailed");
            target.classList.add("text-danger");
            button.hidden = true;
            return;
          }
          show(item, body);
          poll(item);
        })
        .catch(() => {
          button.disabled = false;
          item.querySelector(".ocr-state").textContent = text("textRetryFailed");
        });
    });
  });

  // The "来自文件" marks beside the filled fields; the title shows file, page and snippet.
  let marks = {};
  try {
    marks = JSON.parse(panel.dataset.marks || "{}");
  } catch (e) {
    marks = {};
  }
  if (form) {
    Object.entries(marks).forEach(([field, title]) => {
      const target = form.querySelector(`[data-field="${field}"]`);
      if (!target) return;
      const mark = document.createElement("button");
      mark.type = "button";
      mark.className = "badge text-bg-warning border-0 ocr-mark mt-1";
      mark.textContent = panel.dataset.markLabel;
      mark.title = title;
      // A tap (no hover on phones) shows the snippet below the mark.
      mark.addEventListener("click", () => {
        let note = mark.nextElementSibling;
        if (note && note.classList.contains("ocr-snippet")) {
          note.remove();
          return;
        }
        note = document.createElement("div");
        note.className = "form-text ocr-snippet";
        note.textContent = title;
        mark.after(note);
      });
      target.append(mark);
    });
  }
})();
