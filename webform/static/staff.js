/* Leadline back office: the little script every staff page loads (no framework, no inline script).
   Open menus (<details class="menu">) close on a click elsewhere or on Escape, which returns focus to them.
   A stage form (data-lost-stages) shows its lost-reason fields (data-lost-only) only for a lost stage.
   A row's quick actions (<details class="quick" data-call data-follow-up data-quick-id>) are filled from the
   page's one <template id="quick-actions"> when first opened: its forms pointed at the row's record, its ids
   made the row's own (a long My day stays light; without script the panel links to the record). */
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
  var quickTemplate = document.getElementById("quick-actions");
  document.addEventListener("toggle", function (event) {
    var quick = event.target;
    if (!quickTemplate || !quick.open || !quick.matches("details.quick[data-call]") || quick.dataset.filled) { return; }
    var forms = quickTemplate.content.cloneNode(true);
    var prefix = quick.dataset.quickId;
    forms.querySelectorAll("form")[0].action = quick.dataset.call;
    forms.querySelectorAll("form")[1].action = quick.dataset.followUp;
    forms.querySelectorAll("[id]").forEach(function (el) { el.id = el.id.replace(/^quick/, prefix); });
    forms.querySelectorAll("label[for]").forEach(function (el) {
      el.htmlFor = el.htmlFor.replace(/^quick/, prefix);
    });
    var panel = quick.querySelector(".quick__panel");
    panel.replaceChildren(forms);
    quick.dataset.filled = "1";
    var first = panel.querySelector("input:not([type=hidden]), select");
    if (first) { first.focus(); }
  }, true);
}());
