// The page's settings arrive as a JSON data block (#designer-config): the CSP allows no inline
// script (backend/security/headers.py), so nothing in the page runs but files like this one.
(function () {
  "use strict";
  window.DESIGNER = JSON.parse(document.getElementById("designer-config").textContent);
  // Forms that only hold fields (the properties panel): Enter in a field must not submit them.
  document.addEventListener("submit", function (event) {
    if (event.target.matches("form[data-no-submit]")) event.preventDefault();
  });
})();
