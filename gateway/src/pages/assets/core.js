// The buyer pages' shared part: the session, calls to the public buyer API (/api/v1, the same
// calls any client makes), what the browser keeps, words and numbers. buyer.js (event, queue,
// picker) and order.js (order, tickets) register their pages in BO.pages; the one named by
// the shell's data-page starts once the document is parsed. No build step, no library. Every
// URL is relative to the shell's data-base, so the pages work under any prefix.
(() => {
  'use strict';

  const body = document.body;
  const root = new URL(body.dataset.base || './', location.href);
  const api = (path) => new URL('api/v1/' + path, root).toString();
  const href = (path) => new URL(path, root).toString();
  const eventId = body.dataset.event;
  const orderId = body.dataset.order;
  const $ = (sel, from = document) => from.querySelector(sel);

  // el('p', {class: 'x'}, 'text', child): a DOM node; attributes starting "on" are listeners.
  function el(tag, attrs = {}, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else if (k === 'text') n.textContent = v;
      else n.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined) n.append(k);
    return n;
  }
  const show = (node, ...kids) => { node.replaceChildren(...kids.flat()); };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // --- Kept in the browser: the session, each event's queue ticket, admission and presale. --
  const keep = {
    get(k) { try { return JSON.parse(localStorage.getItem('boxoffice.' + k)); } catch { return null; } },
    set(k, v) { localStorage.setItem('boxoffice.' + k, JSON.stringify(v)); },
    drop(k) { localStorage.removeItem('boxoffice.' + k); },
  };

  let sessionPromise = null;
  // The buyer's session: one per browser (kept in localStorage), so a reload or a second tab
  // is the same buyer, and joining the queue again returns the same place.
  function session() {
    const s = keep.get('session');
    if (s && Date.parse(s.expires_at) > Date.now() + 60_000) return Promise.resolve(s.token);
    if (!sessionPromise) {
      sessionPromise = fetch(api('sessions'), { method: 'POST' }).then(async (r) => {
        sessionPromise = null;
        if (!r.ok) throw await failure(r);
        const b = await r.json();
        keep.set('session', b);
        return b.token;
      }, (e) => { sessionPromise = null; throw e; });
    }
    return sessionPromise;
  }

  async function failure(r) {
    let b = null;
    try { b = await r.json(); } catch { /* not JSON */ }
    const e = new Error((b && b.error && b.error.message) || r.statusText || 'request failed');
    e.status = r.status;
    e.code = b && b.error && b.error.code;
    e.retryAfter = Number(r.headers.get('Retry-After')) || 0;
    return e;
  }

  // A call to the buyer API; JSON in and out, the session's bearer token when `auth`.
  async function call(path, { method = 'GET', json, headers = {}, auth = true } = {}) {
    const h = { Accept: 'application/json', ...headers };
    if (auth) h.Authorization = 'Bearer ' + (await session());
    if (json !== undefined) h['Content-Type'] = 'application/json';
    const r = await fetch(api(path), {
      method, headers: h, body: json === undefined ? undefined : JSON.stringify(json),
    });
    if (r.status === 401 && auth) {
      // The session ended: a new one is a new buyer (the pages say so where it matters).
      keep.drop('session');
    }
    if (!r.ok) throw await failure(r);
    return r.status === 204 ? null : r.json();
  }

  // --- Words and numbers. --------------------------------------------------------------
  function money(cents, currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(cents / 100);
    } catch { return (cents / 100).toFixed(2) + ' ' + currency; }
  }
  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + String(s % 60).padStart(2, '0') + ' s';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }
  function roughly(seconds) {
    if (seconds < 60) return 'under a minute';
    const m = Math.round(seconds / 60);
    if (m < 60) return 'about ' + m + (m === 1 ? ' minute' : ' minutes');
    const h = Math.round(m / 6) / 10;
    return 'about ' + h + ' hours';
  }
  function localTimes() {
    for (const t of document.querySelectorAll('time[datetime]')) {
      const d = new Date(t.getAttribute('datetime'));
      if (!isNaN(d)) t.textContent = d.toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
    }
  }
  const seatName = (seat) => {
    const label = seat.split(':').slice(1).join(':');
    const m = /^([A-Za-z]+)-(\d+)$/.exec(label);
    // A standing section's units are numbered (`u12`) only to be told apart.
    if (/^u\d+$/.test(label)) return 'standing';
    return m ? 'Row ' + m[1] + ' seat ' + m[2] : label;
  };
  const sectionOf = (seat) => seat.split(':')[0];

  // A ticking countdown into `node`; returns a stop function.
  function countdown(node, until, words, done) {
    let stopped = false;
    const tick = () => {
      if (stopped) return;
      const left = until - Date.now();
      node.textContent = words(duration(left));
      if (left <= 0) { stopped = true; if (done) done(); return; }
      setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
    };
    tick();
    return () => { stopped = true; };
  }

  const pages = {};
  window.BO = { el, show, sleep, keep, session, failure, call, money, duration, roughly, localTimes, seatName, sectionOf, countdown, api, href, eventId, orderId, $, pages };
  document.addEventListener('DOMContentLoaded', () => {
    const start = pages[body.dataset.page];
    if (start) start().catch((e) => {
      $('#main').append(el('p', { class: 'notice bad', role: 'alert' }, 'Something went wrong: ' + e.message + '. Reload to try again.'));
    });
  });
})();
