// /admin/audit: the action select shows only the actions of the chosen category.
// A static file, not an inline script: the Content-Security-Policy forbids those.
(function () {
  "use strict";
  var category = document.querySelector("[data-audit-category]");
  var action = document.querySelector("[data-audit-action]");
  if (!category || !action) {
    return;
  }
  function narrow() {
    var chosen = category.value;
    action.querySelectorAll("optgroup[data-category]").forEach(function (group) {
      var off = chosen !== "" && group.getAttribute("data-category") !== chosen;
      group.hidden = off;
      group.disabled = off;
    });
    var selected = action.options[action.selectedIndex];
    if (selected && selected.parentElement && selected.parentElement.disabled) {
      action.value = "";
    }
  }
  category.addEventListener("change", narrow);
  narrow();
})();
