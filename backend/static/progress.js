// The progress form (backend/schedule/templates/schedule/progress.html): the quick percent
// buttons fill the number field, and the chosen photos/files are listed by name before upload.
(function () {
  "use strict";
  var form = document.querySelector("[data-progress-form]");
  if (!form) return;
  var percent = form.querySelector("#percent");
  var quick = form.querySelectorAll("[data-percent]");
  function markQuick() {
    quick.forEach(function (button) {
      var on = Number(percent.value) === Number(button.getAttribute("data-percent")) && percent.value !== "";
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }
  quick.forEach(function (button) {
    button.addEventListener("click", function () {
      percent.value = button.getAttribute("data-percent");
      markQuick();
    });
  });
  percent.addEventListener("input", markQuick);
  markQuick();
  var list = form.querySelector("[data-chosen-files]");
  var inputs = form.querySelectorAll('input[type="file"][name="evidence"]');
  function showChosen() {
    list.textContent = "";
    inputs.forEach(function (input) {
      Array.prototype.forEach.call(input.files || [], function (file) {
        var li = document.createElement("li");
        li.className = "text-break";
        li.textContent = "+ " + file.name;
        list.appendChild(li);
      });
    });
  }
  inputs.forEach(function (input) { input.addEventListener("change", showChosen); });
})();
