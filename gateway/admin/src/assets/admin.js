// Boxoffice admin: forms and buttons talk to the admin API as JSON (with the session's CSRF
// token); the event page's live dashboard follows its server-sent events. No framework.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

function showError(scope, message) {
  const box = scope.querySelector(".form-error") || document.querySelector(".page-error");
  if (box) { box.textContent = message; box.classList.add("shown"); }
  else alert(message);
}

async function call(method, url, body) {
  const init = { method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const r = await fetch(url, init);
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
  if (!r.ok) throw new Error(json?.error?.message || `${r.status} ${r.statusText}`);
  return json;
}

function formBody(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "submit") continue;
    const v = el.value.trim();
    if (v === "") { if (el.dataset.null) body[el.name] = null; continue; }
    if (el.dataset.type === "number") body[el.name] = Number(v);
    else if (el.dataset.type === "datetime") body[el.name] = new Date(v).toISOString();
    else body[el.name] = v;
  }
  return body;
}

document.addEventListener("submit", async (e) => {
  const form = e.target.closest("form[data-api]");
  if (!form) return;
  e.preventDefault();
  if (form.dataset.confirm && !confirm(form.dataset.confirm)) return;
  const button = form.querySelector('[type="submit"]');
  if (button) button.disabled = true;
  form.querySelector(".form-error")?.classList.remove("shown");
  try {
    const res = await call(form.dataset.method || "POST", form.dataset.api, formBody(form));
    if (form.dataset.next) location.href = form.dataset.next.replace("{id}", res?.id ?? "");
    else location.reload();
  } catch (err) {
    showError(form, err.message);
    if (button) button.disabled = false;
  }
});

document.addEventListener("click", async (e) => {
  const toggle = e.target.closest("[data-toggle]");
  if (toggle) { const t = document.getElementById(toggle.dataset.toggle); if (t) t.hidden = !t.hidden; return; }
  const b = e.target.closest("button[data-api]");
  if (!b) return;
  if (b.dataset.confirm && !confirm(b.dataset.confirm)) return;
  b.disabled = true;
  try { await call(b.dataset.method || "POST", b.dataset.api); setTimeout(() => location.reload(), 600); }
  catch (err) { showError(document, err.message); b.disabled = false; }
});

// ---- live dashboard ----
function money(cents, currency) { return (cents / 100).toLocaleString(undefined, { minimumFractionDigits: 2 }) + " " + currency; }

function paintSeats(seats) {
  for (const [id, state] of Object.entries(seats)) {
    const el = document.querySelector(`.seat[data-seat="${CSS.escape(id)}"]`);
    if (el) el.className = "seat " + state;
  }
}

function paintStats(live, s) {
  const set = (k, v) => { const el = live.querySelector(`[data-stat="${k}"]`); if (el) el.textContent = v; };
  const t = s.total || { available: 0, held: 0, sold: 0 };
  set("status", s.status.replace("_", " "));
  set("phase", s.phase ? s.phase.replace("_", " ") : "—");
  set("at", new Date(s.at).toLocaleTimeString());
  set("available", t.available); set("held", t.held); set("sold", t.sold);
  set("revenue", money(s.revenue_cents, live.dataset.currency));
  set("checked_in", s.checked_in_total);
  set("queue", s.queue_waiting);
  set("rate", s.admission_rate_per_s.toFixed(1)); set("reason", s.admission_reason || "");
  const rows = (list) => list.map((cells) => "<tr>" + cells.map((c, i) => `<td${i ? ' class="num"' : ""}>${c}</td>`).join("") + "</tr>").join("");
  live.querySelector('[data-stat="sections"]').innerHTML = rows(s.sections.map((x) => [x.code, x.available, x.held, x.sold, s.checked_in[x.code] || 0]));
  live.querySelector('[data-stat="orders"]').innerHTML = rows(Object.entries(s.orders).map(([k, v]) => [k.replace("_", " "), v]));
  for (const x of s.sections) {
    const ga = live.querySelector(`[data-ga="${CSS.escape(x.code)}"]`);
    if (!ga) continue;
    const n = x.available + x.held + x.sold || 1;
    ga.querySelector(".sold").style.width = (100 * x.sold / n) + "%";
    ga.querySelector(".held").style.width = (100 * x.held / n) + "%";
    live.querySelector(`[data-ga-text="${CSS.escape(x.code)}"]`).textContent = `${x.sold} sold · ${x.held} held · ${x.available} available`;
  }
  // Cumulative tickets over the last 30 minutes, in 10-second buckets.
  const svg = live.querySelector('[data-stat="chart"]');
  const end = s.at, start = end - 30 * 60 * 1000;
  let acc = 0; const pts = [[0, 100]];
  const total = s.sales.reduce((a, [, n]) => a + n, 0) || 1;
  for (const [b, n] of s.sales) { acc += n; pts.push([300 * (b - start) / (end - start), 100 - 92 * acc / total]); }
  pts.push([300, 100 - 92 * acc / total]);
  const line = pts.map((p) => p.join(",")).join(" ");
  svg.innerHTML = `<polygon points="${line} 300,100"></polygon><polyline points="${line}"></polyline>`;
}

function follow(live) {
  const source = new EventSource(`/admin/api/v1/events/${live.dataset.event}/live`);
  source.addEventListener("snapshot", (e) => {
    const { seats } = JSON.parse(e.data);
    for (const el of live.querySelectorAll(".seat[data-seat]")) if (!(el.dataset.seat in seats)) el.className = "seat off";
    paintSeats(seats);
  });
  source.addEventListener("seats", (e) => paintSeats(JSON.parse(e.data).seats));
  source.addEventListener("stats", (e) => paintStats(live, JSON.parse(e.data)));
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live) follow(live);
});
