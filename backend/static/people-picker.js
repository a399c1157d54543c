// People pickers: every <input data-people-picker> gets suggestions from GET /people/search
// in a <datalist> while the user types. A comma-separated list (抄送, 加签) completes its last
// name and keeps the ones before it. Optional data-people-group="fgw.reviewer" narrows the
// search to a candidate group. Without JavaScript the input is a plain username field.
(function () {
  "use strict";

  const script = document.currentScript;
  const searchUrl = (script && script.dataset.searchUrl) || "/people/search";
  const SEPARATORS = /[,，\s]+/;
  const DELAY_MS = 200;
  let counter = 0;

  function split(value) {
    // "a, b, ca" -> ["a, b, ", "ca"]: what is kept, and the name being typed.
    const match = value.match(/^(.*[,，\s])?([^,，\s]*)$/);
    return match ? [match[1] || "", match[2] || ""] : ["", value];
  }

  function label(person) {
    return [person.display_name, person.department, person.region].filter(Boolean).join(" · ");
  }

  function attach(input) {
    if (input.dataset.peoplePickerReady) return;
    input.dataset.peoplePickerReady = "1";
    const list = document.createElement("datalist");
    list.id = input.id ? `${input.id}-people` : `people-picker-${++counter}`;
    input.after(list);
    input.setAttribute("list", list.id);
    let timer = null;
    let controller = null;
    let lastQuery = null;

    async function suggest() {
      const [kept, typed] = split(input.value);
      const query = typed.trim();
      if (query === lastQuery) return;
      lastQuery = query;
      if (!query) {
        list.replaceChildren();
        return;
      }
      if (controller) controller.abort();
      controller = new AbortController();
      const params = new URLSearchParams({ q: query });
      if (input.dataset.peopleGroup) params.set("group", input.dataset.peopleGroup);
      let people;
      try {
        const response = await fetch(`${searchUrl}?${params}`, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          signal: controller.signal,
        });
        if (!response.ok) return;
        people = (await response.json()).people || [];
      } catch (error) {
        return; // aborted by a newer keystroke, or offline: the plain input still works
      }
      const already = new Set(kept.split(SEPARATORS).filter(Boolean));
      list.replaceChildren(
        ...people
          .filter((person) => !already.has(person.username))
          .map((person) => {
            const option = document.createElement("option");
            option.value = kept + person.username;
            option.label = label(person);
            option.textContent = label(person);
            return option;
          })
      );
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(suggest, DELAY_MS);
    });
  }

  function init(root) {
    root.querySelectorAll("input[data-people-picker]").forEach(attach);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => init(document));
  } else {
    init(document);
  }
})();
