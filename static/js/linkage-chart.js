// Linkage overview: draws the seven-day chart from the JSON embedded in the page. Without
// JavaScript (or without ECharts) the table below the chart shows the same figures.
(function () {
  "use strict";
  var holder = document.getElementById("transfer-chart");
  var source = document.getElementById("transfer-chart-data");
  if (!holder || !source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  holder.style.height = "300px";
  var chart = window.echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    color: ["#b3261e", "#0b5cad"],
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 40, right: 16, top: 36, bottom: 28 },
    xAxis: { type: "category", data: data.days },
    yAxis: { type: "value", minInterval: 1 },
    series: data.series.map(function (s) {
      return { name: s.name, type: "bar", data: s.data, barMaxWidth: 28 };
    })
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
