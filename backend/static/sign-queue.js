// 待签署: 全选 only with JavaScript (without it the boxes are ticked one by one).
(function () {
  "use strict";
  var all = document.querySelector("[data-select-all]");
  if (!all) return;
  all.hidden = false;
  document.querySelector("label[for='sign-all']").hidden = false;
  all.addEventListener("change", function () {
    document.querySelectorAll("[data-pick]").forEach(function (box) { box.checked = all.checked; });
  });
})();
