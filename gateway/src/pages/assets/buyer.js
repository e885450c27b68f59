// The buyer pages' one script: it fills the server-rendered shells from the public buyer API
// (/api/v1, the same calls any client makes) and keeps them current. No build step, no
// library. Every URL is relative to the shell's data-base, so the pages work under any prefix.
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

  // --- The events list. ----------------------------------------------------------------
  async function home() {
    const list = $('#events');
    try {
      const events = await call('events', { auth: false });
      if (!events.length) { show(list, el('li', { text: 'No event is on sale right now.' })); return; }
      show(list, events.map((e) => el('li', {},
        el('a', { href: href('events/' + e.event_id) }, e.name),
        el('span', { class: 'muted' }, e.venue + ' · ', el('time', { datetime: e.starts_at }, e.starts_at)))));
      localTimes();
    } catch (e) {
      show(list, el('li', { text: 'The events could not be loaded (' + e.message + '). Reload to try again.' }));
    }
  }

  // --- The event page: sections, prices, live availability, the opening, presale codes. ----
  async function eventPage() {
    localTimes();
    let stopOpening = null;
    const render = (ev) => {
      show($('#sections'), ev.sections.map((s) => {
        const left = s.availability ? s.availability.available : null;
        return el('li', {},
          el('span', {}, el('strong', {}, s.name), ' ', el('span', { class: 'muted' }, s.kind === 'seated' ? 'seated' : 'standing')),
          el('span', {},
            el('span', { class: 'price' }, money(s.price_cents, s.currency)), ' · ',
            left === null ? el('span', { class: 'muted' }, 'availability loading')
              : el('span', { class: 'left' + (left === 0 ? ' none' : '') }, left === 0 ? 'sold out' : left + ' left')));
      }));
      const opens = ev.opens_at ? Date.parse(ev.opens_at) : null;
      const join = $('#join');
      if (ev.queue.phase === 'sold_out' || (ev.availability && ev.availability.available === 0 && ev.availability.held === 0)) {
        $('#opening').textContent = 'Sold out. Every ticket has been sold.';
        join.hidden = true;
      } else if (ev.queue.phase === 'closed' || ev.status === 'closed' || ev.status === 'completed') {
        $('#opening').textContent = 'The sale has ended.';
        join.hidden = true;
      } else if (opens && opens > Date.now()) {
        if (!stopOpening) {
          stopOpening = countdown($('#opening'), opens, (d) => 'The sale opens in ' + d + '. Join the queue now; places are drawn at random at the opening.', () => { stopOpening = null; });
        }
      } else {
        if (stopOpening) { stopOpening(); stopOpening = null; }
        $('#opening').textContent = ev.queue.waiting > 0 ? 'On sale now. ' + ev.queue.waiting + ' people are in the queue.' : 'On sale now.';
      }
    };
    const refresh = async () => {
      try { render(await call('events/' + eventId, { auth: false })); } catch { /* keep the last view */ }
      setTimeout(refresh, document.hidden ? 20_000 : 5_000);
    };
    refresh();
    presaleForm();
  }

  function presaleKey() { return 'presale.' + eventId; }
  function currentPresale() {
    const p = keep.get(presaleKey());
    if (p && Date.parse(p.expires_at) > Date.now()) return p;
    if (p) keep.drop(presaleKey());
    return null;
  }
  function presaleWords(p) {
    const b = p.block;
    const what = b.kind === 'seated' ? (b.seats || []).length + ' seats' : b.quantity + ' places';
    return 'Presale unlocked: section ' + b.section + ', ' + what + ' (up to ' + b.max_per_buyer + ' per buyer). Join the queue to buy from it.';
  }
  function presaleForm() {
    const status = $('#presale-status');
    const p = currentPresale();
    if (p) status.textContent = presaleWords(p);
    $('#presale-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const code = $('#presale-code').value.trim();
      if (!code) { status.textContent = 'Type the code you were sent.'; return; }
      status.textContent = 'Checking the code…';
      try {
        const got = await call('events/' + eventId + '/presale', { method: 'POST', json: { code } });
        keep.set(presaleKey(), got);
        status.textContent = presaleWords(got);
      } catch (e) {
        if (e.status === 422) status.textContent = 'That code does not unlock anything for this event. Check it and try again.';
        else if (e.status === 429) status.textContent = 'Too many tries. Wait ' + (e.retryAfter || 60) + ' seconds, then try again.';
        else if (e.status === 404 || e.status === 405) status.textContent = 'This event has no presale.';
        else status.textContent = 'The code could not be checked (' + e.message + '). Try again in a moment.';
      }
    });
  }

  // --- The waiting room. -----------------------------------------------------------------
  const ODDS = {
    likely: 'Your chances look good: enough seats are left even if everyone ahead of you buys the most they may.',
    unlikely: 'It may sell out before your turn: the people ahead of you could buy every seat left. You can still wait and see.',
    sold_out: 'Sold out: no seat is left.',
  };
  async function queuePage() {
    localTimes();
    const state = $('#queue-state');
    const actions = $('#queue-actions');
    let ticket = null;
    let first = null;
    const join = async () => {
      const s = await call('events/' + eventId + '/queue', { method: 'POST' });
      ticket = s.queue_ticket;
      keep.set('queue.' + eventId, { queue_ticket: ticket });
      return s;
    };
    const render = (s) => {
      $('#position').textContent = s.position ?? '—';
      $('#ahead').textContent = s.ahead ?? '—';
      $('#wait').textContent = s.estimated_wait_s == null ? '—' : roughly(s.estimated_wait_s);
      const odds = $('#odds');
      odds.className = 'odds' + (s.odds ? ' odds-' + s.odds : '');
      odds.textContent = s.odds ? ODDS[s.odds] + (s.seats_left != null && s.odds !== 'sold_out' ? ' (' + s.seats_left + ' seats left.)' : '') : '';
      if (s.position != null && s.ahead != null) {
        if (first === null) first = Math.max(s.ahead, 1);
        $('#bar').style.width = Math.max(5, Math.round(100 * (1 - s.ahead / first))) + '%';
      }
      show(actions);
      switch (s.state) {
        case 'waiting':
          state.textContent = s.position == null
            ? 'You are in line. Places are drawn when the sale opens; yours shows here then.'
            : s.ahead === 0 ? 'You are next.' : 'You are in line.';
          break;
        case 'admitted':
          state.textContent = 'It is your turn. Taking you to choose your tickets…';
          $('#bar').style.width = '100%';
          break;
        case 'expired':
          state.textContent = 'Your turn passed before you ordered, so your place lapsed.';
          show(actions, el('button', { class: 'primary', type: 'button', onclick: () => run(true) }, 'Join the queue again'));
          break;
        case 'sold_out':
          state.textContent = 'Sold out. Every ticket has been sold or is held by buyers ahead of you.';
          $('#queue-help').textContent = 'If tickets come back (a hold lapses or an order is canceled), you keep your place and this page moves on by itself.';
          show(actions, el('a', { class: 'button', href: href('events/' + eventId) }, 'Back to the event'));
          break;
        case 'closed':
          state.textContent = 'The sale has ended.';
          $('#queue-help').textContent = 'No more tickets are sold for this event.';
          show(actions, el('a', { class: 'button', href: href('events/' + eventId) }, 'Back to the event'));
          break;
      }
    };
    const run = async (again) => {
      let s;
      try {
        s = await join();
      } catch (e) {
        state.textContent = e.code === 'sale_closed' ? 'The sale has ended.' : 'We could not put you in line (' + e.message + '). Retrying…';
        if (e.code !== 'sale_closed') { await sleep(Math.max(2000, e.retryAfter * 1000)); run(again); }
        return;
      }
      for (;;) {
        render(s);
        if (s.state === 'admitted') {
          keep.set('admission.' + eventId, { token: s.admission_token, expires_at: s.admission_expires_at });
          await sleep(600);
          location.assign(href('events/' + eventId + '/pick'));
          return;
        }
        // Sold out may not be final: returned seats readmit the line in order.
        if (s.state !== 'waiting' && s.state !== 'sold_out') return;
        await sleep(Math.max(250, s.poll_after_ms || 1000));
        try {
          s = await call('queue/' + encodeURIComponent(ticket));
        } catch (e) {
          if (e.status === 410 || e.status === 404) { s = await join().catch(() => s); continue; }
          await sleep(Math.max(1000, e.retryAfter * 1000));
        }
      }
    };
    run(false);
  }

  // --- Choosing seats or a quantity. ------------------------------------------------------
  async function pickPage() {
    localTimes();
    const status = $('#pick-status');
    const admission = keep.get('admission.' + eventId);
    if (!admission || !admission.token || Date.parse(admission.expires_at) <= Date.now()) {
      keep.drop('admission.' + eventId);
      show($('#picker'), el('p', {}, 'You need to go through the queue first, or your turn has lapsed.'),
        el('a', { class: 'button primary', href: href('events/' + eventId + '/queue') }, 'Join the queue'));
      $('#section-choice').hidden = true;
      return;
    }
    countdown($('#admission-timer'), Date.parse(admission.expires_at),
      (d) => 'Your turn: order within ' + d + '.',
      () => { $('#admission-timer').textContent = 'Your turn has lapsed. Join the queue again to order.'; });
    const presale = currentPresale();
    const presaleHeaders = presale ? { 'Presale-Token': presale.presale_token } : {};
    const ev = await call('events/' + eventId, { auth: false });
    let sections = ev.sections;
    if (presale) {
      sections = sections.filter((s) => s.code === presale.block.section);
      const note = $('#presale-note');
      note.hidden = false;
      note.textContent = presaleWords(presale).replace(' Join the queue to buy from it.', '');
    }
    const limit = presale ? Math.min(ev.max_tickets_per_buyer, presale.block.max_per_buyer) : ev.max_tickets_per_buyer;
    $('#limit').textContent = 'Up to ' + limit + ' tickets per buyer.';
    let stopMap = null;
    const choose = (s) => {
      if (stopMap) stopMap();
      $('#picker-h').textContent = s.kind === 'seated' ? s.name + ': choose seats' : s.name + ': how many';
      stopMap = s.kind === 'seated' ? seatPicker(s, limit, presale, presaleHeaders, admission) : quantityPicker(s, limit, presaleHeaders, admission);
    };
    show($('#section-options'), sections.map((s, i) => el('label', {},
      el('input', { type: 'radio', name: 'section', value: s.code, checked: i === 0, onchange: () => choose(s) }),
      s.name + ' · ' + money(s.price_cents, s.currency))));
    if (sections.length) choose(sections[0]);
    else status.textContent = 'No section is on sale.';
  }

  // One Idempotency-Key per attempt: the same choice again (a double click, a reload) is the
  // same order; a different choice is a new attempt.
  function attemptKey(body) {
    const k = 'attempt.' + eventId;
    const a = keep.get(k);
    const wanted = JSON.stringify(body);
    if (a && a.body === wanted) return a.key;
    const key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9-]/g, '');
    keep.set(k, { body: wanted, key });
    return key;
  }

  const REFUSALS = {
    seats_taken: 'Someone else just took one of those seats. The map now shows it taken: pick another.',
    quantity_out_of_range: 'That is more tickets than one buyer may have. Choose fewer.',
    limit_reached: 'You already have as many tickets as one buyer may for this event.',
    admission_expired: 'Your turn has lapsed. Join the queue again to order.',
    admission_used: 'You have already placed an order with this turn. Join the queue again for another.',
    sold_out: 'Sold out: there are not that many seats left. Try fewer, or another section.',
  };

  let placing = false;
  async function place(body, headers, admission) {
    const status = $('#pick-status');
    if (placing) return;
    placing = true;
    status.textContent = 'Placing your order…';
    try {
      const got = await call('events/' + eventId + '/orders', {
        method: 'POST', json: body,
        headers: { 'Admission-Token': admission.token, 'Idempotency-Key': attemptKey(body), ...headers },
      });
      keep.drop('attempt.' + eventId);
      keep.drop('admission.' + eventId);
      location.assign(href('orders/' + got.order_id));
    } catch (e) {
      keep.drop('attempt.' + eventId);
      status.textContent = REFUSALS[e.code] || ('The order was not placed: ' + e.message);
      if (e.code === 'admission_expired' || e.code === 'admission_used' || e.code === 'admission_invalid') {
        keep.drop('admission.' + eventId);
        status.append(' ', el('a', { href: href('events/' + eventId + '/queue') }, 'Join the queue'));
      }
      placing = false;
    }
  }

  function quantitySelect(id, limit) {
    return el('select', { id }, Array.from({ length: limit }, (_, i) => el('option', { value: i + 1 }, String(i + 1))));
  }

  function quantityPicker(s, limit, headers, admission) {
    const available = s.availability ? s.availability.available : null;
    show($('#picker'),
      el('p', {}, money(s.price_cents, s.currency) + ' each. ' + (available == null ? '' : available + ' left.')),
      el('form', { class: 'choice', id: 'quantity-form', onsubmit: (e) => {
        e.preventDefault();
        place({ section: s.code, quantity: Number($('#quantity').value) }, headers, admission);
      } },
      el('label', { for: 'quantity' }, 'How many tickets'), quantitySelect('quantity', limit),
      el('button', { class: 'primary', type: 'submit' }, 'Buy tickets')));
    return () => {};
  }

  function seatPicker(s, limit, presale, headers, admission) {
    const chosen = new Set();
    const price = money(s.price_cents, s.currency);
    const allowed = presale && presale.block.kind === 'seated' ? new Set(presale.block.seats) : null;
    const map = el('div', { class: 'seatmap', role: 'group', 'aria-label': 'Seat map of ' + s.name + ', stage at the top' });
    const summary = el('p', { id: 'chosen', 'aria-live': 'polite' }, 'No seat chosen yet.');
    const buy = el('button', { class: 'primary', type: 'button', id: 'buy-seats', disabled: true, onclick: () => {
      place({ seats: [...chosen].sort() }, headers, admission);
    } }, 'Buy chosen seats');
    const best = el('form', { class: 'choice', id: 'best-form', onsubmit: (e) => {
      e.preventDefault();
      place({ section: s.code, quantity: Number($('#best-quantity').value) }, headers, admission);
    } }, el('label', { for: 'best-quantity' }, 'Or let us pick the best seats available, side by side'),
      el('div', { class: 'row' }, quantitySelect('best-quantity', limit), el('button', { type: 'submit' }, 'Best available')));
    show($('#picker'), el('div', { class: 'stage' }, 'Stage'), map,
      el('div', { class: 'legend', 'aria-hidden': 'true' }, el('span', {}, 'available'), el('span', { class: 'l-sel' }, 'your choice'), el('span', { class: 'l-taken' }, 'taken')),
      summary, buy, best);
    const buttons = new Map();
    const label = (seat, st) => seatName(seat) + ', ' + price + ', ' + st;
    const update = () => {
      const n = chosen.size;
      summary.textContent = n === 0 ? 'No seat chosen yet.' : 'Chosen: ' + [...chosen].sort().map(seatName).join(', ') + ' (' + n + ' of up to ' + limit + ').';
      buy.disabled = n === 0;
      buy.textContent = n === 0 ? 'Buy chosen seats' : 'Buy ' + n + (n === 1 ? ' seat' : ' seats');
    };
    const toggle = (seat) => {
      const b = buttons.get(seat);
      if (!b || b.disabled) return;
      if (chosen.has(seat)) chosen.delete(seat);
      else if (chosen.size >= limit) { $('#pick-status').textContent = 'You may choose up to ' + limit + ' seats.'; return; }
      else chosen.add(seat);
      const on = chosen.has(seat);
      b.setAttribute('aria-pressed', String(on));
      b.setAttribute('aria-label', label(seat, on ? 'selected' : 'available'));
      update();
    };
    const draw = (seats) => {
      const rows = new Map();
      for (const { seat, state } of seats) {
        if (allowed && !allowed.has(seat)) continue;
        const m = /^[^:]+:([A-Za-z]+)-(\d+)$/.exec(seat);
        const row = m ? m[1] : '';
        if (!rows.has(row)) rows.set(row, []);
        rows.get(row).push({ seat, state, n: m ? Number(m[2]) : 0 });
      }
      if (!buttons.size) {
        for (const [row, list] of rows) {
          list.sort((a, b) => a.n - b.n);
          map.append(el('div', { class: 'seat-row' }, el('span', { class: 'row-label', 'aria-hidden': 'true' }, row),
            list.map(({ seat, n }) => {
              const b = el('button', { type: 'button', class: 'seat', 'data-seat': seat, 'aria-pressed': 'false', onclick: () => toggle(seat) }, String(n));
              buttons.set(seat, b);
              return b;
            })));
        }
      }
      for (const list of rows.values()) {
        for (const { seat, state } of list) {
          const b = buttons.get(seat);
          if (!b) continue;
          const taken = state !== 'free' && !chosen.has(seat);
          if (state !== 'free' && chosen.has(seat)) {
            chosen.delete(seat);
            b.setAttribute('aria-pressed', 'false');
            $('#pick-status').textContent = seatName(seat) + ' was just taken by someone else.';
            update();
          }
          b.disabled = state !== 'free';
          b.classList.toggle('taken', state !== 'free');
          if (!chosen.has(seat)) b.setAttribute('aria-label', label(seat, taken || state !== 'free' ? 'taken' : 'available'));
        }
      }
    };
    let stopped = false;
    const refresh = async () => {
      if (stopped) return;
      try {
        const m = await call('events/' + eventId + '/seats?section=' + encodeURIComponent(s.code), { auth: Boolean(presale), headers });
        if (!stopped) draw(m.seats);
      } catch (e) {
        if (!buttons.size) summary.textContent = 'The seat map is loading (' + e.message + ').';
      }
      if (!stopped) setTimeout(refresh, document.hidden ? 10_000 : 3_000);
    };
    refresh();
    return () => { stopped = true; };
  }

  // --- The order: the hold, paying, the tickets. ------------------------------------------
  const ENDED = {
    rejected: {
      sold_out: 'Sold out: the seats went to other buyers before your order reached them.',
      taken: 'Those seats were taken by someone else a moment before you. Join the queue again to choose others.',
      limit_reached: 'You already have as many tickets as one buyer may for this event.',
      '': 'Your order could not be held.',
    },
    expired: 'Your hold lapsed before the payment was made, so the seats were released. Join the queue again to try once more.',
    payment_failed: 'The payment did not go through, so the seats were released. Check your card details, then join the queue again.',
    canceled: 'You canceled this order; the seats were released.',
    refunded: 'This order was refunded. Its tickets are no longer valid.',
  };

  function loadBrand(ev) {
    if (document.querySelector('link[data-brand]')) return;
    document.head.append(el('link', { rel: 'stylesheet', href: href('events/' + ev + '/brand.css'), 'data-brand': true }));
  }

  let stopTimer = null;
  let lastVersion = -1;
  let eventInfo = null;
  async function eventOf(o) {
    if (!eventInfo) {
      eventInfo = await call('events/' + o.event_id, { auth: false }).catch(() => null);
      loadBrand(o.event_id);
      const link = $('#event-link');
      if (eventInfo && link) show(link, el('a', { href: href('events/' + o.event_id) }, eventInfo.name));
    }
    return eventInfo;
  }

  async function qrImage(ticket) {
    const img = el('img', { alt: 'QR code of the ticket for ' + seatName(ticket.seat), width: 240, height: 240 });
    try {
      const r = await fetch(api('orders/' + orderId + '/tickets/' + encodeURIComponent(ticket.code) + '/qr.svg'),
        { headers: { Authorization: 'Bearer ' + (await session()) } });
      if (!r.ok) throw await failure(r);
      img.src = URL.createObjectURL(await r.blob());
    } catch (e) {
      img.alt = 'The QR code could not be loaded (' + e.message + '); reload to try again.';
    }
    return img;
  }

  async function ticketCards(o, ev) {
    const cards = await Promise.all(o.tickets.map(async (t) => el('article', { class: 'ticket', 'data-code': t.code },
      el('p', { class: 'muted' }, ev ? ev.name : ''),
      el('p', { class: 'seat-name' }, sectionOf(t.seat) + ' · ' + seatName(t.seat)),
      await qrImage(t),
      el('p', {}, el('code', {}, t.code)),
      ev ? el('p', { class: 'muted' }, ev.venue + ' · ', el('time', { datetime: ev.starts_at }, ev.starts_at)) : null)));
    return el('div', { class: 'tickets' }, cards);
  }

  async function renderOrder(o) {
    if (o.version < lastVersion) return;
    lastVersion = o.version;
    const ev = await eventOf(o);
    const box = $('#order');
    const actions = $('#order-actions');
    if (stopTimer) { stopTimer(); stopTimer = null; }
    const seats = o.seats.length ? el('p', {}, 'Seats: ', el('strong', {}, o.seats.map((s) => sectionOf(s) + ' · ' + seatName(s)).join(', '))) : null;
    const amount = o.amount_cents != null ? el('p', {}, 'Total: ', el('strong', {}, money(o.amount_cents, o.currency))) : null;
    const timer = el('p', { class: 'timer' });
    show(actions);
    const words = {
      requested: 'We are holding your tickets…',
      held: 'Your seats are held for you.',
      awaiting_payment: 'Your seats are held. Pay to get your tickets.',
      authorized: 'Payment received. Issuing your tickets…',
      confirmed: 'Payment received. Issuing your tickets…',
      issued: 'Your tickets are ready.',
    };
    $('#order-title').textContent = words[o.state] ? 'Your order' : 'Your order has ended';
    if (o.state === 'issued') {
      show(box, el('p', { class: 'notice good' }, words.issued + ' Show the QR code at the door, on your phone or printed.'), seats, amount);
      show(actions, el('a', { class: 'button primary', href: href('orders/' + orderId + '/tickets') }, 'Printable tickets'));
      show($('#tickets'), el('h2', {}, 'Tickets'), await ticketCards(o, ev));
      localTimes();
      return;
    }
    if (words[o.state]) {
      show(box, el('p', { class: 'notice' }, words[o.state]), seats, amount, timer);
      if (o.state === 'held' && o.checkout_opens_at) {
        stopTimer = countdown(timer, Date.parse(o.checkout_opens_at), (d) => 'Your checkout opens in about ' + d + '. You lose no paying time while you wait.');
      } else if (o.state === 'awaiting_payment' && o.hold_expires_at) {
        stopTimer = countdown(timer, Date.parse(o.hold_expires_at), (d) => 'Pay within ' + d + '; after that the seats are released.');
      }
      if (o.state === 'awaiting_payment' && o.payment && o.payment.checkout_url) {
        const back = new URL(location.href);
        back.hash = '';
        const pay = new URL(o.payment.checkout_url);
        pay.searchParams.set('return_url', back.toString());
        actions.append(el('a', { class: 'button primary', id: 'pay', href: pay.toString() }, 'Pay ' + (o.amount_cents != null ? money(o.amount_cents, o.currency) : 'now')));
      }
      if (o.state === 'held' || o.state === 'awaiting_payment') {
        actions.append(' ', el('button', { type: 'button', id: 'cancel', onclick: async (e) => {
          if (!confirm('Release these seats and cancel the order?')) return;
          e.target.disabled = true;
          try { await call('orders/' + orderId + '/cancel', { method: 'POST' }); box.append(el('p', { class: 'notice' }, 'Canceling…')); }
          catch (err) { e.target.disabled = false; box.append(el('p', { class: 'notice bad' }, 'Not canceled: ' + err.message)); }
        } }, 'Cancel order'));
      }
      return;
    }
    const ended = ENDED[o.state];
    const text = typeof ended === 'object' ? (ended[o.reason || ''] || ended['']) : (ended || 'This order is ' + o.state.replace('_', ' ') + '.');
    show(box, el('p', { class: 'notice bad' }, text), seats);
    show(actions, el('a', { class: 'button primary', href: href('events/' + o.event_id + '/queue') }, 'Join the queue again'),
      ' ', el('a', { class: 'button', href: href('events/' + o.event_id) }, 'Back to the event'));
  }

  // Server-sent events read with fetch(): EventSource cannot send the bearer token.
  async function follow(path, onEvent) {
    const r = await fetch(api(path), { headers: { Authorization: 'Bearer ' + (await session()), Accept: 'text/event-stream' } });
    if (!r.ok) throw await failure(r);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let name = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (!line || line.startsWith(':')) continue;
          const c = line.indexOf(':');
          const field = c < 0 ? line : line.slice(0, c);
          const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
          if (field === 'event') name = v;
          else if (field === 'data') data.push(v);
        }
        if (data.length) onEvent(name, data.join('\n'));
      }
    }
  }

  const FINAL = ['issued', 'rejected', 'expired', 'payment_failed', 'canceled', 'refunded'];
  async function orderPage() {
    let o;
    try {
      o = await call('orders/' + orderId);
    } catch (e) {
      show($('#order'), el('p', { class: 'notice bad' }, e.status === 403 || e.status === 401
        ? 'This order belongs to another browser session. Open it where you placed it.'
        : e.status === 404 ? 'We cannot find this order.' : 'The order could not be loaded (' + e.message + '). Reload to try again.'));
      return;
    }
    await renderOrder(o);
    while (!FINAL.includes(o.state)) {
      try {
        await follow('orders/' + orderId + '/events', (name, data) => {
          if (name !== 'status') return;
          o = JSON.parse(data);
          renderOrder(o);
        });
      } catch (e) {
        // Streams refused (429) or cut: read the order now and then instead.
        await sleep(Math.max(2000, (e.retryAfter || 0) * 1000));
        try { o = await call('orders/' + orderId); await renderOrder(o); } catch { /* next round */ }
      }
      if (FINAL.includes(o.state)) break;
      await sleep(1000);
    }
  }

  async function ticketsPage() {
    $('#print').addEventListener('click', () => window.print());
    try {
      const o = await call('orders/' + orderId);
      const ev = await eventOf(o);
      if (o.state !== 'issued' || !o.tickets.length) {
        show($('#tickets'), el('p', {}, 'No tickets yet: this order is ' + o.state.replace('_', ' ') + '. ', el('a', { href: href('orders/' + orderId) }, 'Back to the order')));
        return;
      }
      show($('#tickets'), await ticketCards(o, ev));
      localTimes();
    } catch (e) {
      show($('#tickets'), el('p', { class: 'notice bad' }, 'The tickets could not be loaded (' + e.message + ').'));
    }
  }

  const pages = { home, event: eventPage, queue: queuePage, pick: pickPage, order: orderPage, tickets: ticketsPage };
  const start = pages[body.dataset.page];
  if (start) start().catch((e) => {
    const main = $('#main');
    main.append(el('p', { class: 'notice bad', role: 'alert' }, 'Something went wrong: ' + e.message + '. Reload to try again.'));
  });
})();
