// The kiosk screen: choose a session, scan badges in and out, see each member's credit at once,
// void a mistaken scan. Scans and voids taken while the node does not answer wait in
// localStorage, each under its own identity (a scan's id, the voided check-in's id), and are
// sent when it is back: a retry is the same check-in, the same void. A queued scan the node
// refuses is named in a notice, never dropped silently. The recent scans survive a reload.
"use strict";

(() => {
  const { api, all, el, beep, fmtTime } = CEC;
  const ID = /^[A-Za-z0-9._:-]{1,128}$/;
  const QUEUE_KEY = "cec.kiosk.pending";
  const PLACE_KEY = "cec.kiosk.place";
  const VOID_KEY = "cec.kiosk.voids";
  const NOTICE_KEY = "cec.kiosk.notices";
  const RECENT_KEY = "cec.kiosk.recent";
  const RECENT_MAX = 20;
  // In automatic mode, a second scan of one badge this soon is a double scan, not an out.
  const DOUBLE_SCAN_MS = 60000;

  const state = {
    events: [],
    event: null,
    session: null,
    roster: new Map(),
    checkins: new Map(), // id -> check-in JSON (as the node answered, or as queued)
    recent: [], // ids, newest first
    notes: new Map(), // id -> the credit line shown for it
  };

  // --- the offline queue -------------------------------------------------------------------
  function queue() {
    try {
      return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]");
    } catch (e) {
      return [];
    }
  }
  function saveQueue(q) {
    localStorage.setItem(QUEUE_KEY, JSON.stringify(q));
  }
  function enqueue(body) {
    const q = queue();
    if (!q.some((b) => b.id === body.id)) q.push(body);
    saveQueue(q);
  }

  // Voids waiting for the node: `{checkin_id, reason}`, one per check-in (voiding is
  // idempotent by the check-in's id, so a resend is the same void).
  const load = CEC.stored;
  const voidQueue = () => load(VOID_KEY, []);
  function enqueueVoid(checkinId, reason) {
    const q = voidQueue();
    if (!q.some((v) => v.checkin_id === checkinId)) q.push({ checkin_id: checkinId, reason });
    localStorage.setItem(VOID_KEY, JSON.stringify(q));
  }
  function dropVoid(checkinId) {
    localStorage.setItem(VOID_KEY, JSON.stringify(voidQueue().filter((v) => v.checkin_id !== checkinId)));
  }
  function voidPending(id) {
    return voidQueue().some((v) => v.checkin_id === id);
  }

  // What waits on this screen, for the sync bar.
  function waiting() {
    const s = queue().length;
    const v = voidQueue().length;
    const parts = [];
    if (s) parts.push(`${s} scan${s === 1 ? "" : "s"}`);
    if (v) parts.push(`${v} void${v === 1 ? "" : "s"}`);
    return parts.length ? parts.join(" and ") + " waiting on this screen" : "";
  }

  // --- notices: what the node refused after the screen had said "saved" -------------------
  const notices = () => load(NOTICE_KEY, []);
  function addNotice(id, text) {
    const n = notices().filter((x) => x.id !== id);
    n.push({ id, text });
    localStorage.setItem(NOTICE_KEY, JSON.stringify(n.slice(-20)));
    renderNotices();
    beep("unknown");
  }
  function renderNotices() {
    const box = el("notices");
    box.replaceChildren();
    for (const n of notices()) {
      const div = document.createElement("div");
      div.className = "notice";
      div.dataset.id = n.id;
      const p = document.createElement("p");
      p.textContent = n.text;
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = "Dismiss";
      b.setAttribute("aria-label", "Dismiss: " + n.text);
      b.addEventListener("click", () => {
        localStorage.setItem(NOTICE_KEY, JSON.stringify(notices().filter((x) => x.id !== n.id)));
        renderNotices();
        el("scan").focus();
      });
      div.append(p, b);
      box.append(div);
    }
    box.hidden = !box.children.length;
  }
  function describe(c) {
    const name = c.member_name || nameOf(c.member_id);
    return `${name === c.member_id ? name : `${name} (${c.member_id})`} ${c.direction} at ${fmtTime(c.at, tz())}`;
  }

  // Whether a request that failed with `e` should wait on this screen and be sent again later:
  // the node does not answer, fails, or does not take this screen's session (signed out).
  const waits = CEC.waits;

  let flushing = false;
  async function flush() {
    if (flushing) return;
    if (!queue().length && !voidQueue().length) return;
    flushing = true;
    try {
      await flushScans();
      await flushVoids();
    } catch (e) {
      /* still offline: try again later */
    } finally {
      flushing = false;
      render();
      CEC.refreshSync();
    }
  }

  async function flushScans() {
    const q = queue();
    if (!q.length) return;
    const answer = await api("POST", "/v1/checkins/batch", { checkins: q });
    const keep = [];
    answer.results.forEach((r, i) => {
      if (r.checkin) {
        state.checkins.set(r.checkin.id, r.checkin);
      } else if (r.status >= 500) {
        keep.push(q[i]);
      } else {
        // Refused for good (404 unknown session, 409 conflict, 422 invalid): say so, by name.
        const c = state.checkins.get(q[i].id) || { ...q[i], member_name: null, flags: [], voided: null };
        const why = (r.error && r.error.message) || `status ${r.status}`;
        state.checkins.set(c.id, { ...c, refused: why });
        const hadVoid = voidPending(c.id);
        dropVoid(c.id);
        addNotice(c.id, `Not recorded: the scan of ${describe(c)}. The node refused it: ${why}.` +
          (hadVoid ? " Its void was dropped too." : " Scan the badge again if it should count."));
      }
    });
    // Scans queued while this batch was on its way stay queued.
    const sent = new Set(q.map((b) => b.id));
    saveQueue(keep.concat(queue().filter((b) => !sent.has(b.id))));
  }

  async function flushVoids() {
    const scans = new Set(queue().map((b) => b.id));
    for (const v of voidQueue()) {
      if (scans.has(v.checkin_id)) continue; // its scan goes first
      try {
        const c = await api("POST", `/v1/checkins/${encodeURIComponent(v.checkin_id)}/void`, v.reason ? { reason: v.reason } : {});
        state.checkins.set(c.id, c);
        state.notes.delete(c.id);
        dropVoid(v.checkin_id);
      } catch (e) {
        if (waits(e)) throw e;
        const c = state.checkins.get(v.checkin_id);
        dropVoid(v.checkin_id);
        addNotice("void:" + v.checkin_id, `Not voided: ${c ? "the scan of " + describe(c) : "scan " + v.checkin_id}. The node refused the void: ${e.message}.`);
      }
    }
  }

  // --- the recent scans, kept across a reload ----------------------------------------------
  function remember() {
    const items = state.recent.slice(0, RECENT_MAX).map((id) => state.checkins.get(id)).filter(Boolean);
    const notes = {};
    for (const c of items) if (state.notes.has(c.id)) notes[c.id] = state.notes.get(c.id);
    localStorage.setItem(RECENT_KEY, JSON.stringify({ items, notes }));
  }
  function restoreRecent() {
    const r = load(RECENT_KEY, { items: [], notes: {} });
    for (const c of r.items || []) {
      if (!c || !c.id) continue;
      if (!state.checkins.has(c.id)) state.checkins.set(c.id, c);
      state.recent.push(c.id);
    }
    for (const [id, note] of Object.entries(r.notes || {})) state.notes.set(id, note);
  }

  // --- feedback ----------------------------------------------------------------------------
  function feedback(kind, title, detail) {
    const fb = el("feedback");
    fb.className = "feedback " + kind;
    el("fb-title").textContent = title;
    el("fb-detail").textContent = detail || "";
    // On a phone the answer may sit below the field: bring it into view.
    if (fb.scrollIntoView) fb.scrollIntoView({ block: "nearest" });
    if (kind === "accepted" || kind === "duplicate" || kind === "unknown") beep(kind);
    else if (kind === "queued") beep("accepted");
    else if (kind === "error") beep("unknown");
  }

  function whenBack(e) {
    return e && e.status === 401 ? "once it is signed in again" : "when the node is back";
  }

  function tz() {
    return (state.event && state.event.timezone) || undefined;
  }

  function nameOf(memberId) {
    const m = state.roster.get(memberId);
    return m ? m.name : memberId;
  }

  // --- presence from the check-ins ---------------------------------------------------------
  function replayKey(c) {
    return [c.at, c.direction === "in" ? 0 : 1, c.id];
  }
  function byReplay(a, b) {
    const ka = replayKey(a);
    const kb = replayKey(b);
    for (let i = 0; i < 3; i++) {
      if (ka[i] < kb[i]) return -1;
      if (ka[i] > kb[i]) return 1;
    }
    return 0;
  }
  function sessionCheckins() {
    const s = state.session;
    const voiding = new Set(voidQueue().map((v) => v.checkin_id));
    return [...state.checkins.values()].filter(
      (c) => s && c.session_id === s.id && c.event_id === s.event_id && !c.voided && !c.refused && !voiding.has(c.id),
    );
  }
  function lastOf(memberId) {
    const mine = sessionCheckins().filter((c) => c.member_id === memberId).sort(byReplay);
    return mine[mine.length - 1] || null;
  }
  function present() {
    const last = new Map();
    for (const c of sessionCheckins().sort(byReplay)) last.set(c.member_id, c.direction);
    return [...last.values()].filter((d) => d === "in").length;
  }

  // --- rendering ---------------------------------------------------------------------------
  function render() {
    el("count").textContent = String(present());
    const list = el("recent");
    const open = list.querySelector(".void-form");
    const openId = open ? open.dataset.id : null;
    const openReason = open ? open.querySelector(".void-reason").value : "";
    // The list is rebuilt: keep the keyboard where it was.
    const active = document.activeElement;
    const focus = active && list.contains(active) && active.closest("li")
      ? { id: active.closest("li").dataset.id, cls: active.classList[active.classList.length - 1] } : null;
    list.replaceChildren();
    const pending = new Set(queue().map((b) => b.id));
    const voiding = new Map(voidQueue().map((v) => [v.checkin_id, v]));
    state.recent = [...new Set(state.recent)].slice(0, RECENT_MAX);
    for (const id of state.recent) {
      const c = state.checkins.get(id);
      if (!c) continue;
      const li = document.createElement("li");
      li.dataset.id = id;
      if (c.voided || voiding.has(id) || c.refused) li.className = "voided";
      const who = document.createElement("div");
      who.className = "who";
      who.textContent = `${c.member_name || nameOf(c.member_id)} · ${c.direction === "in" ? "in" : "out"} · ${fmtTime(c.at, tz())}`;
      const what = document.createElement("div");
      what.className = "what";
      const bits = [];
      if (pending.has(id)) bits.push("waiting to be sent");
      if (c.refused) bits.push("refused by the node: " + c.refused);
      if (c.voided) bits.push("voided" + (c.voided.reason ? ": " + c.voided.reason : ""));
      else if (voiding.has(id)) {
        const r = voiding.get(id).reason;
        bits.push("void waiting to be sent" + (r ? ": " + r : ""));
      }
      if (state.notes.has(id)) bits.push(state.notes.get(id));
      what.textContent = bits.join(" · ");
      const info = document.createElement("div");
      info.append(who, what);
      li.append(info);
      if (!c.voided && !voiding.has(id) && !c.refused) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "secondary void-button";
        b.textContent = "Void";
        b.setAttribute("aria-label", `Void the scan of ${c.member_name || c.member_id} at ${fmtTime(c.at, tz())}`);
        b.addEventListener("click", () => openVoid(li, id));
        li.append(b);
      }
      list.append(li);
      if (openId === id && !c.voided && !voiding.has(id)) {
        openVoid(li, id, true);
        li.querySelector(".void-reason").value = openReason;
      }
    }
    if (focus) {
      const li = [...list.children].find((x) => x.dataset.id === focus.id);
      const target = li && focus.cls && li.querySelector("." + focus.cls);
      if (target) target.focus();
    }
    remember();
  }

  function openVoid(li, id, keepFocus) {
    if (li.querySelector(".void-form")) return;
    const form = document.createElement("form");
    form.className = "void-form";
    form.dataset.id = id;
    const label = document.createElement("label");
    label.className = "visually-hidden";
    label.htmlFor = "void-reason-" + id;
    label.textContent = "Reason for voiding";
    const input = document.createElement("input");
    input.type = "text";
    input.id = "void-reason-" + id;
    input.className = "void-reason";
    input.placeholder = "Reason (optional)";
    input.maxLength = 500;
    const ok = document.createElement("button");
    ok.type = "submit";
    ok.className = "danger void-confirm";
    ok.textContent = "Confirm void";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "secondary void-cancel";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", () => {
      form.remove();
      el("scan").focus();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      await voidScan(id, input.value.trim());
    });
    form.append(label, input, ok, cancel);
    li.append(form);
    if (!keepFocus) input.focus();
  }

  async function voidScan(id, reason) {
    // A scan still waiting to be sent is voided after it: the void waits behind it.
    const queued = queue().some((b) => b.id === id);
    try {
      if (queued) throw new CEC.Offline("the scan is not sent yet");
      const c = await api("POST", `/v1/checkins/${encodeURIComponent(id)}/void`, reason ? { reason } : {});
      state.checkins.set(id, c);
      state.notes.delete(id);
      feedback("duplicate", "Scan voided", `${c.member_name || c.member_id} ${c.direction} at ${fmtTime(c.at, tz())} no longer counts`);
    } catch (e) {
      if (waits(e)) {
        enqueueVoid(id, reason);
        const c = state.checkins.get(id);
        feedback("queued", "Void saved on this screen",
          `${c ? describe(c) : id} no longer counts here; the void is sent ${whenBack(e)}.`);
        CEC.refreshSync();
      } else feedback("error", "Not voided", e.message);
    }
    render();
    el("scan").focus();
  }

  // --- scanning ----------------------------------------------------------------------------
  function mode() {
    const m = document.querySelector("input[name=mode]:checked");
    return m ? m.value : "auto";
  }

  async function creditLine(memberId) {
    const s = state.session;
    const list = await api("GET", `/v1/members/${encodeURIComponent(memberId)}/attendance?event_id=${encodeURIComponent(s.event_id)}`);
    const item = (list.items || []).find((a) => a.session_id === s.id);
    if (!item) return { cecs: null, detail: "" };
    const less = CEC.cmpDec(item.cecs, item.max_cecs) < 0;
    return {
      cecs: item.cecs,
      detail: less ? `of ${item.max_cecs}: ${item.reason || "partial attendance"}` : (item.reason || `the full ${item.max_cecs} CEC`),
    };
  }

  async function scan(raw) {
    const s = state.session;
    const member = raw.trim();
    if (!s) return;
    if (!ID.test(member)) {
      feedback("unknown", "Not a member number", `“${member.slice(0, 40)}” cannot be a member number`);
      return;
    }
    const now = new Date();
    const last = lastOf(member);
    let direction = mode();
    if (direction === "auto") {
      if (last && now - new Date(last.at) < DOUBLE_SCAN_MS) {
        feedback("duplicate", "Duplicate scan", `${nameOf(member)} was scanned ${last.direction} a moment ago; nothing recorded`);
        return;
      }
      direction = last && last.direction === "in" ? "out" : "in";
    }
    const duplicate = direction === "in" ? Boolean(last && last.direction === "in") : !(last && last.direction === "in");
    const body = { id: CEC.newId(), event_id: s.event_id, session_id: s.id, member_id: member, direction, at: now.toISOString(), method: "badge" };
    const onRoster = state.roster.size === 0 || state.roster.has(member);
    let c;
    try {
      c = await api("POST", "/v1/checkins", body);
    } catch (e) {
      if (!waits(e)) {
        feedback("error", "Not recorded", e.message);
        return;
      }
      enqueue(body);
      c = { ...body, member_name: onRoster && state.roster.size ? nameOf(member) : null, flags: onRoster ? [] : ["unknown_member"], voided: null };
      state.checkins.set(c.id, c);
      state.recent.unshift(c.id);
      render();
      CEC.refreshSync();
      const why = e.status === 401 ? "This screen is not signed in" : "The node is offline";
      feedback(onRoster ? "queued" : "unknown", `Saved on this screen: ${c.member_name || member} ${direction}`,
        `${why}; the scan is sent ${whenBack(e)}.` + (onRoster ? "" : " Not on the roster."));
      return;
    }
    state.checkins.set(c.id, c);
    state.recent.unshift(c.id);
    const name = c.member_name || member;
    if (c.flags.includes("unknown_member")) {
      render();
      feedback("unknown", `Not on the roster: ${member}`, `Checked ${direction} anyway; staff can check the badge.`);
      return;
    }
    if (duplicate) {
      render();
      feedback("duplicate", `Duplicate scan: ${name}`,
        direction === "in" ? "Already checked in; nothing changes." : "Not checked in; this out changes nothing.");
      return;
    }
    if (direction === "in") {
      render();
      feedback("accepted", `${name}: checked in`, `at ${fmtTime(c.at, tz())}`);
      return;
    }
    let line = { cecs: null, detail: "" };
    try {
      line = await creditLine(member);
    } catch (e) {
      /* the scan is recorded; credit shows when the node answers */
    }
    if (line.cecs !== null) state.notes.set(c.id, `${line.cecs} CEC`);
    render();
    feedback("accepted", `${name}: checked out` + (line.cecs !== null ? `: ${line.cecs} CEC` : ""), line.detail);
  }

  // --- choosing the session ----------------------------------------------------------------
  function option(value, text) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }

  async function loadEvents() {
    state.events = await all("/v1/events");
    const sel = el("event");
    sel.replaceChildren(option("", "Choose an event"), ...state.events.map((e) => option(e.id, e.title)));
  }

  async function chooseEvent(id, sessionId) {
    state.event = state.events.find((e) => e.id === id) || null;
    state.session = null;
    el("scan-panel").hidden = true;
    const sel = el("session");
    sel.replaceChildren(option("", "Choose a session"));
    sel.disabled = !state.event;
    if (!state.event) return;
    el("event").value = id;
    const [sessions, roster] = await Promise.all([
      all(`/v1/events/${encodeURIComponent(id)}/sessions`),
      api("GET", `/v1/events/${encodeURIComponent(id)}/roster`),
    ]);
    state.sessions = sessions;
    state.roster = new Map((roster.members || []).map((m) => [m.member_id, m]));
    for (const s of sessions) sel.append(option(s.id, `${s.title} · ${fmtTime(s.starts_at, tz(), true)}`));
    if (sessionId) await chooseSession(sessionId);
  }

  async function chooseSession(id) {
    state.session = (state.sessions || []).find((s) => s.id === id) || null;
    el("session").value = state.session ? id : "";
    el("scan-panel").hidden = !state.session;
    el("setup").classList.toggle("chosen", Boolean(state.session));
    el("change").hidden = !state.session;
    if (!state.session) {
      el("session-info").textContent = "";
      return;
    }
    localStorage.setItem(PLACE_KEY, JSON.stringify({ event: state.event.id, session: id }));
    const s = state.session;
    el("session-info").textContent =
      `${state.event.title} · ${s.title}: ${fmtTime(s.starts_at, tz(), true)}–${fmtTime(s.ends_at, tz(), true)} (${state.event.timezone}), up to ${s.max_cecs} CEC`;
    await refreshCheckins();
    el("scan").focus();
  }

  async function refreshCheckins() {
    const s = state.session;
    if (!s) return;
    try {
      const items = await all(`/v1/checkins?event_id=${encodeURIComponent(s.event_id)}&session_id=${encodeURIComponent(s.id)}`);
      // A scan this screen took that the node refused stays as taken, marked refused, even
      // where the node holds another check-in under its id.
      for (const c of items) if (!(state.checkins.get(c.id) || {}).refused) state.checkins.set(c.id, c);
    } catch (e) {
      /* offline: keep what we know */
    }
    for (const b of queue()) {
      if (!state.checkins.has(b.id)) state.checkins.set(b.id, { ...b, member_name: null, flags: [], voided: null });
    }
    render();
  }

  // --- signing in -------------------------------------------------------------------------
  // Without a session the screen says how to pair it. A screen in use keeps its session panel:
  // scans wait on it until it is signed in again.
  function signedOut(message) {
    const box = el("signin");
    const url = location.origin + "/kiosk";
    const link = el("signin-url");
    link.href = url;
    link.textContent = url;
    const why = el("signin-why");
    const ended = /expired|ended/.test(message || "");
    why.textContent = ended ? "Its session has expired or its pairing was ended." : "";
    why.hidden = !ended;
    if (box.hidden) {
      box.hidden = false;
      if (!state.session) el("setup").hidden = true;
    }
  }

  async function signedIn() {
    el("signin").hidden = true;
    el("setup").hidden = false;
    if (!state.events.length) {
      try {
        await start();
      } catch (e) {
        /* the next answer tells */
      }
    }
    flush();
  }

  // The events, and the session chosen before (kept across reloads).
  async function start() {
    await loadEvents();
    const place = JSON.parse(localStorage.getItem(PLACE_KEY) || "null");
    if (place && state.events.some((e) => e.id === place.event)) await chooseEvent(place.event, place.session);
  }

  // --- start -------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", async () => {
    CEC.onSignedOut(signedOut);
    CEC.onSignedIn(signedIn);
    CEC.onReachability((ok) => {
      if (ok) flush();
    });
    restoreRecent();
    renderNotices();
    CEC.startSync(waiting);
    el("event").addEventListener("change", (e) => chooseEvent(e.target.value).catch(() => {}));
    el("session").addEventListener("change", (e) => chooseSession(e.target.value).catch(() => {}));
    el("change").addEventListener("click", () => {
      el("setup").classList.remove("chosen");
      el("change").hidden = true;
      el("session").focus();
    });
    el("scan-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = el("scan");
      const value = input.value;
      input.value = "";
      input.focus();
      await scan(value);
    });
    document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", () => el("scan").focus()));
    setInterval(flush, 3000);
    setInterval(refreshCheckins, 5000);
    try {
      await start();
    } catch (e) {
      if (e instanceof CEC.Offline) feedback("error", "The node does not answer", "Scans are kept on this screen until it is back.");
    }
    flush();
  });
})();
