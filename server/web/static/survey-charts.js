/* Hài Lòng — the charts of the survey results and comparison pages, drawn
   with the vendored Chart.js from figures the page carries
   (<script type="application/json">). Without JavaScript the charts stay
   hidden and the tables beside them carry the same figures. */
(function () {
  "use strict";

  var BLUE = "#0b5c8a";
  var GREY = "rgba(90, 100, 112, 0.35)";
  var GREEN = "#2e7d32";

  function read(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function show(canvas) {
    var figure = canvas.closest("figure");
    if (figure) {
      figure.hidden = false;
    }
  }

  function narrow() {
    return window.matchMedia("(max-width: 720px)").matches;
  }

  function percentAxis(title) {
    return {
      min: 0, max: 100,
      title: { display: !!title && !narrow(), text: title || "" },
      ticks: { callback: function (value) { return value + "%"; } }
    };
  }

  function questionCharts(data) {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    Array.prototype.forEach.call(canvases, function (canvas) {
      var figures = data.questions[canvas.getAttribute("data-chart")];
      if (!figures) {
        return;
      }
      show(canvas);
      var section = canvas.closest("section");
      if (section) {
        section.classList.add("charted");
      }
      new window.Chart(canvas, {
        type: "bar",
        data: {
          labels: figures.labels,
          datasets: [{ label: data.words.share, data: figures.shares, backgroundColor: BLUE, borderRadius: 3 }]
        },
        options: {
          indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
          plugins: {
            legend: { display: false },
            tooltip: { callbacks: { label: function (item) { return item.raw === null ? "—" : item.raw + "%"; } } }
          },
          scales: { x: percentAxis(""), y: { ticks: { autoSkip: false, font: { size: narrow() ? 10 : 12 } } } }
        }
      });
    });
  }

  function timelineChart(data) {
    var canvas = document.getElementById("timeline-chart");
    var timeline = data.timeline;
    if (!canvas || !timeline || !timeline.labels.length) {
      return;
    }
    show(canvas);
    var palette = [BLUE, GREEN, "#b45309", "#7c3aed", "#be123c", "#0f766e"];
    var datasets = timeline.series.map(function (series, index) {
      var colour = palette[index % palette.length];
      return {
        type: "line", label: series.label, data: series.values, yAxisID: "rate", borderColor: colour,
        backgroundColor: colour, borderWidth: 2, pointRadius: 3, spanGaps: false, order: 1
      };
    });
    datasets.push({
      type: "bar", label: timeline.words.respondents, data: timeline.respondents, yAxisID: "count",
      backgroundColor: GREY, order: 2
    });
    new window.Chart(canvas, {
      data: { labels: timeline.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 14 } } },
        scales: {
          rate: Object.assign({ type: "linear", position: "left" }, percentAxis(timeline.words.percent)),
          count: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                   ticks: { precision: 0 } }
        }
      }
    });
  }

  function compareChart(data) {
    var canvas = document.getElementById("compare-chart");
    if (!canvas || !data.labels.length) {
      return;
    }
    show(canvas);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.words.before, data: data.before, backgroundColor: GREY },
          { label: data.words.after, data: data.after, backgroundColor: BLUE }
        ]
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              title: function (items) { return data.titles[items[0].dataIndex]; },
              label: function (item) { return item.dataset.label + ": " + (item.raw === null ? "—" : item.raw + "%"); }
            }
          }
        },
        scales: { y: percentAxis(data.words.percent) }
      }
    });
  }

  function draw() {
    if (typeof window.Chart === "undefined") {
      return;
    }
    var results = read("survey-chart-data");
    if (results) {
      questionCharts(results);
      timelineChart(results);
    }
    var compared = read("compare-chart-data");
    if (compared) {
      compareChart(compared);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
}());
