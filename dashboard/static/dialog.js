// Dialogs of the dashboard: a link with data-dialog="ID" opens <dialog id=ID>
// as a modal; [data-close] inside a dialog closes it. Without JavaScript
// the link loads the page with the dialog open, and Cancel reloads it.
(function () {
  "use strict";
  function modal(d) {
    if (!d || typeof d.showModal !== "function") return false;
    if (d.open) d.close();
    d.showModal();
    return true;
  }
  document.addEventListener("click", function (e) {
    var open = e.target.closest("[data-dialog]");
    if (open && modal(document.getElementById(open.getAttribute("data-dialog")))) {
      e.preventDefault();
      return;
    }
    var close = e.target.closest("dialog [data-close]");
    if (close) {
      e.preventDefault();
      close.closest("dialog").close();
    }
  });
  // A dialog sent open (a form with errors) becomes modal too.
  document.querySelectorAll("dialog[open][data-modal]").forEach(modal);
})();
