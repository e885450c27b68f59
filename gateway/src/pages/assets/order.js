// The order pages: the hold, paying, the status as it changes (server-sent events read with
// fetch), the tickets with their QR codes, the printable page. Helpers come from core.js.
(() => {
  'use strict';

  const { el, show, sleep, keep, session, failure, call, money, duration, roughly, localTimes, seatName, sectionOf, countdown, api, href, eventId, orderId, $ } = window.BO;

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
      // The shell knew no event; the organizer's logo and footer come with it.
      const brand = (eventInfo && eventInfo.branding) || {};
      if (brand.footer) $('#footer-text').textContent = brand.footer;
      if (brand.logo_url) show($('header.site .brand'), el('img', { class: 'logo', src: brand.logo_url, alt: eventInfo.name + ' logo' }));
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

  Object.assign(window.BO.pages, { order: orderPage, tickets: ticketsPage });
})();
