/* Hài Lòng — the trend chart of an officer's page.
   The figures come from the page itself (<script type="application/json"
   id="trend-data">), drawn with the vendored Chart.js. Without JavaScript the
   chart stays hidden and the table below it carries the same figures. */
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("trend-data");
    var canvas = document.getElementById("trend-chart");
    if (!source || !canvas || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var words = data.words;
    var figure = canvas.closest("figure");
    if (figure) {
      figure.hidden = false;
    }
    function percent(value) {
      return value === null ? "—" : String(value).replace(".", data.decimal) + "%";
    }
    var narrow = window.matchMedia("(max-width: 720px)").matches;
    new window.Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          {
            type: "line", label: words.rate, data: data.rate, yAxisID: "rate", order: 1,
            borderColor: "#0b5c8a", backgroundColor: "#0b5c8a", borderWidth: 3, pointRadius: 3, spanGaps: false
          },
          {
            type: "line", label: words.band, data: data.high, yAxisID: "rate", order: 2,
            borderColor: "rgba(11, 92, 138, 0.35)", backgroundColor: "rgba(11, 92, 138, 0.12)",
            borderDash: [4, 4], borderWidth: 1, pointRadius: 0, fill: "+1", spanGaps: false
          },
          {
            type: "line", label: words.low, data: data.low, yAxisID: "rate", order: 3,
            borderColor: "rgba(11, 92, 138, 0.35)", borderDash: [4, 4], borderWidth: 1, pointRadius: 0,
            spanGaps: false
          },
          {
            type: "bar", label: words.n, data: data.n, yAxisID: "count", order: 4,
            backgroundColor: "rgba(90, 100, 112, 0.28)", borderColor: "rgba(90, 100, 112, 0.5)", borderWidth: 1
          }
        ]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        font: { family: '"Noto Sans", "DejaVu Sans", Arial, sans-serif' },
        plugins: {
          // The band is one legend entry (its upper edge); the lower edge needs none.
          legend: {
            position: "bottom",
            labels: {
              boxWidth: 18, font: { size: narrow ? 11 : 13 },
              filter: function (item) { return item.datasetIndex !== 2; }
            }
          },
          tooltip: {
            callbacks: {
              label: function (item) {
                if (item.dataset.yAxisID === "count") {
                  return item.dataset.label + ": " + item.raw;
                }
                var name = item.datasetIndex === 1 ? words.high : item.dataset.label;
                return name + ": " + percent(item.raw);
              }
            }
          }
        },
        scales: {
          x: { ticks: { maxRotation: 60, autoSkip: true, font: { size: narrow ? 10 : 12 } } },
          rate: {
            type: "linear", position: "left", min: 0, max: 100,
            title: { display: !narrow, text: words.percent_axis },
            ticks: { callback: function (value) { return value + "%"; }, font: { size: narrow ? 10 : 12 } }
          },
          count: {
            type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
            title: { display: !narrow, text: words.count_axis },
            ticks: { precision: 0, font: { size: narrow ? 10 : 12 } }
          }
        }
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
