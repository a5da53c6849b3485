// The operator pages work without this file; it only adds two conveniences:
// the board refreshes itself, and command buttons ask before they act.
(function () {
  "use strict";
  var REFRESH_MS = 2000;

  function refreshBoard() {
    var board = document.getElementById("board");
    if (!board || document.hidden) {
      return;
    }
    var url = board.getAttribute("data-live");
    fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "follow" })
      .then(function (response) {
        if (response.redirected || response.status === 401) {
          window.location.href = "/login";
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (text) {
        if (text) {
          var current = document.getElementById("board");
          if (current) {
            current.outerHTML = text;
          }
        }
      })
      .catch(function () {
        var current = document.getElementById("board");
        if (current) {
          current.classList.add("stale");
        }
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  if (document.getElementById("board")) {
    window.setInterval(refreshBoard, REFRESH_MS);
  }
})();
