// Console courrier: live regions refreshed from the server (no framework).
// An element with data-live="URL" has its content replaced every 3 s by
// the HTML fragment at URL; a data-live-toggle button pauses and resumes the
// refresh (WCAG 2.2.2). Buttons with data-once are disabled after the first
// click (the server is idempotent anyway).
(function () {
  "use strict";
  var paused = false;
  function refresh() {
    if (paused) return;
    document.querySelectorAll("[data-live]").forEach(function (el) {
      fetch(el.getAttribute("data-live"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null && !paused) el.innerHTML = html; })
        .catch(function () {});
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[data-live]")) setInterval(refresh, 3000);
    document.querySelectorAll("[data-live-toggle]").forEach(function (b) {
      b.addEventListener("click", function () {
        paused = !paused;
        b.setAttribute("aria-pressed", paused ? "true" : "false");
        b.textContent = paused ? "Reprendre la mise à jour automatique" : "Suspendre la mise à jour automatique";
      });
    });
    document.querySelectorAll("form").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        var b = e.submitter;
        if (b && b.hasAttribute("data-once")) {
          if (b.dataset.sent) { e.preventDefault(); return; }
          b.dataset.sent = "1";
        }
      });
    });
  });
})();
