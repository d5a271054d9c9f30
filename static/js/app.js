// Liandong page behaviour: CSRF header on htmx requests, confirmations, copy buttons.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (event) {
    if (token) { event.detail.headers["X-CSRFToken"] = token.content; }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);
  document.addEventListener("click", function (event) {
    var code = event.target.closest("code.copy");
    if (code && navigator.clipboard) { navigator.clipboard.writeText(code.textContent.trim()); code.classList.add("copied"); }
  });
})();
