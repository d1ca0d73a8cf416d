// Work-order pages: open an order, then assign / start / done / close it, all through
// /api/workorders with the session's CSRF token (api() and describe() come from app.js).
"use strict";

function startOrderForm() {
  const form = document.getElementById("order-form");
  form?.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const room = f.room.value.trim();
    const body = {
      room: room ? `${f.building.value}/${room}` : f.building.value,
      category: f.category.value,
      description: f.description.value.trim(),
      device: f.device.value.trim() || null,
      alarm_key: f.alarm_key.value || null,
    };
    const out = form.querySelector(".outcome");
    const reply = await api("POST", "/api/workorders", body);
    if (reply.ok) { location.assign(`/workorders/${reply.data.id}`); return; }
    showFieldErrors(form, reply.data.errors || []);
    showOutcome(out, false, describe(reply.data));
  });
}

function startOrderActions() {
  const order = document.getElementById("order")?.dataset.order;
  const out = document.getElementById("action-outcome");
  document.querySelectorAll("form.wo-action").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const action = form.dataset.action;
      const f = form.elements;
      let body = {};
      if (action === "assign") body = { assignee: f.assignee.value.trim() };
      if (action === "done" || action === "close") body = { note: f.note.value.trim() };
      if ((action === "assign" && !body.assignee) || (action === "close" && !body.note)) {
        showOutcome(out, false, WORDS.required);
        return;
      }
      const reply = await api("POST", `/api/workorders/${order}/${action}`, body);
      if (reply.ok) location.reload(); else showOutcome(out, false, describe(reply.data));
    });
  });
}

function startPhotoUpload() {
  const form = document.getElementById("photo-form");
  form?.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = form.elements.photo.files[0];
    const out = form.querySelector(".outcome");
    if (!file) { showOutcome(out, false, WORDS.required); return; }
    // the photo is the body: the server reads its type from the bytes and stops at the limit
    const reply = await fetch(`/api/workorders/${form.dataset.order}/photos`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": CSRF, "Content-Type": file.type || "application/octet-stream" },
      body: file,
    });
    if (reply.ok) { location.reload(); return; }
    showOutcome(out, false, describe(await reply.json().catch(() => ({}))));
  });
}

window.addEventListener("DOMContentLoaded", () => {
  startOrderForm();
  startOrderActions();
  startPhotoUpload();
});
