/* Leadline back office: results as you type under the header's search box (no framework, no inline script).
   Waits for a pause in typing, fetches /search/suggest?q=… (an HTML fragment the server escaped), shows it
   under the box; Escape or a click elsewhere hides it. Without this script the box still submits to /search. */
(function () {
  "use strict";
  var form = document.querySelector("form.search[data-suggest]");
  if (!form) { return; }
  var input = form.querySelector("input[name=q]");
  var panel = form.querySelector(".suggest");
  var timer = null, asked = "";
  function hide() { panel.hidden = true; }
  function show(html) { panel.innerHTML = html; panel.hidden = !html.trim(); }
  function ask() {
    var term = input.value.trim();
    if (term.length < 2) { asked = ""; hide(); return; }
    if (term === asked) { panel.hidden = !panel.innerHTML.trim(); return; }
    asked = term;
    fetch(form.dataset.suggest + "?q=" + encodeURIComponent(term), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { if (term === input.value.trim()) { show(html); } })
      .catch(hide);
  }
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 250); });
  input.addEventListener("focus", function () { if (input.value.trim().length >= 2) { ask(); } });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { hide(); }
    if (event.key === "ArrowDown" && !panel.hidden) {
      var first = panel.querySelector("a");
      if (first) { event.preventDefault(); first.focus(); }
    }
  });
  panel.addEventListener("keydown", function (event) {
    var links = Array.prototype.slice.call(panel.querySelectorAll("a"));
    var at = links.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && at < links.length - 1) { event.preventDefault(); links[at + 1].focus(); }
    if (event.key === "ArrowUp") { event.preventDefault(); (at > 0 ? links[at - 1] : input).focus(); }
    if (event.key === "Escape") { hide(); input.focus(); }
  });
  document.addEventListener("click", function (event) { if (!form.contains(event.target)) { hide(); } });
}());
