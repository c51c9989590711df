// ECharts for dashboards. Mount: <div data-chart='{"series": …}' style="height: …"> — the attribute holds a
// JSON ECharts option produced server-side. echarts.min.js is loaded only on pages that have a chart.
import { loadScript } from "./load-script.js";

const ECHARTS_URL = new URL("../vendor/echarts.min.js", import.meta.url).href;
const FONT = '"PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
const PALETTE = ["#b71c1c", "#c8951a", "#37474f", "#2e7d32", "#1565c0", "#6a1b9a", "#ef6c00"];

function showMessage(el, text) {
  el.textContent = "";
  const p = document.createElement("p");
  p.className = "chart__message";
  p.textContent = text;
  el.appendChild(p);
}

/** Font sizes scale with the chart's width: small phones and projectors both stay readable. */
function baseFontSize(el) {
  const w = el.clientWidth || 360;
  return w < 420 ? 12 : w > 1200 ? 18 : 14;
}

function withDefaults(option, el) {
  const size = baseFontSize(el);
  return {
    color: PALETTE,
    textStyle: { fontFamily: FONT, fontSize: size },
    tooltip: { confine: true, textStyle: { fontSize: size } },
    grid: { containLabel: true, left: 8, right: 16, top: 48, bottom: 8 },
    animation: !window.matchMedia("(prefers-reduced-motion: reduce)").matches,
    ...option,
  };
}

async function mountCharts(nodes) {
  let echarts;
  try {
    echarts = await loadScript(ECHARTS_URL, "echarts");
  } catch (e) {
    nodes.forEach((el) => showMessage(el, "图表组件加载失败，请刷新页面重试。"));
    return;
  }
  const charts = [];
  for (const el of nodes) {
    let option;
    try {
      option = JSON.parse(el.getAttribute("data-chart") || "{}");
    } catch (e) {
      showMessage(el, "图表数据有误，无法显示。");
      continue;
    }
    if (!el.style.height && el.clientHeight < 50) el.style.height = "320px";
    const chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(withDefaults(option, el));
    charts.push([chart, el, option]);
  }
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      for (const [chart, el, option] of charts) {
        chart.setOption({ textStyle: withDefaults(option, el).textStyle });
        chart.resize();
      }
    });
  });
}

const nodes = [...document.querySelectorAll("[data-chart]")];
if (nodes.length) mountCharts(nodes);
