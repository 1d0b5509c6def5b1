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

  // Starter questions on the ask page: fill the question box and ask it through the ask form (htmx), so the
  // question stays in the box for a follow-up; without JavaScript the button's own form posts it.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-starter]");
    var form = document.getElementById("ask-form");
    var input = document.getElementById("ask-question");
    if (!button || !form || !input || !form.requestSubmit) {
      return;
    }
    event.preventDefault();
    input.value = button.dataset.starter;
    var select = document.getElementById("ask-connection");
    if (select && button.dataset.connection) {
      select.value = button.dataset.connection;
    }
    form.requestSubmit();
  });

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  function alertHtml(title, detail) {
    return '<div class="alert error" role="alert"><strong>' + escapeHtml(title) + ":</strong> " +
      escapeHtml(detail) + "</div>";
  }

  // Where a refused request's message goes: the element marked data-errors-here, else the form or card that sent
  // it, in a box of its own at its top; else the page's message area.
  function errorBox(origin) {
    var home = origin && origin.closest &&
      (origin.closest("[data-errors-here]") || origin.closest("form") || origin.closest(".card, section"));
    if (!home || !home.isConnected) {
      return document.getElementById("flash");
    }
    var box = home.querySelector(":scope > .request-error");
    if (!box) {
      box = document.createElement("div");
      box.className = "request-error";
      box.setAttribute("aria-live", "assertive");
      home.insertBefore(box, home.firstChild);
    }
    return box;
  }

  function stopSpinners(box) {
    var home = box.parentElement;
    if (home) {
      home.querySelectorAll(".spinner").forEach(function (s) { s.remove(); });
    }
  }

  // A new request from a form clears the message its last refusal left there.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var origin = event.detail.elt;
    var home = origin && origin.closest && (origin.closest("[data-errors-here]") || origin.closest("form"));
    var old = home && home.querySelector(":scope > .request-error");
    if (old) {
      old.remove();
    }
  });

  // htmx drops 4xx/5xx answers by default; show every one. A page fragment re-rendered with its own error (no
  // HX-Retarget) replaces its target as a success would; a bare problem (HX-Retarget, or JSON problem details)
  // goes into the box of the form or card that sent the request.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var d = event.detail;
    var status = d.xhr.status;
    if (status < 400) {
      return;
    }
    var type = d.xhr.getResponseHeader("Content-Type") || "";
    var bare = !!d.xhr.getResponseHeader("HX-Retarget");
    var html = /^\s*</.test(d.serverResponse || "");
    if (!html && type.indexOf("json") !== -1) {
      var problem = {};
      try { problem = JSON.parse(d.serverResponse); } catch (e) { problem = {}; }
      d.serverResponse = alertHtml(problem.title || ("Error " + status), problem.detail || d.xhr.statusText);
      bare = true;
    } else if (!html) {
      d.serverResponse = alertHtml("Error " + status, d.xhr.statusText || "the server refused the request");
      bare = true;
    }
    if (bare) {
      var box = errorBox(d.requestConfig && d.requestConfig.elt);
      d.target = box;
      d.swapOverride = "innerHTML";
      stopSpinners(box);
    }
    d.shouldSwap = true;
    d.isError = false;
  });

  // The server could not be reached (or took too long): say so where the request came from. A progress poll
  // (data-poll) retries by itself with growing pauses, then offers a button.
  function unreachable(event) {
    var origin = event.detail.elt;
    if (origin && origin.hasAttribute && origin.hasAttribute("data-poll")) {
      var tries = Number(origin.dataset.tries || "0") + 1;
      origin.dataset.tries = String(tries);
      var note = origin.querySelector(".poll-note") || document.createElement("p");
      note.className = "poll-note muted";
      origin.appendChild(note);
      if (tries <= 5) {
        note.textContent = "Lost contact with the server; trying again…";
        setTimeout(function () {
          htmx.ajax("GET", origin.getAttribute("hx-get"), { source: origin, target: origin, swap: "outerHTML" });
        }, 1000 * Math.pow(2, tries));
        return;
      }
      note.textContent = "Still working, or the server is unreachable. ";
      var retry = document.createElement("button");
      retry.type = "button";
      retry.textContent = "Check again";
      retry.addEventListener("click", function () {
        origin.dataset.tries = "0";
        htmx.ajax("GET", origin.getAttribute("hx-get"), { source: origin, target: origin, swap: "outerHTML" });
      });
      note.appendChild(retry);
      return;
    }
    var box = errorBox(origin);
    box.innerHTML = alertHtml("Not sent", "the server could not be reached or did not answer in time; " +
      "check the connection and try again");
    stopSpinners(box);
  }
  document.addEventListener("htmx:sendError", unreachable);
  document.addEventListener("htmx:timeout", unreachable);

  // While a question is being answered its Ask button stays disabled.
  // (at the swap and again once settled: htmx re-enables the form's button when the request ends, which on a busy
  // machine can come between the two)
  function holdWhileProgress() {
    var busy = !!document.querySelector("#progress .spinner");
    document.querySelectorAll("[data-busy-while-progress]").forEach(function (b) { b.disabled = busy; });
  }
  document.addEventListener("htmx:afterSwap", holdWhileProgress);
  document.addEventListener("htmx:afterSettle", holdWhileProgress);
})();
