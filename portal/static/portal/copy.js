// Copy buttons: a button with data-copy puts that text on the clipboard, one with
// data-copy-from the text of the element with that id. They show only where the browser
// lets a page write the clipboard (portal.css hides them otherwise); one listener serves
// the buttons of content htmx swaps in later too.
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) {
    return;
  }
  document.documentElement.classList.add("can-copy");
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy], button[data-copy-from]");
    if (!button) {
      return;
    }
    var text = button.dataset.copy;
    if (text === undefined) {
      var source = document.getElementById(button.dataset.copyFrom);
      text = source ? source.textContent : "";
    }
    navigator.clipboard.writeText(text).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.setAttribute("data-copied", "");
      window.setTimeout(function () {
        button.textContent = label;
        button.removeAttribute("data-copied");
      }, 1500);
    });
  });
})();
