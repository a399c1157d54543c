// Live conditional sections of the server-rendered forms (backend/forms/render.py): an
// element with data-show-when="controller=v1|v2" (or "!=") is shown while its sibling field
// `controller` has one of the values. The server decides the first view and validates every
// submission, so without JavaScript the form still works; this only saves a round trip.
(function () {
  "use strict";

  function controlOf(element, name) {
    // The nearest enclosing block that holds the controller is the object it belongs to.
    for (let scope = element.parentElement; scope; scope = scope.parentElement) {
      const found = scope.querySelectorAll(`[name="${name}"], [name$="[${name}]"]`);
      if (found.length) return Array.from(found);
      if (scope.tagName === "FORM") return [];
    }
    return [];
  }

  function valueOf(inputs) {
    for (const input of inputs) {
      if (input.type === "radio") {
        if (input.checked) return input.value;
      } else if (input.type === "checkbox") {
        return input.checked ? "true" : "false";
      } else if (input.type !== "hidden" || inputs.length === 1) {
        return input.value;
      }
    }
    return "";
  }

  function update(form) {
    form.querySelectorAll("[data-show-when]").forEach((element) => {
      const rule = element.dataset.showWhen;
      const negate = rule.includes("!=");
      const [name, wanted] = rule.split(negate ? "!=" : "=");
      const current = valueOf(controlOf(element, name));
      if (current === "") return; // undecided: leave the server's choice
      const inside = wanted.split("|").includes(current);
      element.hidden = negate ? inside : !inside;
    });
  }

  function watch(form) {
    if (!form.querySelector("[data-show-when]")) return;
    form.addEventListener("change", () => update(form));
    update(form);
  }

  document.querySelectorAll("form").forEach(watch);
  // Forms drawn later (the form editor's live preview) are watched by their page.
  window.platformForms = { watch };
})();
