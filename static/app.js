/* Small page behaviours, kept in a file because the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  // "Copy SQL" buttons: <button class="copy-sql" data-sql="...">
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.copy-sql");
    if (!button || !navigator.clipboard) {
      return;
    }
    navigator.clipboard.writeText(button.dataset.sql).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy SQL"; }, 1500);
    });
  });
})();
