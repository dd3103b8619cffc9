/* Leadline back office, web forms (admins): a Copy button beside a read-only text (the embed snippet).
   <button data-copy="ID" data-copied="…" data-selected="…" hidden> is shown once this script runs (without it
   the text is there to select); a click copies the text of #ID with navigator.clipboard and says so in the
   .copy__status beside it. Where the clipboard cannot be written (a plain-http address), the text is selected
   and the status asks for Ctrl+C. */
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    var status = button.parentElement.querySelector(".copy__status");
    if (!source) { return; }
    function say(text) { if (status) { status.textContent = text; } }
    function selectIt() {
      source.focus();
      source.select();
      say(button.dataset.selected);
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (!navigator.clipboard || !window.isSecureContext) { selectIt(); return; }
      navigator.clipboard.writeText(source.value).then(function () { say(button.dataset.copied); }, selectIt);
    });
  });
}());
