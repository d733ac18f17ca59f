// The kiosk screen: choose a session, scan badges in and out, see each member's credit at once,
// void a mistaken scan. Scans taken while the node does not answer wait in localStorage under
// their own ids and are sent when it is back (a retry with the same id is the same check-in).
"use strict";

(() => {
  const { api, all, el, beep, fmtTime } = CEC;
  const ID = /^[A-Za-z0-9._:-]{1,128}$/;
  const QUEUE_KEY = "cec.kiosk.pending";
  const PLACE_KEY = "cec.kiosk.place";
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

  let flushing = false;
  async function flush() {
    if (flushing) return;
    const q = queue();
    if (!q.length) return;
    flushing = true;
    try {
      const answer = await api("POST", "/v1/checkins/batch", { checkins: q });
      const keep = [];
      answer.results.forEach((r, i) => {
        if (r.checkin) {
          state.checkins.set(r.checkin.id, r.checkin);
        } else if (r.status >= 500) {
          keep.push(q[i]);
        }
      });
      // Scans queued while this batch was on its way stay queued.
      const sent = new Set(q.map((b) => b.id));
      saveQueue(keep.concat(queue().filter((b) => !sent.has(b.id))));
      render();
    } catch (e) {
      /* still offline: try again later */
    } finally {
      flushing = false;
      CEC.refreshSync();
    }
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
    return [...state.checkins.values()].filter((c) => s && c.session_id === s.id && c.event_id === s.event_id && !c.voided);
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
    list.replaceChildren();
    const pending = new Set(queue().map((b) => b.id));
    for (const id of state.recent.slice(0, 20)) {
      const c = state.checkins.get(id);
      if (!c) continue;
      const li = document.createElement("li");
      li.dataset.id = id;
      if (c.voided) li.className = "voided";
      const who = document.createElement("div");
      who.className = "who";
      who.textContent = `${c.member_name || nameOf(c.member_id)} · ${c.direction === "in" ? "in" : "out"} · ${fmtTime(c.at, tz())}`;
      const what = document.createElement("div");
      what.className = "what";
      const bits = [];
      if (pending.has(id)) bits.push("waiting to be sent");
      if (c.voided) bits.push("voided" + (c.voided.reason ? ": " + c.voided.reason : ""));
      if (state.notes.has(id)) bits.push(state.notes.get(id));
      what.textContent = bits.join(" · ");
      const info = document.createElement("div");
      info.append(who, what);
      li.append(info);
      if (!c.voided && !pending.has(id)) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "secondary void-button";
        b.textContent = "Void";
        b.setAttribute("aria-label", `Void the scan of ${c.member_name || c.member_id} at ${fmtTime(c.at, tz())}`);
        b.addEventListener("click", () => openVoid(li, id));
        li.append(b);
      }
      list.append(li);
      if (openId === id && !c.voided) openVoid(li, id, true);
    }
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
    cancel.className = "secondary";
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
    try {
      const c = await api("POST", `/v1/checkins/${encodeURIComponent(id)}/void`, reason ? { reason } : {});
      state.checkins.set(id, c);
      state.notes.delete(id);
      feedback("duplicate", "Scan voided", `${c.member_name || c.member_id} ${c.direction} at ${fmtTime(c.at, tz())} no longer counts`);
    } catch (e) {
      if (e instanceof CEC.Offline) feedback("error", "Cannot void now", "The node is offline; void the scan when it is back.");
      else feedback("error", "Not voided", e.message);
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
    const less = Number(item.cecs) < Number(item.max_cecs);
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
      if (!(e instanceof CEC.Offline)) {
        feedback("error", "Not recorded", e.message);
        return;
      }
      enqueue(body);
      c = { ...body, member_name: onRoster && state.roster.size ? nameOf(member) : null, flags: onRoster ? [] : ["unknown_member"], voided: null };
      state.checkins.set(c.id, c);
      state.recent.unshift(c.id);
      render();
      CEC.refreshSync();
      feedback(onRoster ? "queued" : "unknown", `Saved on this screen: ${c.member_name || member} ${direction}`,
        "The node is offline; the scan is sent when it is back." + (onRoster ? "" : " Not on the roster."));
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
      for (const c of items) state.checkins.set(c.id, c);
    } catch (e) {
      /* offline: keep what we know */
    }
    for (const b of queue()) {
      if (!state.checkins.has(b.id)) state.checkins.set(b.id, { ...b, member_name: null, flags: [], voided: null });
    }
    render();
  }

  // --- start -------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", async () => {
    CEC.onSignedOut(() => {
      el("signin").hidden = false;
    });
    CEC.onReachability((ok) => {
      if (ok) flush();
    });
    CEC.startSync(() => queue().length);
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
      await loadEvents();
      const place = JSON.parse(localStorage.getItem(PLACE_KEY) || "null");
      if (place && state.events.some((e) => e.id === place.event)) await chooseEvent(place.event, place.session);
    } catch (e) {
      if (e instanceof CEC.Offline) feedback("error", "The node does not answer", "Scans are kept on this screen until it is back.");
    }
    flush();
  });
})();
