// sanjie web app: live values (server-sent events), charts (ECharts), commands.
// Plain script, no build step: everything it needs is served by the controller.
"use strict";

const LANG = document.querySelector('meta[name="lang"]')?.content || "zh";
const CSRF = document.querySelector('meta[name="csrf"]')?.content || "";
const WORDS = JSON.parse(document.getElementById("words")?.textContent || "{}");

function fmtTime(ts) {
  const d = new Date(ts * 1000);
  return d.toLocaleString(LANG === "zh" ? "zh-CN" : "en-GB", { hour12: false });
}

function fmtValue(v, unit) {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") {
    const digits = Math.abs(v) >= 100 ? 1 : 2;
    return `${v.toFixed(digits)}${unit ? " " + unit : ""}`;
  }
  if (typeof v === "boolean") return v ? (LANG === "zh" ? "开" : "on") : (LANG === "zh" ? "关" : "off");
  return (WORDS.states && WORDS.states[v]) || String(v);
}

document.querySelectorAll(".ts[data-ts]").forEach((el) => {
  el.textContent = fmtTime(Number(el.dataset.ts));
});

// -- live values --------------------------------------------------------------------------
function startLive() {
  const cells = Array.from(document.querySelectorAll(".live[data-entity]"));
  if (!cells.length || !window.EventSource) return;
  const byEntity = new Map();
  cells.forEach((c) => {
    const list = byEntity.get(c.dataset.entity) || [];
    list.push(c);
    byEntity.set(c.dataset.entity, list);
  });
  const ids = Array.from(byEntity.keys()).join(",");
  const source = new EventSource(`/web/live?entities=${encodeURIComponent(ids)}`);
  source.addEventListener("values", (ev) => {
    const batch = JSON.parse(ev.data);
    for (const [id, s] of Object.entries(batch)) {
      for (const cell of byEntity.get(id) || []) {
        const text = s.a ? fmtValue(s.v, cell.dataset.unit) : null;
        cell.textContent = text === null ? (s.a ? "—" : (WORDS.unavailable || "—")) : text;
        cell.classList.toggle("stale", !s.a);
        if (s.t) cell.title = fmtTime(s.t);
        cell.classList.remove("flash");
        void cell.offsetWidth;  // restart the animation
        cell.classList.add("flash");
        cell.dataset.updates = String(Number(cell.dataset.updates || 0) + 1);
      }
    }
  });
  document.body.dataset.live = "connecting";
  source.onopen = () => { document.body.dataset.live = "open"; };
  source.onerror = () => { document.body.dataset.live = "retrying"; };
}

// -- charts -------------------------------------------------------------------------------
const NAMES = {
  electricity: { zh: "电 (kWh)", en: "Electricity (kWh)" },
  cold_water: { zh: "冷水 (m³)", en: "Cold water (m³)" },
  hot_water: { zh: "热水 (m³)", en: "Hot water (m³)" },
};
const COLORS = { electricity: "#d4731c", cold_water: "#2f7fc1", hot_water: "#c0392b" };

async function drawChart(el) {
  if (!window.echarts) return;
  const q = new URLSearchParams({ building: el.dataset.building, hours: el.dataset.hours });
  if (el.dataset.room) q.set("room", el.dataset.room);
  const reply = await fetch(`/web/series?${q}`, { credentials: "same-origin" });
  if (!reply.ok) return;
  const data = await reply.json();
  const chart = window.echarts.init(el, null, { renderer: "svg" });
  const series = Object.entries(data.series).map(([utility, points], i) => ({
    name: NAMES[utility]?.[LANG] || utility,
    type: "bar",
    yAxisIndex: utility === "electricity" ? 0 : 1,
    itemStyle: { color: COLORS[utility] },
    data: points.map(([when, value]) => [when, value]),
  }));
  chart.setOption({
    animation: false,
    grid: { left: 48, right: 48, top: 32, bottom: 28 },
    legend: { top: 0 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "time" },
    yAxis: [{ type: "value", name: "kWh" }, { type: "value", name: "m³" }],
    series,
  });
  el.dataset.drawn = String(series.length);
  window.addEventListener("resize", () => chart.resize());
}

// -- commands -----------------------------------------------------------------------------
function parseValue(text) {
  const v = text.trim();
  if (v === "true" || v === "false") return v === "true";
  if (v !== "" && !Number.isNaN(Number(v))) return Number(v);
  return v;
}

function startCommands() {
  const dialog = document.getElementById("command");
  if (!dialog) return;
  const form = document.getElementById("command-form");
  const outcome = form.querySelector(".outcome");
  let entity = null;
  document.querySelectorAll("button.cmd").forEach((b) => b.addEventListener("click", () => {
    entity = b.dataset.entity;
    form.querySelector(".entity-name").textContent = entity;
    outcome.textContent = "";
    outcome.className = "outcome";
    dialog.showModal();
  }));
  form.addEventListener("submit", async (ev) => {
    if (ev.submitter?.value !== "send") return;
    ev.preventDefault();
    const body = {
      entity_id: entity,
      value: parseValue(form.elements.value.value),
      reason: form.elements.reason.value,
    };
    outcome.textContent = "…";
    const reply = await fetch("/api/commands", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
      body: JSON.stringify(body),
    });
    const data = await reply.json().catch(() => ({}));
    if (reply.ok) {
      outcome.textContent = `${WORDS.ok}: ${fmtValue(data.confirmed_value, "") ?? data.confirmed_value}`;
      outcome.className = "outcome ok";
    } else {
      const kind = reply.status === 502 ? WORDS.failed : WORDS.refused;
      outcome.textContent = `${kind}: ${describe(data)}`;
      outcome.className = "outcome bad";
    }
  });
}

function describe(data) {
  const d = data?.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  return JSON.stringify(data);
}

window.addEventListener("DOMContentLoaded", () => {
  startLive();
  startCommands();
  document.querySelectorAll(".chart").forEach((el) => { drawChart(el); });
});
