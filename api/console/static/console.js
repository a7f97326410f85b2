// CardPulse console: draws the charts a page declares (data-echarts: an ECharts option built by
// the server; data-uplot: {labels, x, series} for long time series), again after every htmx
// swap, and shows htmx errors in the page's alert region. No inline scripts (see the CSP).
(function () {
  "use strict";
  function drawEcharts(root) {
    root.querySelectorAll("[data-echarts]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      el.dataset.drawn = "1";
      var lang = document.body.dataset.lang === "en" ? "EN" : "ZH";
      var chart = echarts.init(el, null, { locale: lang, renderer: "canvas" });
      chart.setOption(JSON.parse(el.dataset.echarts));
      new ResizeObserver(function () { chart.resize(); }).observe(el);
    });
  }
  function drawUplot(root) {
    root.querySelectorAll("[data-uplot]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      el.dataset.drawn = "1";
      var spec = JSON.parse(el.dataset.uplot);
      var colours = ["#0550ae", "#b42318", "#1a7f37", "#9a6700"];
      var series = [{}].concat(spec.labels.map(function (label, i) {
        return { label: label, stroke: colours[i % colours.length], width: 1.5 };
      }));
      var opts = { width: el.clientWidth || 600, height: el.clientHeight || 240, series: series,
                   axes: [{}, { values: function (u, vals) { return vals.map(spec.unit ?
                     function (v) { return v + " " + spec.unit; } : String); } }] };
      var plot = new uPlot(opts, [spec.x].concat(spec.series), el);
      new ResizeObserver(function () {
        plot.setSize({ width: el.clientWidth, height: el.clientHeight || 240 });
      }).observe(el);
    });
  }
  function draw(root) { drawEcharts(root); drawUplot(root); }
  document.addEventListener("DOMContentLoaded", function () {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true }
    ];
    draw(document);
  });
  document.addEventListener("htmx:afterSettle", function (e) { draw(e.target); });
  document.addEventListener("htmx:responseError", function (e) {
    var toast = document.getElementById("toast");
    var text = new DOMParser().parseFromString(e.detail.xhr.responseText, "text/html");
    var message = text.querySelector("[role=alert]");
    toast.textContent = message ? message.textContent.trim() : e.detail.xhr.status + " " + e.detail.xhr.statusText;
    setTimeout(function () { toast.textContent = ""; }, 8000);
  });
})();
