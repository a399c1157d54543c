// The processes list: GET /designer/api/processes; import hands the file to the modeler page.
(function () {
  "use strict";
  const { strings: T, api, el, errorOf, formatTime } = window.Designer;
  const modelerUrl = (key) => window.DESIGNER.modelerUrl.replace("__KEY__", encodeURIComponent(key));

  async function load() {
    const body = document.querySelector("#processes tbody");
    const result = await api("GET", "/processes");
    if (!result.ok) {
      body.replaceChildren();
      showError(errorOf(result));
      return;
    }
    if (!result.data.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "text-body-secondary" }, T.noProcesses)));
      return;
    }
    body.replaceChildren(
      ...result.data.map((p) =>
        el(
          "tr",
          { "data-key": p.key },
          el("td", {}, el("a", { href: modelerUrl(p.key) }, p.name || p.key), el("div", { class: "small text-body-secondary" }, p.key)),
          el("td", { class: "small" }, p.file_name || ""),
          el("td", {}, p.latest_version ?? ""),
          el("td", {}, p.deployed_by || ""),
          el("td", { class: "small" }, formatTime(p.deployed_at)),
          el("td", {}, p.has_draft ? el("span", { class: "badge text-bg-warning" }, T.draft) : ""),
          el(
            "td",
            { class: "text-nowrap" },
            el("a", { class: "btn btn-sm btn-outline-primary me-1", href: modelerUrl(p.key) }, T.open),
            el("a", { class: "btn btn-sm btn-outline-secondary", href: modelerUrl(p.key) + "#versions" }, T.versions),
          ),
        ),
      ),
    );
  }

  function showError(message) {
    const box = document.getElementById("list-error");
    box.textContent = message;
    box.classList.remove("d-none");
  }

  document.getElementById("import-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    const result = await api("POST", "/import", form);
    event.target.value = "";
    if (!result.ok) {
      showError(errorOf(result));
      return;
    }
    // The modeler page picks the imported diagram up from here and shows the warnings.
    sessionStorage.setItem("designer-import", JSON.stringify(result.data));
    window.location.href = window.DESIGNER.newUrl + "?imported=1";
  });

  load();
})();
