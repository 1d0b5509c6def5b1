/* Draws every [data-vega-spec] element: Vega-Lite specs through vegaEmbed, number cards without Vega. */
(function () {
  "use strict";

  var SELECTOR = "[data-vega-spec]";

  function readSpec(el) {
    // A <script type="application/json"> child keeps large specs out of attribute escaping; the attribute is the fallback.
    var script = el.querySelector('script[type="application/json"]');
    var text = script ? script.textContent : el.getAttribute("data-vega-spec");
    return { text: text || "", spec: JSON.parse(text || "null") };
  }

  function canvas(el) {
    // Draw into a child of our own so the JSON <script> survives and a later swap can re-render.
    var target = el.querySelector(":scope > .chart-canvas");
    if (!target) {
      target = document.createElement("div");
      target.className = "chart-canvas";
      el.appendChild(target);
    }
    target.replaceChildren();
    return target;
  }

  function showError(el, error) {
    var box = document.createElement("p");
    box.className = "chart-error";
    box.setAttribute("role", "alert");
    // textContent, never innerHTML: messages may quote column names from the customer's database.
    box.textContent = "The chart could not be drawn: " + (error && error.message ? error.message : String(error));
    canvas(el).appendChild(box);
  }

  function showNote(target, spec) {
    var note = spec && spec.usermeta && spec.usermeta.note;
    if (note) {
      var p = document.createElement("p");
      p.className = "chart-note";
      p.textContent = note;
      target.appendChild(p);
    }
  }

  function renderNumber(el, spec) {
    var card = document.createElement("figure");
    card.className = "number-card";
    var value = document.createElement("div");
    value.className = "number-card-value";
    // spec.text: the value as the server formats it (money with its unit, shares as percent)
    value.textContent = spec.text ? String(spec.text)
      : typeof spec.value === "number" ? new Intl.NumberFormat().format(spec.value)
      : spec.value === null || spec.value === undefined ? "—" : String(spec.value);
    var title = document.createElement("figcaption");
    title.className = "number-card-title";
    title.textContent = spec.title || spec.field || "";
    card.append(value, title);
    canvas(el).appendChild(card);
  }

  function render(el) {
    var read;
    try {
      read = readSpec(el);
    } catch (error) {
      showError(el, error);
      return;
    }
    // htmx:load and afterSwap both fire for a swapped fragment: draw each spec once, redraw only when it changed.
    if (el._chartText === read.text) return;
    el._chartText = read.text;
    if (el._chartView) {
      el._chartView.finalize();
      el._chartView = null;
    }
    var spec = read.spec;
    if (!spec || spec.kind === "table") {
      canvas(el);
      el.hidden = true;
      return;
    }
    el.hidden = false;
    if (spec.kind === "number") {
      renderNumber(el, spec);
      return;
    }
    if (typeof window.vegaEmbed !== "function") {
      showError(el, new Error("the chart library did not load"));
      return;
    }
    var target = canvas(el);
    var plot = document.createElement("div");
    plot.className = "chart-plot";
    target.appendChild(plot);
    // ast + the interpreter: Vega evaluates expressions without eval, as the Content-Security-Policy requires
    window.vegaEmbed(plot, spec, { actions: false, renderer: "svg", ast: true }).then(function (result) {
      el._chartView = result.view;
      showNote(target, spec);
    }).catch(function (error) {
      showError(el, error);
    });
  }

  function renderAll(root) {
    root = root || document;
    if (root.matches && root.matches(SELECTOR)) render(root);
    if (root.querySelectorAll) root.querySelectorAll(SELECTOR).forEach(render);
  }

  document.addEventListener("htmx:load", function (event) { renderAll(event.detail.elt); });
  document.addEventListener("htmx:afterSwap", function (event) { renderAll(event.detail.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { renderAll(document); });
  } else {
    renderAll(document);
  }

  window.nl2sqlCharts = { render: renderAll };
})();
