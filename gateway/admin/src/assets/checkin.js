// Boxoffice door scanner: the gate's name (kept in localStorage), the camera where the browser
// can read QR codes (BarcodeDetector + getUserMedia, feature-detected), a typed code always,
// and one result region (colour and words, announced by screen readers). Each answer shows at
// once and the scanner is ready for the next ticket straight away.
"use strict";
(() => {
  const root = document.getElementById("scanner");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const gate = $("gate"), scan = $("scan"), result = $("result");
  const KEY = "boxoffice.checkin.gate";
  const token = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  let busy = false;

  gate.value = localStorage.getItem(KEY) || "";
  gate.addEventListener("change", () => localStorage.setItem(KEY, gate.value.trim()));
  $("gate-form").addEventListener("submit", (e) => { e.preventDefault(); scan.focus(); });

  function show(kind, verdict, why) {
    result.className = "result " + kind;
    result.dataset.result = kind;
    result.querySelector(".verdict").textContent = verdict;
    result.querySelector(".why").textContent = why;
  }
  const hhmm = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const seat = (t) => `Seat ${t.label}, section ${t.section_name} (${t.section})`;

  function refusal(status, body) {
    switch (body?.error?.code) {
      case "ticket_already_used":
        return `Already used at ${hhmm(body.used_at)} at gate ${body.gate}. ${seat(body.ticket)}.`;
      case "ticket_void":
        return body.reason === "refunded" ? "Refunded: this ticket is no longer valid." : "Voided: this ticket is no longer valid.";
      case "ticket_signature_invalid": return "Forged or altered: the ticket's signature does not verify.";
      case "ticket_code_invalid": return "Not a ticket code.";
      case "ticket_not_found": return "Unknown ticket: no ticket has this code.";
      case "ticket_not_yours": return "This ticket is for another organizer's event.";
      default: return body?.error?.message || `The gateway answered ${status}.`;
    }
  }

  async function check(text) {
    text = text.trim();
    if (!text || busy) return;
    const g = gate.value.trim();
    if (!g) { show("refused", "Set the gate", "Type this gate's name first."); gate.focus(); return; }
    localStorage.setItem(KEY, g);
    busy = true;
    show("checking", "Checking…", "");
    try {
      const r = await fetch("/admin/api/v1/checkin", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token() },
        body: JSON.stringify({ scan: text, gate: g }),
      });
      let body = null;
      try { body = await r.json(); } catch (_) { /* not JSON */ }
      if (r.ok && body?.result === "admitted") show("admitted", "ADMITTED", `${seat(body.ticket)}. ${body.ticket.event_name}.`);
      else show("refused", "REFUSED", refusal(r.status, body));
    } catch (_) {
      show("refused", "NOT CHECKED", "No answer from the gateway: check the connection and scan again.");
    } finally {
      busy = false;
    }
  }

  $("typed").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = scan.value;
    scan.value = "";
    scan.focus();
    await check(text);
  });

  // ---- camera ----
  const note = $("camera-note"), start = $("camera-start"), video = $("camera");
  const cannot = (why) => { note.textContent = why + " Type the code printed under the QR code instead."; start.hidden = true; };
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices?.getUserMedia) {
    cannot("This browser cannot read QR codes with the camera.");
    return;
  }
  start.addEventListener("click", async () => {
    try {
      const formats = await BarcodeDetector.getSupportedFormats();
      if (!formats.includes("qr_code")) { cannot("This browser's barcode reader does not read QR codes."); return; }
      const detector = new BarcodeDetector({ formats: ["qr_code"] });
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      start.hidden = true;
      note.textContent = "Point the camera at a ticket's QR code.";
      // The same code in front of the camera is checked once, not once a frame.
      let last = "", lastAt = 0;
      const loop = async () => {
        if (!busy && video.readyState >= 2) {
          try {
            const found = (await detector.detect(video))[0]?.rawValue;
            if (found && !(found === last && Date.now() - lastAt < 4000)) {
              last = found; lastAt = Date.now();
              await check(found);
            }
          } catch (_) { /* a frame the reader could not use */ }
        }
        setTimeout(loop, 150);
      };
      loop();
    } catch (e) {
      cannot(`The camera is not available (${e.name || e}).`);
    }
  });
})();
