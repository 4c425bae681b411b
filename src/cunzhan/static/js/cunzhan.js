/* cunzhan's page behaviour, in one static file: the Content-Security-Policy allows no
   inline script, no on...= handler and no eval (ADR 0023). Templates declare what they
   want with data- attributes; this file does it, by event delegation, so that content
   swapped in by htmx behaves the same.

   data-confirm="question"  on a <form>: ask before submitting (cancel = not sent)
   data-autosubmit          on a <select>: submit its form when the choice changes
   data-print               on a <button>: print the page
   data-search="value"      on an htmx input: send its value as q (region search)
   data-search="last-token" the same with the last of several comma-separated entries
*/
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form instanceof HTMLFormElement ? form.getAttribute("data-confirm") : null;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.submit();
    }
  });

  document.addEventListener("click", function (event) {
    var el = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (el) {
      event.preventDefault();
      window.print();
    }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    var el = event.detail.elt;
    var how = el && el.getAttribute ? el.getAttribute("data-search") : null;
    if (!how) {
      return;
    }
    var value = (el.value || "").trim();
    if (how === "last-token") {
      var parts = value.split(/[\s,，、]+/);
      value = parts[parts.length - 1] || "";
    }
    event.detail.parameters.q = value;
  });
})();
