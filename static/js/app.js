// Liandong page behaviour: CSRF header on htmx requests, confirmations, Ctrl+Enter to save, copy buttons.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (event) {
    if (token) { event.detail.headers["X-CSRFToken"] = token.content; }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;  // a button may ask its own question (one form, several actions)
    var question = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || !event.target.closest) { return; }
    var form = event.target.closest("form[data-hotkey-submit]");
    if (form) { event.preventDefault(); form.requestSubmit(); }
  });
  document.addEventListener("click", function (event) {
    var code = event.target.closest("code.copy");
    if (code && navigator.clipboard) { navigator.clipboard.writeText(code.textContent.trim()); code.classList.add("copied"); }
  });
})();
