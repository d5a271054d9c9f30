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
  // Triage: one click takes the suggestion into the intake form (kind, emergency, and the platform
  // to send the case on to); changing the kind or the flag afterwards is the agent's override.
  document.addEventListener("click", function (event) {
    var accept = event.target.closest("[data-triage-accept]");
    if (!accept) { return; }
    var box = accept.closest(".triage"), form = document.getElementById("intake");
    if (!box || !form) { return; }
    var kind = form.querySelector('input[name="kind"][value="' + box.dataset.localKind + '"]');
    if (kind) { kind.checked = true; }
    var emergency = form.querySelector('input[name="emergency"]');
    if (emergency) { emergency.checked = box.dataset.emergency === "1"; }
    if (box.dataset.emergency === "1") {
      var urgent = form.querySelector('input[name="urgency"][value="urgent"]');
      if (urgent) { urgent.checked = true; }
    }
    var sendTo = document.getElementById("f-transfer_to"), save = document.getElementById("save-intake");
    if (sendTo) { sendTo.value = box.dataset.sendTo || ""; }
    if (save) {
      save.firstChild.textContent = box.dataset.sendTo ? "保存并转" + box.dataset.sendTo + " " : save.dataset.label + " ";
    }
    accept.textContent = "已采纳";
  });
  document.addEventListener("click", function (event) {
    var code = event.target.closest("code.copy");
    if (code && navigator.clipboard) { navigator.clipboard.writeText(code.textContent.trim()); code.classList.add("copied"); }
  });
})();
