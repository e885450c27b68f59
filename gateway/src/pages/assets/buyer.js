// The buyer pages before the order: the events list, the event page (with presale codes),
// the waiting room and the picker. Helpers come from core.js (window.BO).
(() => {
  'use strict';

  const { el, show, sleep, keep, session, failure, call, money, duration, roughly, localTimes, seatName, sectionOf, countdown, api, href, eventId, orderId, $ } = window.BO;

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
    let shown = null;
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
      if (s.state === 'waiting') {
        state.textContent = s.position == null
          ? 'You are in line. Places are drawn when the sale opens; yours shows here then.'
          : s.ahead === 0 ? 'You are next.' : 'You are in line.';
      }
      // The rest changes with the state only: a button redrawn at every poll would lose the
      // keyboard's focus.
      if (s.state === shown) return;
      shown = s.state;
      show(actions);
      switch (s.state) {
        case 'waiting':
          $('#queue-help').textContent = 'Keep this page open; it refreshes by itself. Reloading or a second tab keeps your place.';
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
    // With a presale code, the block bounds the choice too.
    const blockSize = presale ? (presale.block.kind === 'seated' ? (presale.block.seats || []).length : presale.block.quantity) : Infinity;
    const limit = Math.max(1, Math.min(ev.max_tickets_per_buyer, presale ? presale.block.max_per_buyer : Infinity, blockSize || Infinity));
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
        // A block's seats as `SECTION:LABEL` or as bare labels: either is understood.
        if (allowed && !allowed.has(seat) && !allowed.has(seat.split(':').slice(1).join(':'))) continue;
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

  Object.assign(window.BO.pages, { home, event: eventPage, queue: queuePage, pick: pickPage });
})();
