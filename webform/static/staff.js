/* Leadline back office: the little script every staff page loads (no framework, no inline script).
   Open menus (<details class="menu">) close on a click elsewhere or on Escape, which returns focus to them.
   A stage form (data-lost-stages) shows its lost-reason fields (data-lost-only) only for a lost stage. */
(function () {
  "use strict";
  function openMenus() { return document.querySelectorAll("details.menu[open]"); }
  document.addEventListener("click", function (event) {
    openMenus().forEach(function (menu) { if (!menu.contains(event.target)) { menu.open = false; } });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    openMenus().forEach(function (menu) { menu.open = false; menu.querySelector("summary").focus(); });
  });
  document.querySelectorAll("form[data-lost-stages]").forEach(function (form) {
    var lost = JSON.parse(form.getAttribute("data-lost-stages") || "[]");
    var stage = form.querySelector("select[name=stage]");
    var fields = form.querySelector("[data-lost-only]");
    if (!stage || !fields) { return; }
    function sync() { fields.hidden = lost.indexOf(stage.value) < 0 && !fields.querySelector("[aria-invalid]"); }
    stage.addEventListener("change", sync);
    sync();
  });
}());
