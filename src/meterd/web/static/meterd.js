// Small progressive enhancement: every page works without it.
// data-poll="URL" data-interval="ms": refresh the element's content from URL.
// data-autosubmit on a select: submit its form when the choice changes.
// data-poll-toggle="ID": a button that pauses and resumes polling of #ID.
(function () {
  "use strict";
  function poll(el) {
    var interval = parseInt(el.getAttribute("data-interval") || "3000", 10);
    function tick() {
      if (el.getAttribute("data-paused") === "true" || document.hidden) {
        return;
      }
      fetch(el.getAttribute("data-poll"), { credentials: "same-origin", headers: { "X-Fragment": "1" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { el.innerHTML = html; } })
        .catch(function () { /* keep the last good content */ });
    }
    setInterval(tick, interval);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.requestSubmit(); });
    });
    document.querySelectorAll("[data-poll-toggle]").forEach(function (b) {
      var target = document.getElementById(b.getAttribute("data-poll-toggle"));
      b.hidden = false;
      b.addEventListener("click", function () {
        var paused = target.getAttribute("data-paused") === "true";
        target.setAttribute("data-paused", paused ? "false" : "true");
        b.textContent = paused ? "Pause" : "Resume";
        b.setAttribute("aria-pressed", paused ? "false" : "true");
      });
    });
  });
})();
