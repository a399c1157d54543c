// The platform's properties panel (no bundler, so not bpmn-js-properties-panel). Every change goes
// through modeling.updateProperties / updateModdleProperties, so the modeler's undo covers it.
(function () {
  "use strict";
  const { strings: T, el } = window.Designer;

  const COUNTERSIGN = [
    ["", T.countersignNone],
    ["all", T.countersignAll],
    ["any", T.countersignAny],
    ["veto", T.countersignVeto],
    ["ratio", T.countersignRatio],
  ];

  function is(bo, type) {
    return bo && typeof bo.$instanceOf === "function" && bo.$instanceOf(type);
  }

  class Panel {
    constructor(modeler, form, catalog) {
      this.modeler = modeler;
      this.form = form;
      this.catalog = catalog; // {forms, groups, operations}
      this.modeling = modeler.get("modeling");
      this.moddle = modeler.get("moddle");
      this.element = null;
      modeler.on("selection.changed", (e) => this.show(e.newSelection.length === 1 ? e.newSelection[0] : null));
      modeler.on("import.done", () => this.show(null));
      // Undo/redo and edits on the canvas (label editing) must show in the panel too.
      modeler.on("elements.changed", (e) => {
        if (this.element && e.elements.some((changed) => changed.id === this.element.id || changed === this.element)) {
          if (!this.form.contains(document.activeElement)) this.show(this.element);
        }
      });
    }

    // --- reading and writing the spiffworkflow extensions ---

    extension(bo, type) {
      const ext = bo.extensionElements;
      return ext ? (ext.get("values") || []).find((v) => v.$type === type) : undefined;
    }

    ensureExtension(element, bo, type, attrs) {
      let ext = bo.extensionElements;
      if (!ext) {
        ext = this.moddle.create("bpmn:ExtensionElements", { values: [] });
        ext.$parent = bo;
        this.modeling.updateModdleProperties(element, bo, { extensionElements: ext });
      }
      let found = (ext.get("values") || []).find((v) => v.$type === type);
      if (!found) {
        found = this.moddle.create(type, attrs || {});
        found.$parent = ext;
        this.modeling.updateModdleProperties(element, ext, { values: [...ext.get("values"), found] });
      }
      return found;
    }

    property(bo, name) {
      const props = this.extension(bo, "spiffworkflow:properties");
      const prop = props && (props.get("properties") || []).find((p) => p.name === name);
      return prop ? prop.value || "" : "";
    }

    setProperty(element, bo, name, value) {
      value = (value ?? "").trim();
      const current = this.extension(bo, "spiffworkflow:properties");
      const existing = current && current.get("properties").find((p) => p.name === name);
      if (!value) {
        if (existing) {
          this.modeling.updateModdleProperties(element, current, {
            properties: current.get("properties").filter((p) => p !== existing),
          });
        }
        return;
      }
      if (existing) {
        if (existing.value !== value) this.modeling.updateModdleProperties(element, existing, { value });
        return;
      }
      const props = this.ensureExtension(element, bo, "spiffworkflow:properties", { properties: [] });
      const prop = this.moddle.create("spiffworkflow:property", { name, value });
      prop.$parent = props;
      this.modeling.updateModdleProperties(element, props, { properties: [...props.get("properties"), prop] });
    }

    // --- rendering ---

    show(element) {
      const form = this.form;
      form.replaceChildren();
      if (!element) element = this.rootShape();
      this.element = element;
      if (!element) {
        form.append(el("p", { class: "text-body-secondary small" }, T.noSelection));
        return;
      }
      const bo = element.businessObject;
      form.dataset.elementId = bo.id;
      form.append(el("div", { class: "small text-body-secondary mb-2" }, bo.$type.replace("bpmn:", "")));
      if (is(bo, "bpmn:Process") || is(bo, "bpmn:Participant")) this.processFields(element, bo);
      else {
        form.append(
          this.text(T.id, "id", bo.id, (v) => v && v !== bo.id && this.modeling.updateProperties(element, { id: v })),
          this.text(T.name, "name", bo.name || "", (v) => this.modeling.updateProperties(element, { name: v || undefined })),
        );
      }
      if (is(bo, "bpmn:UserTask")) this.userTaskFields(element, bo);
      if (is(bo, "bpmn:ServiceTask")) this.serviceTaskFields(element, bo);
      const message = (bo.eventDefinitions || []).find((d) => is(d, "bpmn:MessageEventDefinition"));
      if (message) this.messageFields(element, bo, message);
    }

    // With nothing selected the panel shows the process itself (its key and name); in a
    // collaboration that is the first pool's process.
    rootShape() {
      const root = this.modeler.get("canvas").getRootElement();
      if (!root || !root.businessObject) return null;
      if (!is(root.businessObject, "bpmn:Collaboration")) return root;
      const pool = (root.businessObject.get("participants") || []).find((p) => p.processRef);
      return pool ? this.modeler.get("elementRegistry").get(pool.id) : null;
    }

    processFields(element, bo) {
      const process = is(bo, "bpmn:Participant") ? bo.processRef : bo;
      if (is(bo, "bpmn:Participant")) {
        this.form.append(this.text(T.name, "name", bo.name || "", (v) => this.modeling.updateProperties(element, { name: v || undefined })));
      }
      if (!process) return;
      this.form.append(
        this.text(T.processKey, "process-id", process.id, (v) => v && v !== process.id && this.modeling.updateModdleProperties(element, process, { id: v })),
        this.text(T.processName, "process-name", process.name || "", (v) => this.modeling.updateModdleProperties(element, process, { name: v || undefined })),
      );
    }

    userTaskFields(element, bo) {
      const set = (name) => (value) => this.setProperty(element, bo, name, value);
      const forms = this.catalog.forms.map((f) => [f.name, f.title ? `${f.title} (${f.name})` : f.name]);
      const groups = this.catalog.groups.map((g) => [g.group, g.label ? `${g.label} (${g.group})` : g.group]);
      const countersign = this.property(bo, "countersign");
      const policy = countersign.startsWith("ratio:") ? "ratio" : countersign;
      const ratio = el("input", {
        class: "form-control form-control-sm mt-1" + (policy === "ratio" ? "" : " d-none"),
        id: "prop-countersign-ratio",
        value: policy === "ratio" ? countersign : "ratio:2/3",
        "aria-label": T.ratio,
      });
      const policySelect = this.select(T.countersign, "countersign", policy, COUNTERSIGN, (v) => {
        ratio.classList.toggle("d-none", v !== "ratio");
        set("countersign")(v === "ratio" ? ratio.value : v);
      });
      ratio.addEventListener("change", () => set("countersign")(ratio.value));
      policySelect.append(ratio);
      this.form.append(
        this.select(T.form, "formJsonSchemaFilename", this.property(bo, "formJsonSchemaFilename"), [["", T.choose], ...forms], set("formJsonSchemaFilename")),
        this.select(T.candidateGroups, "candidateGroups", this.property(bo, "candidateGroups"), [["", T.choose], ...groups], set("candidateGroups")),
        this.text(T.candidateGroupExpression, "candidateGroupExpression", this.property(bo, "candidateGroupExpression"), set("candidateGroupExpression")),
        this.text(T.assignee, "assignee", this.property(bo, "assignee"), set("assignee")),
        this.text(T.timeLimit, "timeLimitWorkingDays", this.property(bo, "timeLimitWorkingDays"), set("timeLimitWorkingDays"), { type: "number", min: "0", step: "1" }),
        policySelect,
        this.text(T.decisionField, "decisionField", this.property(bo, "decisionField"), set("decisionField")),
      );
    }

    serviceTaskFields(element, bo) {
      const operator = this.extension(bo, "spiffworkflow:serviceTaskOperator");
      const current = operator ? operator.id || "" : "";
      const operations = this.catalog.operations.map((o) => [o.name, o.name]);
      const paramsBox = el("fieldset", { class: "mb-2" });
      const renderParams = () => {
        const op = this.extension(bo, "spiffworkflow:serviceTaskOperator");
        const spec = op && this.catalog.operations.find((o) => o.name === op.id);
        paramsBox.replaceChildren();
        if (!op) return;
        if (spec && spec.doc) paramsBox.append(el("p", { class: "small text-body-secondary mb-1" }, spec.doc));
        const list = op.parameterList ? op.parameterList.get("parameters") : [];
        const names = [...new Set([...(spec ? spec.params.map((p) => (typeof p === "string" ? p : p.name)) : []), ...list.map((p) => p.id)])];
        if (names.length) paramsBox.append(el("legend", { class: "form-label fs-6" }, T.parameters));
        for (const name of names) {
          const param = list.find((p) => p.id === name);
          paramsBox.append(this.text(name, "param-" + name, param ? param.value || "" : "", (v) => this.setParameter(element, bo, name, v)));
        }
      };
      this.form.append(
        this.select(T.operation, "serviceTaskOperator", current, [["", T.choose], ...operations], (v) => {
          this.setOperator(element, bo, v);
          renderParams();
        }),
        this.text(T.resultVariable, "resultVariable", operator ? operator.resultVariable || "" : "", (v) => {
          const op = this.ensureExtension(element, bo, "spiffworkflow:serviceTaskOperator", {});
          this.modeling.updateModdleProperties(element, op, { resultVariable: v || undefined });
        }),
        paramsBox,
      );
      renderParams();
    }

    setOperator(element, bo, name) {
      const op = this.extension(bo, "spiffworkflow:serviceTaskOperator");
      if (!name) {
        if (op) {
          const ext = bo.extensionElements;
          this.modeling.updateModdleProperties(element, ext, { values: ext.get("values").filter((v) => v !== op) });
        }
        return;
      }
      const operator = this.ensureExtension(element, bo, "spiffworkflow:serviceTaskOperator", { id: name });
      if (operator.id !== name) this.modeling.updateModdleProperties(element, operator, { id: name });
    }

    setParameter(element, bo, name, value) {
      const op = this.ensureExtension(element, bo, "spiffworkflow:serviceTaskOperator", {});
      let list = op.parameterList;
      if (!list) {
        list = this.moddle.create("spiffworkflow:parameters", { parameters: [] });
        list.$parent = op;
        this.modeling.updateModdleProperties(element, op, { parameterList: list });
      }
      const existing = list.get("parameters").find((p) => p.id === name);
      if (!value) {
        if (existing) this.modeling.updateModdleProperties(element, list, { parameters: list.get("parameters").filter((p) => p !== existing) });
      } else if (existing) {
        this.modeling.updateModdleProperties(element, existing, { value });
      } else {
        const param = this.moddle.create("spiffworkflow:parameter", { id: name, type: "any", value });
        param.$parent = list;
        this.modeling.updateModdleProperties(element, list, { parameters: [...list.get("parameters"), param] });
      }
    }

    messageFields(element, bo, definition) {
      const definitions = this.modeler.getDefinitions();
      const messages = definitions.get("rootElements").filter((r) => is(r, "bpmn:Message"));
      const current = definition.messageRef ? definition.messageRef.id : "";
      const newName = el("input", { class: "form-control form-control-sm mt-1 d-none", id: "prop-new-message", placeholder: T.newMessage, "aria-label": T.newMessage });
      const select = this.select(T.message, "messageRef", current, [["", T.choose], ...messages.map((m) => [m.id, m.name || m.id]), ["__new__", T.other]], (v) => {
        newName.classList.toggle("d-none", v !== "__new__");
        if (v === "__new__") return newName.focus();
        const message = messages.find((m) => m.id === v);
        this.modeling.updateModdleProperties(element, definition, { messageRef: message });
      });
      newName.addEventListener("change", () => {
        const name = newName.value.trim();
        if (!name) return;
        const message = this.moddle.create("bpmn:Message", { id: "msg_" + name.replace(/[^A-Za-z0-9_]/g, "_"), name });
        message.$parent = definitions;
        this.modeling.updateModdleProperties(element, definitions, { rootElements: [...definitions.get("rootElements"), message] });
        this.modeling.updateModdleProperties(element, definition, { messageRef: message });
        this.show(element);
      });
      select.append(newName);
      const variable = this.extension(definition, "spiffworkflow:messageVariable");
      this.form.append(
        select,
        this.text(T.correlation, "correlation", this.property(bo, "correlation"), (v) => this.setProperty(element, bo, "correlation", v)),
        this.text(T.messageVariable, "messageVariable", variable ? variable.value || "" : "", (v) => {
          const existing = this.extension(definition, "spiffworkflow:messageVariable");
          if (!v) {
            if (existing) {
              const ext = definition.extensionElements;
              this.modeling.updateModdleProperties(element, ext, { values: ext.get("values").filter((x) => x !== existing) });
            }
            return;
          }
          const target = this.ensureExtension(element, definition, "spiffworkflow:messageVariable", {});
          this.modeling.updateModdleProperties(element, target, { value: v });
        }),
      );
    }

    // --- form controls: a change commits one modeling command ---

    text(label, name, value, onChange, attrs) {
      const id = "prop-" + name;
      const input = el("input", { class: "form-control form-control-sm", id, name, value, ...(attrs || {}) });
      input.addEventListener("change", () => onChange(input.value.trim()));
      return el("div", { class: "mb-2" }, el("label", { class: "form-label", for: id }, label), input);
    }

    select(label, name, value, options, onChange) {
      const id = "prop-" + name;
      const known = options.some(([v]) => v === value);
      const all = known || !value ? options : [...options, [value, value]];
      const select = el("select", { class: "form-select form-select-sm", id, name }, all.map(([v, text]) => el("option", { value: v, selected: v === value }, text)));
      select.addEventListener("change", () => onChange(select.value));
      return el("div", { class: "mb-2" }, el("label", { class: "form-label", for: id }, label), select);
    }
  }

  window.DesignerPanel = Panel;
})();
