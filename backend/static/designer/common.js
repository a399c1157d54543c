// Shared by the designer pages: translated strings, JSON calls with the CSRF token, status line.
(function () {
  "use strict";
  const strings = JSON.parse(document.getElementById("designer-strings").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, path, body) {
    const options = { method, headers: { Accept: "application/json", "X-CSRFToken": csrf } };
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(window.DESIGNER.api + path, options);
    } catch (error) {
      return { ok: false, status: 0, data: { error: strings.requestFailed + ": " + error.message } };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = { error: strings.requestFailed + " (HTTP " + response.status + ")" };
    }
    return { ok: response.ok, status: response.status, data };
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function status(message, kind) {
    const box = document.getElementById("status");
    if (!box) return;
    box.className = "alert py-2 mb-2 alert-" + (kind || "info");
    box.textContent = message;
  }

  function errorOf(result) {
    return (result.data && (result.data.error || result.data.message)) || strings.requestFailed;
  }

  function formatTime(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    if (isNaN(date)) return iso;
    return date.toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  }

  window.Designer = { strings, api, el, status, errorOf, formatTime };
})();
