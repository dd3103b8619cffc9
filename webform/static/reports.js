/* Reports: the filters apply as soon as a select or a date changes (the form still has its Show button). */
(function () {
  "use strict";
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.querySelectorAll("select, input[type=date]").forEach(function (input) {
      input.addEventListener("change", function () {
        if (input.type === "date" && input.value && !/^\d{4}-\d{2}-\d{2}$/.test(input.value)) { return; }
        form.requestSubmit ? form.requestSubmit() : form.submit();
      });
    });
  });
})();
