/* Leadline back office: the little script every staff page loads (no framework, no inline script).
   Open menus (<details class="menu">) close on a click elsewhere or on Escape, which returns focus to them. */
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
}());
