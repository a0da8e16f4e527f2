// Billing pages: print the document on screen with the browser (the fallback when the box has
// no printer set up, or the printer is out of paper). CSS hides everything marked .no-print.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-print]");
    if (button) {
      event.preventDefault();
      window.print();
    }
  });
})();
