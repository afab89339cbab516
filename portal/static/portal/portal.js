// serweb's own behaviour on top of htmx (vendor/htmx-*.min.js). No inline script anywhere:
// the Content-Security-Policy allows only files like this one.
"use strict";

// A list swapped in by its pager (portal/_pager.html) takes the keyboard focus, so a
// keyboard or screen-reader user goes on from the top of the new page, not from nowhere.
document.addEventListener("htmx:afterSettle", (event) => {
  const swapped = event.detail.elt;
  if (swapped instanceof HTMLElement && swapped.getAttribute("tabindex") === "-1") {
    swapped.focus({ preventScroll: false });
  }
});
