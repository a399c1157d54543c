// The modeler page: bpmn-js Modeler (UMD bundle) + our panel + the toolbar over /designer/api.
(function () {
  "use strict";
  const { strings: T, api, el, status, errorOf, formatTime } = window.Designer;
  const config = window.DESIGNER;
  let key = config.key;
  let problemOverlays = [];
  let markedIds = [];

  const BLANK = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="new_process_definitions" targetNamespace="http://keyproject.gov.cn/bpmn/new_process" exporter="keyproject-bpm" exporterVersion="1">
  <bpmn:process id="new_process" name="${T.newProcessName}" isExecutable="true">
    <bpmn:startEvent id="start" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="new_process_diagram">
    <bpmndi:BPMNPlane id="new_process_plane" bpmnElement="new_process">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="160" width="36" height="36" /></bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`;

  const modeler = new window.BpmnJS({
    container: "#canvas",
    keyboard: { bindTo: document },
    moddleExtensions: { spiffworkflow: window.SpiffworkflowModdle },
  });
  // For the browser tests and debugging in the console.
  window.designerModeler = modeler;
  window.designerLoad = (xml) => load(xml);
  let dirty = false;
  modeler.on("commandStack.changed", () => {
    dirty = true;
  });
  window.addEventListener("beforeunload", (event) => {
    if (dirty) {
      event.preventDefault();
      event.returnValue = T.unsaved;
    }
  });

  // --- loading and saving ---

  async function load(xml) {
    const result = await modeler.importXML(xml);
    // bpmn-moddle drops references it cannot resolve; SpiffWorkflow names its multi-instance
    // collections by variable (loopDataInputRef>experts<), so keep them as bare ids.
    const moddle = modeler.get("moddle");
    for (const warning of result.warnings || []) {
      if (warning.element && warning.property && /^unresolved reference/.test(warning.message || "")) {
        warning.element.set(warning.property, moddle.create("bpmn:DataInput", { id: warning.value }));
      }
    }
    modeler.get("canvas").zoom("fit-viewport", "auto");
    clearProblems();
    dirty = false;
    return result;
  }

  async function currentXml() {
    const { xml } = await modeler.saveXML({ format: true });
    return xml;
  }

  // The unit of design is the file, named by its first executable process.
  function processKey() {
    const processes = modeler.getDefinitions().get("rootElements").filter((r) => r.$type === "bpmn:Process");
    const main = processes.find((p) => p.isExecutable) || processes[0];
    return main ? main.id : null;
  }

  function useKey(newKey) {
    if (!newKey || newKey === key) return;
    key = newKey;
    document.getElementById("process-title").textContent = key;
    history.replaceState(null, "", config.modelerUrl.replace("__KEY__", encodeURIComponent(key)));
  }

  async function open() {
    if (!key) {
      const imported = sessionStorage.getItem("designer-import");
      if (imported && new URLSearchParams(location.search).has("imported")) {
        sessionStorage.removeItem("designer-import");
        await showImport(JSON.parse(imported));
      } else {
        await load(BLANK);
      }
      return;
    }
    // The draft if there is one, else the latest deployed version.
    let result = await api("GET", `/processes/${encodeURIComponent(key)}/xml?source=draft`);
    if (!result.ok) result = await api("GET", `/processes/${encodeURIComponent(key)}/xml?source=latest`);
    if (!result.ok) {
      status(T.loadFailed + ": " + errorOf(result), "danger");
      await load(BLANK);
      return;
    }
    await load(result.data.xml);
    if (result.data.source === "draft") status(T.draft, "warning");
    if (location.hash === "#versions") showVersions();
  }

  // --- problems: listed in the panel, marked on the canvas, click to go to the element ---

  function clearProblems() {
    const canvas = modeler.get("canvas");
    for (const id of markedIds) {
      canvas.removeMarker(id, "has-problem");
      canvas.removeMarker(id, "is-unsupported");
    }
    markedIds = [];
    const overlays = modeler.get("overlays");
    for (const id of problemOverlays) overlays.remove(id);
    problemOverlays = [];
    document.getElementById("problems").replaceChildren();
    document.getElementById("problem-count").classList.add("d-none");
  }

  function showProblems(problems, marker) {
    clearProblems();
    const registry = modeler.get("elementRegistry");
    const canvas = modeler.get("canvas");
    const overlays = modeler.get("overlays");
    const list = document.getElementById("problems");
    const counts = {};
    for (const problem of problems) {
      const id = problem.element_id;
      const shape = id && registry.get(id);
      if (shape) counts[id] = (counts[id] || 0) + 1;
      const where = [id ? `${T.element} ${id}` : "", problem.line ? `${T.line} ${problem.line}` : ""].filter(Boolean).join(" · ");
      list.append(
        el(
          "button",
          {
            type: "button",
            class: "list-group-item list-group-item-action" + (problem.severity === "warning" ? " list-group-item-warning" : ""),
            "data-element-id": id || "",
            onclick: () => focusElement(id),
          },
          el("div", {}, problem.message),
          where ? el("div", { class: "text-body-secondary" }, where) : null,
        ),
      );
    }
    for (const [id, count] of Object.entries(counts)) {
      canvas.addMarker(id, marker || "has-problem");
      markedIds.push(id);
      problemOverlays.push(
        overlays.add(id, "problem", { position: { top: -10, right: 10 }, html: `<span class="problem-badge">${count}</span>` }),
      );
    }
    const badge = document.getElementById("problem-count");
    badge.textContent = problems.length;
    badge.classList.toggle("d-none", !problems.length);
    if (!problems.length) list.append(el("p", { class: "text-body-secondary mb-0" }, T.noProblems));
    if (problems.length) showTab("tab-problems");
  }

  function focusElement(id) {
    const element = id && modeler.get("elementRegistry").get(id);
    if (!element) return;
    modeler.get("selection").select(element);
    modeler.get("canvas").scrollToElement(element, { top: 120, bottom: 120, left: 120, right: 120 });
    showTab("tab-props");
  }

  function showTab(id) {
    window.bootstrap.Tab.getOrCreateInstance(document.getElementById(id)).show();
  }

  // --- toolbar ---

  async function saveDraft() {
    const xml = await currentXml();
    const newKey = processKey();
    const result = await api("PUT", `/processes/${encodeURIComponent(newKey)}/draft`, { xml });
    if (!result.ok) return status(errorOf(result), "danger");
    useKey(newKey);
    dirty = false;
    const problems = result.data.problems || [];
    showProblems(problems);
    status(problems.length ? T.savedWithProblems : T.savedDraft, problems.length ? "warning" : "success");
  }

  async function validate() {
    const result = await api("POST", "/validate", { xml: await currentXml() });
    if (!result.ok && !(result.data && result.data.problems)) return status(errorOf(result), "danger");
    const problems = result.data.problems || [];
    showProblems(problems);
    status(problems.length ? `${T.problemsFound}: ${problems.length}` : T.valid, problems.length ? "danger" : "success");
  }

  async function deploy() {
    const newKey = processKey();
    const result = await api("POST", `/processes/${encodeURIComponent(newKey)}/deploy`, { xml: await currentXml() });
    if (result.status === 422) {
      showProblems(result.data.problems || []);
      return status(T.deployFailed, "danger");
    }
    if (!result.ok) return status(errorOf(result), "danger");
    useKey(newKey);
    dirty = false;
    clearProblems();
    const message = result.data.created ? `${T.deployed}: ${T.version} ${result.data.version}` : `${T.unchanged} (${T.version} ${result.data.version})`;
    status(message, "success");
    document.getElementById("status").dataset.version = result.data.version;
    if (document.getElementById("pane-versions").classList.contains("active")) showVersions();
  }

  async function showVersions() {
    showTab("tab-versions");
    const box = document.getElementById("versions");
    document.getElementById("diff").replaceChildren();
    if (!key) return box.replaceChildren(el("p", { class: "text-body-secondary" }, T.noVersions));
    const result = await api("GET", `/processes/${encodeURIComponent(key)}/versions`);
    if (!result.ok) return box.replaceChildren(el("p", { class: "text-danger" }, errorOf(result)));
    const versions = [...result.data].sort((a, b) => b.version - a.version);
    if (!versions.length) return box.replaceChildren(el("p", { class: "text-body-secondary" }, T.noVersions));
    box.replaceChildren(
      el(
        "ul",
        { class: "list-group" },
        versions.map((v) =>
          el(
            "li",
            { class: "list-group-item", "data-version": v.version },
            el("div", { class: "fw-semibold" }, `${T.version} ${v.version}`),
            el("div", { class: "text-body-secondary" }, `${T.deployedBy}: ${v.deployed_by || "-"} · ${formatTime(v.deployed_at)} · ${T.instances}: ${v.instances ?? 0}`),
            el(
              "div",
              { class: "d-flex flex-wrap gap-1 mt-1" },
              el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", onclick: () => openVersion(v.version) }, T.open),
              v.version > 1 ? el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", onclick: () => showDiff(v.version - 1, v.version) }, T.diffPrevious) : null,
              el("button", { type: "button", class: "btn btn-sm btn-outline-danger", onclick: () => rollback(v.version) }, T.rollback),
              el("a", { class: "btn btn-sm btn-outline-secondary", href: config.downloadUrl.replace("__KEY__", encodeURIComponent(key)).replace("__N__", v.version) }, T.download),
            ),
          ),
        ),
      ),
    );
  }

  async function openVersion(version) {
    const result = await api("GET", `/processes/${encodeURIComponent(key)}/xml?source=${version}`);
    if (!result.ok) return status(errorOf(result), "danger");
    await load(result.data.xml);
    status(`${T.version} ${version}`, "info");
  }

  async function showDiff(from, to) {
    const box = document.getElementById("diff");
    const result = await api("GET", `/processes/${encodeURIComponent(key)}/diff?from=${from}&to=${to}`);
    if (!result.ok) return box.replaceChildren(el("p", { class: "text-danger" }, errorOf(result)));
    const { added = [], removed = [], changed = [] } = result.data;
    const label = (e) => `${e.id}${e.name ? " " + e.name : ""} (${(e.type || "").replace("bpmn:", "")})`;
    const section = (title, items, cls, extra) =>
      items.length
        ? [el("div", { class: "fw-semibold mt-2 " + cls }, `${title} (${items.length})`), el("ul", { class: "diff-list mb-1 ps-3" }, items.map((e) => el("li", {}, label(e), extra ? extra(e) : null)))]
        : [];
    box.replaceChildren(
      el("div", { class: "fw-semibold" }, `${T.version} ${from} → ${to}`),
      ...section(T.added, added, "text-success"),
      ...section(T.removed, removed, "text-danger"),
      ...section(T.changed, changed, "text-warning-emphasis", (e) => (e.changes && e.changes.length ? ": " + e.changes.join(", ") : "")),
      added.length + removed.length + changed.length ? null : el("p", { class: "text-body-secondary" }, T.noDiff),
    );
  }

  async function rollback(version) {
    if (!window.confirm(`${T.confirmRollback} (${T.version} ${version})`)) return;
    const result = await api("POST", `/processes/${encodeURIComponent(key)}/rollback`, { version });
    if (!result.ok) return status(errorOf(result), "danger");
    await openVersion(result.data.version);
    status(`${T.rolledBack}: ${T.version} ${result.data.version}`, "success");
    await showVersions();
  }

  async function exportFile() {
    const xml = await currentXml();
    const link = el("a", { href: URL.createObjectURL(new Blob([xml], { type: "application/xml" })), download: `${processKey() || "process"}.bpmn` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  async function showImport(data) {
    await load(data.xml);
    dirty = true;
    if (data.key) useKey(data.key);
    const warnings = (data.warnings || []).map((w) => (typeof w === "string" ? { message: w } : w));
    const unsupported = (data.unsupported || []).map((u) => ({ element_id: u.element_id, message: `${T.unsupported}: ${u.type}`, severity: "warning" }));
    showProblems([...unsupported, ...warnings.map((w) => ({ ...w, severity: "warning" }))], "is-unsupported");
    status(T.imported + (warnings.length || unsupported.length ? ` · ${T.importWarnings}: ${warnings.length + unsupported.length}` : ""), "warning");
  }

  async function importFile(event) {
    const file = event.target.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    const result = await api("POST", "/import", form);
    event.target.value = "";
    if (!result.ok) {
      if (result.data && result.data.problems) showProblems(result.data.problems);
      return status(errorOf(result), "danger");
    }
    await showImport(result.data);
  }

  const run = (fn) => async (event) => {
    const button = event.currentTarget;
    if (button.tagName === "BUTTON") button.disabled = true;
    try {
      await fn(event);
    } catch (error) {
      status(error.message || String(error), "danger");
    } finally {
      if (button.tagName === "BUTTON") button.disabled = false;
    }
  };
  document.getElementById("btn-save").addEventListener("click", run(saveDraft));
  document.getElementById("btn-validate").addEventListener("click", run(validate));
  document.getElementById("btn-deploy").addEventListener("click", run(deploy));
  document.getElementById("btn-versions").addEventListener("click", run(showVersions));
  document.getElementById("btn-export").addEventListener("click", run(exportFile));
  document.getElementById("import-file").addEventListener("change", run(importFile));

  // --- start: the catalogues for the panel's selects, then the diagram ---

  async function catalog(path) {
    const result = await api("GET", path);
    return result.ok && Array.isArray(result.data) ? result.data : [];
  }

  (async () => {
    const [forms, groups, operations] = await Promise.all([catalog("/forms"), catalog("/groups"), catalog("/operations")]);
    const panel = new window.DesignerPanel(modeler, document.getElementById("properties"), { forms, groups, operations });
    panel.show(null);
    try {
      await open();
    } catch (error) {
      status(T.loadFailed + ": " + (error.message || error), "danger");
    }
    document.body.dataset.designerReady = "1";
  })();
})();
