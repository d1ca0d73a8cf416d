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
  const narrow = el.clientWidth < 480;
  chart.setOption({
    animation: false,
    grid: { left: 44, right: 44, top: 56, bottom: 28 },
    legend: { top: 0, type: "scroll" },
    tooltip: { trigger: "axis" },
    xAxis: { type: "time", splitNumber: narrow ? 3 : 6, axisLabel: { hideOverlap: true } },
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

// -- staff actions: one JSON helper, one reason dialog -----------------------------------
async function api(method, url, body) {
  const init = { method, credentials: "same-origin", headers: { "X-CSRF-Token": CSRF } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const reply = await fetch(url, init);
  const data = await reply.json().catch(() => ({}));
  return { ok: reply.ok, status: reply.status, data };
}

function askReason(title) {
  const dialog = document.getElementById("reason-dialog");
  const form = document.getElementById("reason-form");
  form.querySelector(".title").textContent = title;
  form.elements.reason.value = "";
  form.querySelector(".outcome").textContent = "";
  dialog.showModal();
  return new Promise((resolve) => {
    const done = (ev) => {
      if (ev.submitter?.value === "ok" && !form.elements.reason.value.trim()) {
        ev.preventDefault();
        form.querySelector(".outcome").textContent = WORDS.required;
        return;
      }
      form.removeEventListener("submit", done);
      resolve(ev.submitter?.value === "ok" ? form.elements.reason.value.trim() : null);
    };
    form.addEventListener("submit", done);
  });
}

function showOutcome(el, ok, text) {
  el.textContent = text;
  el.className = `outcome ${ok ? "ok" : "bad"}`;
}

function onClick(selector, handler) {
  document.querySelectorAll(selector).forEach((b) => b.addEventListener("click", () => handler(b)));
}

function startStaffActions() {
  onClick("button.toggle-policy", async (b) => {
    const enable = b.dataset.enable === "true";
    const reason = await askReason(`${enable ? WORDS.enable : WORDS.disable} ${b.dataset.id}`);
    if (reason === null) return;
    const reply = await api("POST", `/api/policies/${encodeURIComponent(b.dataset.id)}/${enable ? "enable" : "disable"}`, { reason });
    if (reply.ok) location.reload(); else alert(describe(reply.data));
  });
  onClick("button.end-override", async (b) => {
    const reason = await askReason(WORDS.end);
    if (reason === null) return;
    const reply = await api("DELETE", `/api/overrides/${encodeURIComponent(b.dataset.id)}`, { reason });
    if (reply.ok) location.reload(); else alert(describe(reply.data));
  });
  onClick("button.ack-alarm", async (b) => {
    const reply = await api("POST", `/api/alarms/${encodeURIComponent(b.dataset.key)}/ack`);
    if (reply.ok) location.reload(); else alert(describe(reply.data));
  });
  onClick("button.user-action", async (b) => {
    const reply = await api("POST", `/web/users/${encodeURIComponent(b.dataset.name)}/${b.dataset.action}`);
    if (!reply.ok) { alert(describe(reply.data)); return; }
    if (reply.data.password) alert(`${b.dataset.name}: ${reply.data.password}\n${WORDS.password_once}`);
    else location.reload();
  });
  const grant = document.getElementById("grant-form");
  grant?.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = grant.elements;
    const room = f.room.value.trim();
    const body = {
      scope: room ? { rooms: [`${f.building.value}/${room}`] } : { buildings: [f.building.value] },
      policy_id: f.policy_id.value || null,
      reason: f.reason.value.trim(),
      duration_s: Number(f.hours.value) * 3600,
    };
    const reply = await api("POST", "/api/overrides", body);
    if (reply.ok) { showOutcome(grant.querySelector(".outcome"), true, WORDS.granted); location.reload(); }
    else showOutcome(grant.querySelector(".outcome"), false, describe(reply.data));
  });
  const users = document.getElementById("user-form");
  users?.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = users.elements;
    const list = f.buildings.value.split(/[,，\s]+/).filter(Boolean);
    const body = { name: f.name.value.trim(), display_name: f.display_name.value.trim(), role: f.role.value, buildings: list.length ? list : null };
    const reply = await api("POST", "/web/users", body);
    const out = users.querySelector(".outcome");
    if (reply.ok) showOutcome(out, true, `${reply.data.name}: ${reply.data.password} — ${WORDS.password_once}`);
    else showOutcome(out, false, describe(reply.data));
  });
}

// -- the policy form: the same validation as the site file, shown next to each field ------
function policyConfig(form) {
  const config = { id: form.elements.id.value.trim(), type: form.dataset.type, enabled: form.dataset.enabled === "true" };
  const bad = {};
  form.querySelectorAll("[data-kind]").forEach((el) => {
    const kind = el.dataset.kind;
    if (kind === "bool") config[el.name] = el.checked;
    else if (kind === "number") {
      const v = el.value.trim();
      config[el.name] = v !== "" && !Number.isNaN(Number(v)) ? Number(v) : v;
    } else if (kind === "json") {
      try { config[el.name] = JSON.parse(el.value); } catch (e) { bad[el.name] = e.message; }
    } else config[el.name] = el.value;
  });
  return { config, bad };
}

function showFieldErrors(form, errors) {
  form.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
  form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  const general = [];
  for (const { loc, msg } of errors) {
    const parts = (loc || []).map(String);
    const key = parts.find((p) => form.querySelector(`.field-error[data-for="${CSS.escape(p)}"]`));
    if (key === undefined) { general.push(`${parts.filter((p) => p !== "body").join(".")}: ${msg}`); continue; }
    const slot = form.querySelector(`.field-error[data-for="${CSS.escape(key)}"]`);
    slot.textContent = slot.textContent ? `${slot.textContent}; ${msg}` : msg;
    form.elements[key]?.classList.add("invalid");
  }
  form.querySelector(".form-error").textContent = general.join("; ");
}

function reportText(r) {
  const lines = [LANG === "zh" ? r.summary_zh : r.summary_en];
  for (const c of (r.commands || []).slice(0, 8)) lines.push(`→ ${c.entity_id} := ${JSON.stringify(c.value)}`);
  for (const a of (r.alarms || []).slice(0, 5)) lines.push(`⚠ ${LANG === "zh" ? a.message_zh : a.message_en}`);
  return lines.filter(Boolean).join("\n");
}

function startPolicyForm() {
  const form = document.getElementById("policy-form");
  if (!form) return;
  const result = document.getElementById("preview-result");
  const clientErrors = (bad) => Object.entries(bad).map(([k, m]) => ({ loc: [k], msg: m }));
  async function preview(period) {
    const { config, bad } = policyConfig(form);
    if (Object.keys(bad).length) { showFieldErrors(form, clientErrors(bad)); return; }
    const body = { config };
    if (period) { body.start = form.elements.start.value || null; body.end = form.elements.end.value || null; }
    result.textContent = "…";
    const reply = await api("POST", "/web/policies/preview", body);
    showFieldErrors(form, reply.ok ? [] : reply.data.errors || []);
    result.className = `preview-result ${reply.ok ? "ok" : "bad"}`;
    result.textContent = reply.ok ? reportText(reply.data) : `${WORDS.preview_invalid}: ${describe(reply.data)}`;
  }
  document.getElementById("preview-now").addEventListener("click", () => preview(false));
  document.getElementById("preview-period").addEventListener("click", () => preview(true));
  document.getElementById("policy-save")?.addEventListener("click", async () => {
    const { config, bad } = policyConfig(form);
    const out = document.getElementById("save-result");
    if (Object.keys(bad).length) { showFieldErrors(form, clientErrors(bad)); showOutcome(out, false, WORDS.fix_fields); return; }
    const id = config.id;
    const taken = JSON.parse(form.dataset.taken || "[]");
    if (!form.elements.id.readOnly && (!id || taken.includes(id))) {
      showFieldErrors(form, [{ loc: ["id"], msg: id ? WORDS.id_taken : WORDS.required }]);
      showOutcome(out, false, WORDS.fix_fields);
      return;
    }
    delete config.id;
    const reply = await api("PUT", `/api/policies/${encodeURIComponent(id)}`, { config, reason: form.elements.reason.value.trim() });
    showFieldErrors(form, reply.ok ? [] : (reply.data.errors || []).map((e) => ({ ...e, loc: (e.loc || []).filter((p) => p !== "config") })));
    showOutcome(out, reply.ok, reply.ok ? WORDS.saved : describe(reply.data));
    if (reply.ok && form.elements.id.readOnly === false) location.assign(`/policies/${encodeURIComponent(id)}`);
  });
}

window.addEventListener("DOMContentLoaded", () => {
  startLive();
  startCommands();
  startStaffActions();
  startPolicyForm();
  document.querySelectorAll(".chart").forEach((el) => { drawChart(el); });
});
