// The organizer's page: create an event and its sessions, load a roster from a CSV file, see
// each session's attendance. Everything goes through the local API with the page session;
// credit is shown exactly as the node gives it (decimal strings, never JS numbers), and every
// time is shown in the event's time zone.
//
// While the node does not answer (stopped, restarting, the laptop asleep) the page keeps working:
// what the organizer submits waits in the page's own storage (the outbox, in order), each write
// under an identity that makes sending it again the same write (an event or session under an id
// the page chose, a roster chunk re-put as it was), and is sent when the node is back; the page
// says what waits, what the node answered, and what it refused and why (and what was therefore
// not sent). What it shows meanwhile is what it last read, marked as such.
"use strict";

(() => {
  const { api, all, el, cmpDec } = CEC;
  const ID = /^[A-Za-z0-9._:-]{1,128}$/;
  const SCOPE_ID = /^[A-Za-z0-9._-]{1,128}$/;
  const EVENT_KEY = "cec.organize.event";
  const OUTBOX_KEY = "cec.organize.outbox";
  const CACHE_KEY = "cec.organize.cache";
  const SENT_KEPT = 10;
  const MAX_CSV_BYTES = 5 * 1024 * 1024;
  const ROSTER_CHUNK = 1000;
  const KINDS = [
    ["instruction", true], ["keynote", true], ["practice", true], ["panel", true], ["demonstration", true],
    ["meal", false], ["break", false], ["open_forum", false], ["networking", false], ["exhibit", false], ["business", false],
  ];
  const CATEGORIES = ["general", "ethics", "diversity", "supervision", "assessment", "research"];

  const state = { events: [], event: null, sessions: [], roster: [], csv: null, attSession: null };

  // --- times in the event's time zone --------------------------------------------------
  function tz() {
    return state.event ? state.event.timezone : undefined;
  }

  // The wall-clock fields of an instant in a time zone.
  function wallParts(ms, timeZone) {
    const f = new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    const p = {};
    for (const x of f.formatToParts(new Date(ms))) p[x.type] = Number(x.value);
    return p;
  }
  function offsetMs(ms, timeZone) {
    const p = wallParts(ms, timeZone);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour % 24, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
  }
  // "2027-03-01T09:30" on the wall clocks of `timeZone` → an RFC 3339 UTC string, or null when
  // that wall time does not exist there (the hour skipped when clocks go forward).
  function wallToUtc(wall, timeZone) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(wall);
    if (!m) return null;
    const local = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    let t = local - offsetMs(local, timeZone);
    t = local - offsetMs(t, timeZone);
    const p = wallParts(t, timeZone);
    if (p.year !== +m[1] || p.month !== +m[2] || p.day !== +m[3] || p.hour % 24 !== +m[4] || p.minute !== +m[5]) return null;
    return new Date(t).toISOString().replace(".000Z", "Z");
  }
  function fmt(iso, opts) {
    try {
      return new Intl.DateTimeFormat(undefined, { timeZone: tz(), ...opts }).format(new Date(iso));
    } catch (e) {
      return new Date(iso).toISOString();
    }
  }
  const fmtDateTime = (iso) => fmt(iso, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const fmtClock = (iso) => fmt(iso, { hour: "2-digit", minute: "2-digit" });

  // --- errors next to what caused them -----------------------------------------------------
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((p) => p.remove());
    form.querySelectorAll("[aria-invalid]").forEach((i) => {
      i.removeAttribute("aria-invalid");
      const d = (i.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && !x.endsWith("-err"));
      if (d.length) i.setAttribute("aria-describedby", d.join(" "));
      else i.removeAttribute("aria-describedby");
    });
    const fe = form.querySelector(".form-error");
    if (fe) fe.textContent = "";
  }
  // Shows `message` under `input` (or in the form's error line), and focuses the first one.
  function fieldError(form, input, message) {
    if (!input) {
      const fe = form.querySelector(".form-error");
      fe.textContent = fe.textContent ? fe.textContent + " " + message : message;
      return;
    }
    const p = document.createElement("p");
    p.className = "field-error";
    p.id = (input.id || "f" + Math.random().toString(36).slice(2)) + "-err";
    p.textContent = message;
    const row = input.closest(".row, .check, .segment") || input.parentElement;
    row.append(p);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + p.id).trim());
  }
  function focusFirstError(form) {
    const bad = form.querySelector("[aria-invalid=true]");
    if (bad) bad.focus();
    else {
      const fe = form.querySelector(".form-error");
      if (fe && fe.textContent) fe.scrollIntoView({ block: "nearest" });
    }
  }
  // An API error shown where it belongs: the field the node names, or the form's error line.
  function apiError(form, e, inputFor) {
    if (e instanceof CEC.Offline) {
      fieldError(form, null, "The node does not answer; nothing was stored. Try again when it is back.");
      return;
    }
    const message = e.field && e.message.startsWith(e.field + ": ") ? e.message.slice(e.field.length + 2) : e.message;
    const input = e.field ? inputFor(e.field) : null;
    if (input) fieldError(form, input, sentence(message));
    else fieldError(form, null, sentence(e.message) + (e.status === 409 ? " (something with this id exists already: choose another id)" : ""));
  }
  function sentence(s) {
    const t = String(s || "").trim();
    return t ? t[0].toUpperCase() + t.slice(1) : "Refused";
  }
  function byField(form) {
    return (field) => form.querySelector(`[data-field="${CSS.escape(field)}"]`);
  }

  function option(value, text) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }

  // --- what the page last read, for when the node does not answer -------------------------
  // `slot` → {v, at}: the events, an event's sessions and roster, a session's attendance.
  const cache = CEC.stored(CACHE_KEY, {});
  function saveCache() {
    if (CEC.store(CACHE_KEY, cache)) return;
    // Storage full: attendance goes first, it is read again anyway.
    for (const k of Object.keys(cache)) if (k.startsWith("att:")) delete cache[k];
    CEC.store(CACHE_KEY, cache);
  }
  const STALE_EL = { events: "events-stale", sessions: "sessions-stale", roster: "roster-stale", att: "att-stale" };
  function markStale(slot, at) {
    const p = el(STALE_EL[slot.split(":")[0]]);
    if (!p) return;
    p.hidden = at === null;
    p.textContent = at === null ? "" : at
      ? `Shown as last read from the node, at ${fmt(at, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" })}: the node does not answer now.`
      : "The node does not answer, and this page has not read this yet.";
  }
  // Reads `f()` and keeps the answer under `slot`; when the node does not answer, answers what
  // was last read there (or `empty`), marked as such on the page.
  async function read(slot, f, empty) {
    try {
      const v = await f();
      cache[slot] = { v, at: new Date().toISOString() };
      saveCache();
      markStale(slot, null);
      return v;
    } catch (e) {
      if (!CEC.waits(e)) throw e;
      const c = cache[slot];
      markStale(slot, c ? c.at : "");
      return c ? c.v : empty;
    }
  }

  // --- the outbox: writes kept on this page until the node takes them ---------------------
  // An item: {key, kind: event | session | roster, event_id, event_title, path, body, label,
  // lines (a roster chunk's lines in its file), status: waiting | sent | refused | not_sent,
  // answer (what the node said, in words)}. Kept in order; only `waiting` ones are sent.
  const outbox = () => CEC.stored(OUTBOX_KEY, []);
  function saveOutbox(q) {
    // What was sent is kept for a while to show the node's answer; never what still waits.
    const sent = q.filter((i) => i.status === "sent");
    const drop = new Set(sent.slice(0, Math.max(0, sent.length - SENT_KEPT)).map((i) => i.key));
    return CEC.store(OUTBOX_KEY, q.filter((i) => !drop.has(i.key)));
  }
  const waitingItems = () => outbox().filter((i) => i.status === "waiting");
  function updateItem(key, patch) {
    const q = outbox();
    const item = q.find((i) => i.key === key);
    if (item) Object.assign(item, patch);
    saveOutbox(q);
  }
  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many || one + "s"}`;
  }

  // Sends a write now, or, when the node does not answer or others wait before it, keeps it in
  // the outbox to be sent in order. Answers {sent: answer} or {queued: item}; a refusal of a
  // write sent at once is thrown (the form shows it next to the field at fault).
  async function submit(item) {
    const full = { key: CEC.newId(), status: "waiting", queued_at: new Date().toISOString(), ...item };
    if (!waitingItems().length) {
      try {
        return { sent: await api("POST", full.path, full.body) };
      } catch (e) {
        if (!CEC.waits(e)) throw e;
      }
    }
    const q = outbox();
    q.push(full);
    if (!saveOutbox(q)) {
      // Never say "kept" of what could not be kept.
      throw new CEC.ApiError(0, "storage", "the node does not answer and this browser's storage is full, so nothing was kept; try again when the node is back");
    }
    renderOutbox();
    CEC.refreshSync();
    setTimeout(flush, 0);
    return { queued: full };
  }

  // What the node said to a write, in words.
  function answered(item, a) {
    if (item.kind === "event") return `created: “${a.title}” (${a.id})`;
    if (item.kind === "session") return `added: ${fmtDateTime(a.starts_at)}, up to ${a.max_cecs} CEC (${a.id})`;
    if (item.kind === "void") return `voided${a.voided && a.voided.reason ? ": " + a.voided.reason : ""}; it no longer counts`;
    const n = (a.members || []).length;
    return `added or updated; the roster has ${plural(n, "member")}`;
  }
  // Why the node refused a write, in words; a roster member refused is named by its line.
  function refusal(item, e) {
    const m = e.field && /^members\[(\d+)\]/.exec(e.field);
    const line = m && item.lines ? item.lines[Number(m[1])] : null;
    return (line ? `line ${line}: ` : "") + String(e.message || `status ${e.status}`);
  }

  let flushing = false;
  let retryMs = 2000;
  let nextTry = 0;
  // Sends what waits, in order, until the outbox is empty or the node stops answering. A write
  // the node refuses is marked with the reason, and the waiting writes for an event it refused
  // are marked not sent; the rest go on.
  async function flush() {
    if (flushing || !waitingItems().length) return;
    flushing = true;
    let changed = false;
    try {
      for (const item of waitingItems()) {
        const now = outbox().find((i) => i.key === item.key);
        if (!now || now.status !== "waiting") continue; // marked not sent meanwhile
        try {
          const a = await api("POST", item.path, item.body);
          updateItem(item.key, { status: "sent", answer: answered(item, a), done_at: new Date().toISOString() });
        } catch (e) {
          if (CEC.waits(e)) {
            nextTry = Date.now() + retryMs;
            retryMs = Math.min(retryMs * 2, 30000);
            break;
          }
          updateItem(item.key, { status: "refused", answer: refusal(item, e), done_at: new Date().toISOString() });
          if (item.kind === "event") {
            const q = outbox();
            for (const d of q) {
              if (d.status === "waiting" && d.kind !== "event" && d.event_id === item.event_id) {
                d.status = "not_sent";
                d.answer = `its event “${item.event_title}” (${item.event_id}) was refused`;
              }
            }
            saveOutbox(q);
          }
        }
        changed = true;
      }
      if (!waitingItems().length) retryMs = 2000;
    } finally {
      flushing = false;
      renderOutbox();
      CEC.refreshSync();
    }
    if (changed) await reread();
  }
  function flushIfDue() {
    if (Date.now() >= nextTry) flush();
  }

  // After the outbox sent something: the node's events, sessions and roster again.
  async function reread() {
    try {
      await loadEvents(state.event ? state.event.id : localStorage.getItem(EVENT_KEY));
      if (state.attSession) await refreshAttendance();
    } catch (e) {
      /* the next answer tells */
    }
  }

  const STATUS_WORDS = { waiting: "Waiting for the node", sent: "Sent", refused: "Refused by the node", not_sent: "Not sent" };
  // Each write near what it concerns: an event's writes in the event card (and those of events
  // other than the one chosen), sessions and roster in theirs.
  function renderOutbox() {
    const q = outbox();
    const current = state.event ? state.event.id : null;
    const lists = { event: [], session: [], roster: [], att: [] };
    for (const item of q) {
      const kind = item.kind === "void" ? "att" : item.kind;
      const here = item.kind === "event" || item.event_id !== current ? "event" : kind;
      lists[here].push(item);
    }
    for (const [where, items] of Object.entries(lists)) {
      const ul = el("outbox-" + where);
      ul.replaceChildren(...items.map(outboxItem));
      ul.hidden = !items.length;
    }
    renderStatus();
  }
  function outboxItem(item) {
    const li = document.createElement("li");
    li.className = "outbox-item " + item.status;
    li.dataset.key = item.key;
    li.dataset.status = item.status;
    const p = document.createElement("p");
    const b = document.createElement("strong");
    b.textContent = STATUS_WORDS[item.status] + ": ";
    p.append(b, item.label);
    if (item.event_id !== (state.event && state.event.id) && item.kind !== "event") p.append(`, for the event “${item.event_title || item.event_id}”`);
    li.append(p);
    if (item.answer || item.status === "waiting") {
      const d = document.createElement("p");
      d.className = "outbox-answer";
      d.textContent = item.status === "waiting"
        ? "Kept on this page; sent when the node answers."
        : sentence(item.answer) + (item.status === "refused" || item.status === "not_sent" ? ". Nothing of it was stored; enter it again if it should be." : ".");
      li.append(d);
    }
    if (item.status !== "waiting") {
      const x = document.createElement("button");
      x.type = "button";
      x.className = "secondary";
      x.textContent = "Dismiss";
      x.setAttribute("aria-label", `Dismiss: ${STATUS_WORDS[item.status]}: ${item.label}`);
      x.addEventListener("click", () => {
        saveOutbox(outbox().filter((i) => i.key !== item.key));
        renderOutbox();
      });
      li.append(x);
    }
    return li;
  }

  // The status line: what waits, what was refused, and whether the node answers.
  let reachable = null;
  function pendingWords() {
    const q = outbox();
    const n = q.filter((i) => i.status === "waiting").length;
    const bad = q.filter((i) => i.status === "refused" || i.status === "not_sent").length;
    return [n ? `${plural(n, "change")} waiting for the node` : "", bad ? `${plural(bad, "change")} refused` : ""].filter(Boolean).join(" · ");
  }
  function renderStatus() {
    const q = outbox();
    const n = q.filter((i) => i.status === "waiting").length;
    const bad = q.filter((i) => i.status === "refused" || i.status === "not_sent").length;
    const parts = [];
    if (n) parts.push(reachable === false
      ? `${plural(n, "change")} kept on this page, waiting for the node; sent in order when it is back.`
      : `${plural(n, "change")} waiting for the node: sending…`);
    if (bad) parts.push(`${plural(bad, "change")} not stored: the node refused ${bad === 1 ? "it" : "them"} (see below).`);
    const line = el("outbox-status");
    line.textContent = parts.join(" ");
    line.hidden = !parts.length;
    line.className = "banner " + (bad ? "bad" : "waiting");
    const off = el("offline");
    off.hidden = reachable !== false;
    off.textContent = "The node does not answer. Nothing you enter is lost: it is kept on this page and sent when the node is back. " +
      "What you see is what this page last read.";
  }

  // --- events ------------------------------------------------------------------------------
  // The node's events (or those last read), and those still waiting in the outbox.
  async function loadEvents(select) {
    const known = await read("events", () => all("/v1/events"), []);
    const waiting = waitingItems().filter((i) => i.kind === "event" && !known.some((e) => e.id === i.body.id));
    state.events = known.concat(waiting.map((i) => ({ ...i.body, pending: true })));
    const sel = el("event");
    sel.replaceChildren(option("", state.events.length ? "Choose an event" : "No events yet: create one below"),
      ...state.events.map((e) => option(e.id, `${e.title} (${e.id})` + (e.pending ? " · waiting to be sent" : ""))));
    if (select) await chooseEvent(select);
    else renderOutbox();
  }

  async function chooseEvent(id) {
    const before = state.event ? state.event.id : null;
    state.event = state.events.find((e) => e.id === id) || null;
    el("event").value = state.event ? id : "";
    for (const c of ["sessions-card", "roster-card", "attendance-card"]) el(c).hidden = !state.event;
    el("event-info").textContent = "";
    renderOutbox();
    if (!state.event) {
      if (!id) localStorage.removeItem(EVENT_KEY);
      return;
    }
    localStorage.setItem(EVENT_KEY, id);
    const e = state.event;
    const end = e.provider.endorsement;
    el("event-info").textContent = [
      e.pending ? "waiting to be sent to the node" : null,
      `${e.provider.name}`,
      end ? `endorsement ${end.number}, valid ${end.valid_from} to ${end.valid_until}` : "not endorsed: no verified credit",
      `times in ${e.timezone}`,
      e.policy.grace_minutes ? `${e.policy.grace_minutes} min grace` : "no grace",
      e.policy.full_attendance_required ? "full attendance required" : null,
      e.venue,
    ].filter(Boolean).join(" · ");
    document.querySelectorAll(".tz-name").forEach((s) => (s.textContent = `(${e.timezone})`));
    if (before !== id) {
      state.csv = null;
      showCsv();
    }
    await Promise.all([loadSessions(), loadRoster()]);
  }

  function eventBody() {
    const v = (id) => el(id).value.trim();
    const body = { title: v("ev-title"), provider: { id: v("ev-prov-id"), name: v("ev-prov-name"), endorsement: null }, timezone: v("ev-tz") };
    if (v("ev-id")) body.id = v("ev-id");
    if (v("ev-venue")) body.venue = v("ev-venue");
    if (v("ev-end-number")) body.provider.endorsement = { number: v("ev-end-number"), valid_from: v("ev-end-from"), valid_until: v("ev-end-until") };
    body.policy = { grace_minutes: Number(v("ev-grace") || "0"), full_attendance_required: el("ev-full").checked };
    return body;
  }

  // The id a create is sent under when the organizer gives none: made once per form, so that
  // sending the same form again (a retry) is the same event.
  let eventDraftId = CEC.newId();
  let sessionDraftId = CEC.newId();

  async function createEvent(form) {
    clearErrors(form);
    const body = eventBody();
    const f = byField(form);
    if (!body.title) fieldError(form, f("title"), "Give the event a title.");
    if (body.id && !SCOPE_ID.test(body.id)) fieldError(form, f("id"), "Use letters, digits, '.', '_' and '-' only (at most 128).");
    if (!body.timezone) fieldError(form, f("timezone"), "Choose the time zone of the venue, like America/New_York.");
    else if (!validZone(body.timezone)) fieldError(form, f("timezone"), `“${body.timezone}” is not a time zone this browser knows; pick one from the list.`);
    if (!body.provider.id) fieldError(form, f("provider.id"), "Give the provider's id.");
    else if (!ID.test(body.provider.id)) fieldError(form, f("provider.id"), "Use letters, digits, '.', '_', ':' and '-' only.");
    if (!body.provider.name) fieldError(form, f("provider.name"), "Give the provider's name.");
    const end = body.provider.endorsement;
    if (end && !end.valid_from) fieldError(form, f("provider.endorsement.valid_from"), "When does the endorsement start?");
    if (end && !end.valid_until) fieldError(form, f("provider.endorsement.valid_until"), "When does the endorsement end?");
    const g = el("ev-grace").value.trim();
    if (!/^\d{1,3}$/.test(g || "0") || Number(g) > 120) fieldError(form, f("policy.grace_minutes"), "Whole minutes from 0 to 120.");
    if (form.querySelector("[aria-invalid=true]")) return focusFirstError(form);
    if (!body.id) body.id = eventDraftId;
    let r;
    try {
      r = await submit({ kind: "event", event_id: body.id, event_title: body.title, path: "/v1/events", body, label: `event “${body.title}” (${body.id})` });
    } catch (e) {
      apiError(form, e, f);
      focusFirstError(form);
      return;
    }
    eventDraftId = CEC.newId();
    form.reset();
    el("ev-tz").value = defaultZone();
    el("new-event").open = false;
    await loadEvents(body.id).catch(() => {});
    if (r.sent) say(`Event “${r.sent.title}” created. Add its sessions and roster below.`, "event-card");
    else say(`Event “${body.title}” is kept on this page and sent when the node answers. You can add its sessions and roster meanwhile.`, "event-card");
    el("event").focus();
  }

  function validZone(z) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: z });
      return true;
    } catch (e) {
      return false;
    }
  }
  function defaultZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      return "";
    }
  }

  // A short message for screen readers and eyes, at the end of the card it concerns.
  function say(text, card) {
    document.querySelectorAll(".said").forEach((p) => p.remove());
    const live = document.createElement("p");
    live.className = "said";
    live.setAttribute("role", "status");
    live.textContent = text;
    el(card).append(live);
  }

  // --- sessions ----------------------------------------------------------------------------
  async function loadSessions() {
    const ev = state.event;
    state.sessions = ev.pending ? [] : await read(`sessions:${ev.id}`, () => all(`/v1/events/${encodeURIComponent(ev.id)}/sessions`), []);
    if (state.event !== ev) return;
    state.sessions.sort((a, b) => (a.starts_at < b.starts_at ? -1 : a.starts_at > b.starts_at ? 1 : 0));
    const list = el("sessions");
    list.replaceChildren();
    // Sessions still in the outbox are listed in their place, as such.
    const waiting = waitingItems().filter((i) => i.kind === "session" && i.event_id === ev.id && !state.sessions.some((s) => s.id === i.body.id));
    const rows = state.sessions.map((s) => ({ s, pending: false })).concat(waiting.map((i) => ({ s: i.body, pending: true })));
    rows.sort((a, b) => (a.s.starts_at < b.s.starts_at ? -1 : a.s.starts_at > b.s.starts_at ? 1 : 0));
    for (const { s, pending } of rows) {
      const li = document.createElement("li");
      const t = document.createElement("strong");
      t.textContent = s.title;
      const d = document.createElement("div");
      d.className = "muted";
      if (pending) {
        li.className = "pending";
        const tag = document.createElement("span");
        tag.className = "tag waiting";
        tag.textContent = "waiting to be sent";
        d.textContent = `${fmtDateTime(s.starts_at)} · ${s.category} · id ${s.id}`;
        li.append(t, " ", tag, d);
        list.append(li);
        continue;
      }
      d.textContent = `${fmtDateTime(s.starts_at)}–${fmtClock(s.ends_at)} · ${s.category} · ${s.format === "online_live" ? "online" : "in person"} · up to ${s.max_cecs} CEC`;
      const segs = document.createElement("div");
      segs.className = "muted small";
      segs.textContent = s.segments.map((g) => `${g.kind.replace("_", " ")} ${g.minutes}`).join(", ") + ` (${s.creditable_minutes} creditable min) · id ${s.id}`;
      li.append(t, d, segs);
      list.append(li);
    }
    if (!state.sessions.length && !waiting.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No sessions yet.";
      list.append(li);
    }
    const cats = new Set(CATEGORIES.concat(state.sessions.map((s) => s.category)));
    el("category-list").replaceChildren(...[...cats].map((c) => option(c, c)));
    const sel = el("att-session");
    const keep = sel.value;
    sel.replaceChildren(option("", state.sessions.length ? "Choose a session" : "No sessions yet"),
      ...state.sessions.map((s) => option(s.id, `${s.title} · ${fmtDateTime(s.starts_at)}`)));
    if (keep && state.sessions.some((s) => s.id === keep)) sel.value = keep;
    else chooseAttendance("");
  }

  let segmentSeq = 0;
  function addSegment(kind, minutes, focus) {
    const n = ++segmentSeq;
    const li = document.createElement("li");
    li.className = "segment";
    const kl = document.createElement("label");
    kl.htmlFor = "seg-kind-" + n;
    kl.textContent = "Kind";
    const ks = document.createElement("select");
    ks.id = "seg-kind-" + n;
    ks.className = "seg-kind";
    for (const [k, creditable] of KINDS) ks.append(option(k, `${k.replace("_", " ")} (${creditable ? "credit" : "no credit"})`));
    ks.value = kind || "instruction";
    const ml = document.createElement("label");
    ml.htmlFor = "seg-min-" + n;
    ml.textContent = "Minutes";
    const mi = document.createElement("input");
    mi.id = "seg-min-" + n;
    mi.className = "seg-minutes";
    mi.type = "number";
    mi.inputMode = "numeric";
    mi.min = "1";
    mi.max = "1440";
    mi.step = "1";
    mi.required = true;
    mi.value = minutes || "";
    const rm = document.createElement("button");
    rm.type = "button";
    rm.className = "secondary seg-remove";
    rm.textContent = "Remove";
    rm.addEventListener("click", () => {
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      renumberSegments();
      (next ? next.querySelector("select") : el("add-segment")).focus();
    });
    const k = document.createElement("div");
    k.className = "seg-field";
    k.append(kl, ks);
    const m = document.createElement("div");
    m.className = "seg-field";
    m.append(ml, mi);
    li.append(k, m, rm);
    el("segments").append(li);
    ks.addEventListener("change", segmentsTotal);
    mi.addEventListener("input", segmentsTotal);
    renumberSegments();
    if (focus) ks.focus();
  }
  function renumberSegments() {
    const rows = [...el("segments").children];
    rows.forEach((li, i) => {
      li.querySelector(".seg-kind").dataset.field = `segments[${i}].kind`;
      li.querySelector(".seg-minutes").dataset.field = `segments[${i}].minutes`;
      li.querySelector(".seg-kind").setAttribute("aria-label", `Segment ${i + 1} kind`);
      li.querySelector(".seg-minutes").setAttribute("aria-label", `Segment ${i + 1} minutes`);
      li.querySelector(".seg-remove").setAttribute("aria-label", `Remove segment ${i + 1}`);
      li.querySelector(".seg-remove").hidden = rows.length === 1;
    });
    segmentsTotal();
  }
  function segmentsTotal() {
    let total = 0;
    let credit = 0;
    for (const li of el("segments").children) {
      const m = Number(li.querySelector(".seg-minutes").value) || 0;
      total += m;
      if (KINDS.find(([k]) => k === li.querySelector(".seg-kind").value)[1]) credit += m;
    }
    el("segments-total").textContent = `${total} minutes in all, ${credit} of them creditable.`;
  }

  async function createSession(form) {
    clearErrors(form);
    const f = byField(form);
    const v = (id) => el(id).value.trim();
    const body = { title: v("se-title"), category: v("se-category") || "general", format: el("se-format").value, segments: [] };
    if (v("se-id")) body.id = v("se-id");
    if (!body.title) fieldError(form, f("title"), "Give the session a title.");
    if (body.id && !SCOPE_ID.test(body.id)) fieldError(form, f("id"), "Use letters, digits, '.', '_' and '-' only (at most 128).");
    if (!ID.test(body.category)) fieldError(form, f("category"), "One word: letters, digits, '.', '_', ':' and '-' (like ethics).");
    const start = v("se-start");
    if (!start) fieldError(form, f("starts_at"), `When does it start, in ${tz()}?`);
    else {
      body.starts_at = wallToUtc(start, tz());
      if (!body.starts_at) fieldError(form, f("starts_at"), `${start.replace("T", " ")} does not exist in ${tz()} (the clocks skip it); choose another time.`);
    }
    [...el("segments").children].forEach((li, i) => {
      const mi = li.querySelector(".seg-minutes");
      const raw = mi.value.trim();
      if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1440) fieldError(form, mi, `Segment ${i + 1}: whole minutes from 1 to 1440.`);
      body.segments.push({ kind: li.querySelector(".seg-kind").value, minutes: Number(raw) });
    });
    if (!body.segments.length) fieldError(form, null, "Add at least one segment.");
    if (form.querySelector("[aria-invalid=true]") || form.querySelector(".form-error").textContent) return focusFirstError(form);
    if (!body.id) body.id = sessionDraftId;
    const ev = state.event;
    let r;
    try {
      r = await submit({
        kind: "session", event_id: ev.id, event_title: ev.title, path: `/v1/events/${encodeURIComponent(ev.id)}/sessions`, body,
        label: `session “${body.title}” (${body.id}), ${fmtDateTime(body.starts_at)}`,
      });
    } catch (e) {
      apiError(form, e, f);
      focusFirstError(form);
      return;
    }
    sessionDraftId = CEC.newId();
    form.reset();
    el("se-category").value = "general";
    el("segments").replaceChildren();
    addSegment("instruction", "");
    await loadSessions().catch(() => {});
    if (r.sent) say(`Session “${r.sent.title}” added: ${fmtDateTime(r.sent.starts_at)}, up to ${r.sent.max_cecs} CEC.`, "sessions-card");
    else say(`Session “${body.title}” is kept on this page and sent when the node answers.`, "sessions-card");
    el("se-title").focus();
  }

  // --- roster ------------------------------------------------------------------------------
  async function loadRoster() {
    const ev = state.event;
    const r = ev.pending ? { members: [] } : await read(`roster:${ev.id}`, () => api("GET", `/v1/events/${encodeURIComponent(ev.id)}/roster`), { members: [] });
    if (state.event !== ev) return;
    state.roster = r.members || [];
    showRosterCount();
  }
  function showRosterCount() {
    const n = state.roster.length;
    const ev = state.event;
    const w = waitingItems().filter((i) => i.kind === "roster" && ev && i.event_id === ev.id)
      .reduce((k, i) => k + i.body.members.length, 0);
    el("roster-count").textContent = (n ? `${n} member${n === 1 ? "" : "s"} on the roster.` : "The roster is empty.") +
      (w ? ` ${plural(w, "member")} waiting to be sent.` : "");
  }

  // RFC 4180 CSV: fields split by `delim`, quoted fields may hold the delimiter, newlines and
  // doubled quotes. Answers rows with the line each starts on, and whether a quote never closed.
  function parseCsv(text, delim) {
    const rows = [];
    let row = [];
    let field = "";
    let quoted = false;
    let line = 1;
    let start = 1;
    let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    const endRow = () => {
      row.push(field);
      rows.push({ line: start, cells: row });
      row = [];
      field = "";
    };
    while (i < text.length) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          quoted = false;
        } else {
          if (ch === "\n") line++;
          field += ch;
        }
        i++;
        continue;
      }
      if (ch === '"' && field.trim() === "") {
        field = "";
        quoted = true;
      } else if (ch === delim) {
        row.push(field);
        field = "";
      } else if (ch === "\r" || ch === "\n") {
        if (ch === "\r" && text[i + 1] === "\n") i++;
        endRow();
        line++;
        start = line;
      } else {
        field += ch;
      }
      i++;
    }
    if (quoted || field !== "" || row.length) endRow();
    return { rows, unclosed: quoted ? start : null };
  }

  const ID_COLUMNS = ["member_id", "memberid", "member", "member_number", "member_no", "membership_number", "id", "badge", "badge_id"];
  const NAME_COLUMNS = ["name", "full_name", "member_name", "fullname"];
  function norm(h) {
    return h.trim().toLowerCase().replace(/[\s\-.]+/g, "_");
  }

  // Reads a roster file: which rows become members, which are refused and why.
  function readRoster(text) {
    const firstLine = text.split(/\r?\n/, 1)[0] || "";
    const delim = !firstLine.includes(",") && firstLine.includes(";") ? ";" : !firstLine.includes(",") && firstLine.includes("\t") ? "\t" : ",";
    const { rows, unclosed } = parseCsv(text, delim);
    const nonBlank = rows.filter((r) => r.cells.some((c) => c.trim() !== ""));
    if (!nonBlank.length) return { error: "The file is empty." };
    const header = nonBlank[0].cells.map(norm);
    const col = (names) => names.map((n) => header.indexOf(n)).find((i) => i >= 0);
    const idCol = col(ID_COLUMNS);
    const nameCol = col(NAME_COLUMNS);
    const firstCol = col(["first_name", "firstname", "given_name", "first"]);
    const lastCol = col(["last_name", "lastname", "surname", "family_name", "last"]);
    const emailCol = col(["email", "e_mail", "email_address", "mail"]);
    const missing = [];
    if (idCol === undefined) missing.push("a member id column (member_id)");
    if (nameCol === undefined && (firstCol === undefined || lastCol === undefined)) missing.push("a name column (name, or first_name and last_name)");
    if (missing.length) {
      return { error: `The header row (line ${nonBlank[0].line}) needs ${missing.join(" and ")}; it has: ${nonBlank[0].cells.map((c) => `“${c.trim()}”`).join(", ")}.` };
    }
    const members = [];
    const refused = [];
    const seen = new Map();
    for (const r of nonBlank.slice(1)) {
      const cell = (i) => (i === undefined ? "" : (r.cells[i] || "").trim());
      const id = cell(idCol);
      const name = (nameCol !== undefined && cell(nameCol) ? cell(nameCol) : [cell(firstCol), cell(lastCol)].filter(Boolean).join(" ")).replace(/\s+/g, " ");
      const email = cell(emailCol);
      let why = null;
      if (unclosed !== null && r.line >= unclosed) why = "a quote (\") opens here and never closes";
      else if (!id) why = "no member id";
      else if (!ID.test(id)) why = `member id “${id.slice(0, 40)}” may hold only letters, digits, '.', '_', ':' and '-' (at most 128)`;
      else if (!name) why = `no name for ${id}`;
      else if (seen.has(id)) why = `${id} is already on line ${seen.get(id)}`;
      if (why) {
        refused.push({ line: r.line, why });
        continue;
      }
      seen.set(id, r.line);
      const m = { member_id: id, name };
      if (email) m.email = email;
      members.push({ line: r.line, member: m });
    }
    return { rows: nonBlank.length - 1, members, refused, delim };
  }

  function showCsv() {
    const box = el("roster-preview");
    box.replaceChildren();
    const send = el("roster-send");
    send.hidden = true;
    const c = state.csv;
    if (!c) return;
    if (c.error) {
      const p = document.createElement("p");
      p.className = "field-error";
      p.textContent = c.error;
      box.append(p);
      return;
    }
    const p = document.createElement("p");
    p.className = "csv-summary";
    p.id = "csv-summary";
    p.textContent = `${c.name}: ${c.rows} row${c.rows === 1 ? "" : "s"} read, ${c.members.length} ready to send, ${c.refused.length} refused.`;
    box.append(p);
    if (c.refused.length) {
      const h = document.createElement("h3");
      h.textContent = "Refused rows (not sent)";
      const ul = document.createElement("ul");
      ul.id = "csv-refused";
      ul.className = "refused";
      for (const r of c.refused.slice(0, 200)) {
        const li = document.createElement("li");
        li.textContent = `Line ${r.line}: ${r.why}`;
        ul.append(li);
      }
      if (c.refused.length > 200) {
        const li = document.createElement("li");
        li.textContent = `… and ${c.refused.length - 200} more`;
        ul.append(li);
      }
      box.append(h, ul);
    }
    if (c.members.length) {
      const h = document.createElement("h3");
      h.textContent = c.members.length > 8 ? `The first 8 of ${c.members.length} to send` : "To send";
      const ul = document.createElement("ul");
      ul.className = "plain-list small";
      ul.id = "csv-ready";
      for (const m of c.members.slice(0, 8)) {
        const li = document.createElement("li");
        li.textContent = `${m.member.member_id} · ${m.member.name}${m.member.email ? " · " + m.member.email : ""}`;
        ul.append(li);
      }
      box.append(h, ul);
      send.textContent = `Add ${c.members.length} member${c.members.length === 1 ? "" : "s"} to the roster`;
      send.hidden = false;
    }
  }

  async function readFile(input) {
    const form = el("roster-form");
    clearErrors(form);
    state.csv = null;
    const file = input.files && input.files[0];
    if (!file) return showCsv();
    if (file.size > MAX_CSV_BYTES) {
      state.csv = { error: `${file.name} is ${Math.round(file.size / 1048576)} MB; a roster file may be at most 5 MB.` };
      return showCsv();
    }
    let text;
    try {
      text = await file.text();
    } catch (e) {
      state.csv = { error: `${file.name} could not be read: ${e.message}` };
      return showCsv();
    }
    state.csv = { name: file.name, ...readRoster(text) };
    showCsv();
  }

  async function sendRoster(form) {
    clearErrors(form);
    const c = state.csv;
    if (!c || !c.members || !c.members.length) return;
    const ev = state.event;
    const send = el("roster-send");
    send.disabled = true;
    let sent = 0;
    let kept = 0;
    try {
      for (let i = 0; i < c.members.length; i += ROSTER_CHUNK) {
        const chunk = c.members.slice(i, i + ROSTER_CHUNK);
        const lines = chunk.map((m) => m.line);
        const item = {
          kind: "roster", event_id: ev.id, event_title: ev.title, path: `/v1/events/${encodeURIComponent(ev.id)}/roster`,
          body: { members: chunk.map((m) => m.member) }, lines,
          label: `roster: ${plural(chunk.length, "member")} from ${c.name} (line${lines.length === 1 ? "" : "s"} ${lines[0]}${lines.length > 1 ? "–" + lines[lines.length - 1] : ""})`,
        };
        try {
          const r = await submit(item);
          if (r.sent) {
            state.roster = r.sent.members || [];
            sent += chunk.length;
          } else kept += chunk.length;
        } catch (e) {
          // A refused member: name its line in the file.
          const m = e.field && /^members\[(\d+)\]/.exec(e.field);
          const line = m ? chunk[Number(m[1])] && chunk[Number(m[1])].line : null;
          fieldError(form, el("roster-file"), (line ? `Line ${line}: ` : "") + sentence(e.message) +
            (sent || kept ? ` (${sent + kept} members before it were ${kept ? "kept to be sent" : "added"})` : ""));
          focusFirstError(form);
          return;
        }
      }
      showRosterCount();
      state.csv = null;
      showCsv();
      el("roster-file").value = "";
      el("roster-preview").textContent = kept
        ? `${plural(kept, "member")} from ${c.name} kept on this page and sent when the node answers` + (sent ? `; ${sent} added or updated.` : ".")
        : `${sent} member${sent === 1 ? "" : "s"} added or updated from ${c.name}. The roster has ${state.roster.length}.`;
      el("roster-file").focus();
    } finally {
      send.disabled = false;
    }
  }

  // --- attendance --------------------------------------------------------------------------
  function replaySort(a, b) {
    const ka = [a.at, a.direction === "in" ? 0 : 1, a.id];
    const kb = [b.at, b.direction === "in" ? 0 : 1, b.id];
    for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    return 0;
  }

  function chooseAttendance(id) {
    state.attSession = state.sessions.find((s) => s.id === id) || null;
    el("att-refresh").hidden = !state.attSession;
    el("att-summary").textContent = "";
    el("attendance").replaceChildren();
    el("not-seen").hidden = true;
    el("att-error").textContent = "";
    if (state.attSession) refreshAttendance();
  }

  // At most `n` calls at once.
  async function pool(items, n, f) {
    const out = new Array(items.length);
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]);
      }
    }));
    return out;
  }

  let refreshing = false;
  async function refreshAttendance() {
    const s = state.attSession;
    if (!s || refreshing) return;
    refreshing = true;
    el("att-error").textContent = "";
    try {
      const e = state.event;
      const slot = `att:${e.id}:${s.id}`;
      const data = await read(slot, async () => {
        const checkins = await all(`/v1/checkins?event_id=${encodeURIComponent(e.id)}&session_id=${encodeURIComponent(s.id)}`);
        const byMember = new Map();
        for (const c of checkins.sort(replaySort)) {
          if (!byMember.has(c.member_id)) byMember.set(c.member_id, []);
          byMember.get(c.member_id).push(c);
        }
        const members = [...byMember.keys()];
        const credit = await pool(members, 6, async (m) => {
          const a = await api("GET", `/v1/members/${encodeURIComponent(m)}/attendance?event_id=${encodeURIComponent(e.id)}`);
          return (a.items || []).find((x) => x.session_id === s.id) || null;
        });
        const names = new Map(state.roster.map((r) => [r.member_id, r.name]));
        const people = members.map((m, i) => {
          const scans = byMember.get(m);
          const live = scans.filter((c) => !c.voided);
          const last = live[live.length - 1];
          const name = names.get(m) || scans.map((c) => c.member_name).find(Boolean) || null;
          return { id: m, name, scans, inRoom: Boolean(last && last.direction === "in"), credit: credit[i], known: names.has(m) };
        });
        people.sort((a, b) => (a.inRoom !== b.inRoom ? (a.inRoom ? -1 : 1) : (a.name || a.id).localeCompare(b.name || b.id)));
        return { people, checkins };
      }, null);
      if (state.attSession !== s || !data) return;
      renderAttendance(s, data.people, data.checkins, cache[slot] ? cache[slot].at : new Date().toISOString());
    } catch (err) {
      el("att-error").textContent = sentence(err.message);
    } finally {
      refreshing = false;
    }
  }

  function renderAttendance(s, shown, checkins, at) {
    // A void waiting in the outbox already counts here: its scan no longer puts anyone in the room.
    const voiding = new Map(waitingItems().filter((i) => i.kind === "void").map((i) => [i.checkin_id, i]));
    const people = shown.map((p) => {
      if (!p.scans.some((c) => voiding.has(c.id))) return p;
      const live = p.scans.filter((c) => !c.voided && !voiding.has(c.id));
      const last = live[live.length - 1];
      return { ...p, inRoom: Boolean(last && last.direction === "in"), voidWaits: true };
    });
    const inRoom = people.filter((p) => p.inRoom).length;
    const voided = checkins.filter((c) => c.voided).length;
    const sum = el("att-summary");
    sum.replaceChildren();
    const big = document.createElement("div");
    big.className = "count";
    const n = document.createElement("strong");
    n.id = "att-in-room";
    n.textContent = String(inRoom);
    big.append("In the room: ", n);
    const small = document.createElement("p");
    small.className = "muted";
    small.id = "att-totals";
    small.textContent = `${people.length} came · ${checkins.length} scan${checkins.length === 1 ? "" : "s"}${voided ? ` (${voided} voided)` : ""} · ` +
      `${fmtDateTime(s.starts_at)}–${fmtClock(s.ends_at)} ${tz()} · up to ${s.max_cecs} CEC · updated ${fmtClock(at)}`;
    sum.append(big, small);

    const list = el("attendance");
    list.replaceChildren();
    for (const p of people) {
      const li = document.createElement("li");
      li.className = "person" + (p.inRoom ? " in-room" : "");
      li.dataset.member = p.id;
      const head = document.createElement("div");
      head.className = "person-head";
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = p.name ? `${p.name} (${p.id})` : p.id;
      const tag = document.createElement("span");
      tag.className = "tag " + (p.inRoom ? "in" : "");
      tag.textContent = p.inRoom ? "in the room" : p.scans.every((c) => c.voided) ? "all scans voided" : "left";
      head.append(who, tag);
      if (!p.known) {
        const u = document.createElement("span");
        u.className = "tag bad";
        u.textContent = "not on the roster";
        head.append(u);
      }
      const scans = document.createElement("ol");
      scans.className = "scans";
      scans.setAttribute("aria-label", `Scans of ${p.name || p.id}`);
      for (const c of p.scans) {
        const sc = document.createElement("li");
        sc.className = c.voided ? "voided" : "";
        const t = document.createElement("span");
        t.className = "scan-what";
        t.textContent = `${c.direction} ${fmtClock(c.at)}`;
        sc.append(t);
        const waitingVoid = voiding.get(c.id);
        if (c.voided) {
          const v = document.createElement("span");
          v.className = "tag bad";
          v.textContent = "voided" + (c.voided.reason ? `: ${c.voided.reason}` : "");
          sc.append(" ", v);
        } else if (waitingVoid) {
          const v = document.createElement("span");
          v.className = "tag waiting";
          v.textContent = "void waiting to be sent" + (waitingVoid.body.reason ? `: ${waitingVoid.body.reason}` : "");
          sc.append(" ", v);
        } else {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "secondary void-button";
          b.textContent = "Void";
          b.setAttribute("aria-label", `Void the scan of ${p.name || p.id}, ${c.direction} at ${fmtClock(c.at)}`);
          b.addEventListener("click", () => openVoid(sc, c, p));
          sc.append(" ", b);
        }
        scans.append(sc);
      }
      const cr = document.createElement("div");
      cr.className = "credit";
      const a = p.credit;
      if (!a) {
        cr.textContent = "No credit: no scan counts.";
      } else {
        const full = cmpDec(a.cecs, a.max_cecs) >= 0;
        const b = document.createElement("strong");
        b.textContent = `${a.cecs} CEC`;
        cr.append(b, ` of ${a.max_cecs} · ${a.attended_minutes} min present, ${a.creditable_minutes} creditable` + (a.verified ? " · verified" : " · not verified"));
        if (!full || a.reason) {
          const r = document.createElement("div");
          r.className = "reason";
          r.textContent = a.reason || a.flags.join(", ");
          cr.append(r);
        }
      }
      if (p.voidWaits) {
        const w = document.createElement("div");
        w.className = "reason";
        w.textContent = "Credit as the node computed it before the void that waits on this page.";
        cr.append(w);
      }
      li.append(head, scans, cr);
      list.append(li);
    }
    if (!people.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No scans for this session yet.";
      list.append(li);
    }
    const absent = state.roster.filter((r) => !people.some((p) => p.id === r.member_id));
    const ns = el("not-seen");
    ns.hidden = !state.roster.length;
    el("not-seen-h").textContent = `On the roster, not seen: ${absent.length}`;
    el("not-seen-list").replaceChildren(...absent.slice(0, 500).map((r) => {
      const li = document.createElement("li");
      li.textContent = `${r.name} (${r.member_id})`;
      return li;
    }));
  }

  // Voiding a scan (a correction voids, never deletes): idempotent by the check-in's id, so a
  // void that waits in the outbox is the same void when it is sent again.
  function openVoid(sc, c, p) {
    if (sc.querySelector(".void-form")) return;
    const form = document.createElement("form");
    form.className = "void-form";
    const label = document.createElement("label");
    label.className = "visually-hidden";
    label.htmlFor = "void-reason-" + c.id;
    label.textContent = "Reason for voiding";
    const input = document.createElement("input");
    input.type = "text";
    input.id = "void-reason-" + c.id;
    input.className = "void-reason";
    input.placeholder = "Reason (optional)";
    input.maxLength = 500;
    const ok = document.createElement("button");
    ok.type = "submit";
    ok.className = "danger void-confirm";
    ok.textContent = "Confirm void";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "secondary";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", () => form.remove());
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const reason = input.value.trim();
      const e = state.event;
      let r;
      try {
        r = await submit({
          kind: "void", event_id: e.id, event_title: e.title, checkin_id: c.id,
          path: `/v1/checkins/${encodeURIComponent(c.id)}/void`, body: reason ? { reason } : {},
          label: `void of the scan of ${p.name || p.id}, ${c.direction} at ${fmtClock(c.at)}`,
        });
      } catch (err) {
        el("att-error").textContent = `Not voided: ${sentence(err.message)}`;
        return;
      }
      form.remove();
      if (r.sent) say(`The scan of ${p.name || p.id}, ${c.direction} at ${fmtClock(c.at)}, is voided; it no longer counts.`, "attendance-card");
      else say(`The void of ${p.name || p.id}'s scan is kept on this page and sent when the node answers.`, "attendance-card");
      await refreshAttendance();
    });
    form.append(label, input, ok, cancel);
    sc.append(form);
    input.focus();
  }

  // --- start -------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", async () => {
    CEC.onSignedOut(() => {
      el("signin").hidden = false;
    });
    CEC.onSignedIn(() => {
      el("signin").hidden = true;
      flush();
    });
    CEC.onReachability((ok) => {
      reachable = ok;
      renderStatus();
      if (ok) {
        retryMs = 2000;
        nextTry = 0;
        flush();
      }
    });
    CEC.startSync(pendingWords);
    renderOutbox();
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    el("tz-list").replaceChildren(...zones.map((z) => option(z, z)));
    el("ev-tz").value = defaultZone();
    addSegment("instruction", "");
    el("add-segment").addEventListener("click", () => addSegment("instruction", "", true));
    el("event").addEventListener("change", (e) => chooseEvent(e.target.value).catch(() => {}));
    el("event-form").addEventListener("submit", (e) => {
      e.preventDefault();
      createEvent(e.target);
    });
    el("session-form").addEventListener("submit", (e) => {
      e.preventDefault();
      createSession(e.target);
    });
    el("roster-file").addEventListener("change", (e) => readFile(e.target));
    el("roster-form").addEventListener("submit", (e) => {
      e.preventDefault();
      sendRoster(e.target);
    });
    el("att-session").addEventListener("change", (e) => chooseAttendance(e.target.value));
    el("att-refresh").addEventListener("click", refreshAttendance);
    setInterval(() => {
      // Not while the organizer types a reason for a void: the list would be rebuilt under it.
      if (!document.hidden && !el("attendance").querySelector(".void-form")) refreshAttendance();
    }, 15000);
    setInterval(flushIfDue, 1000);
    try {
      await loadEvents(localStorage.getItem(EVENT_KEY));
      if (!state.events.length) el("new-event").open = true;
    } catch (e) {
      /* signed out: the banner says what to do */
    }
    flush();
  });

  // For tests and the console: the pure parts.
  window.CEC_ORGANIZE = { parseCsv, readRoster, wallToUtc, cmpDec };
})();
