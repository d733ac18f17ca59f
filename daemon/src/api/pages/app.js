// The pages' shell: API calls with the page session (an HttpOnly cookie the script never
// sees), the sync indicator, and beeps. No token is ever held here.
"use strict";

const CEC = (() => {
  const listeners = { signedOut: [], signedIn: [], reachability: [] };
  let reachable = null;
  // Whether the node took this page's session at the last answer (null before any).
  let signedIn = null;

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field || null; // with 422 `invalid`: the request field at fault
    }
  }
  class Offline extends Error {}

  function setReachable(ok) {
    if (reachable !== ok) {
      reachable = ok;
      listeners.reachability.forEach((f) => f(ok));
    }
  }

  // One call of the local API. Throws Offline when the node does not answer, ApiError when
  // it answers with an error.
  async function api(method, path, body) {
    const init = {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-CEC-Request": "1", Accept: "application/json" },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      setReachable(false);
      throw new Offline("the node does not answer");
    }
    setReachable(true);
    const text = await resp.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      /* not JSON: the status says enough */
    }
    if (resp.status === 401) {
      signedIn = false;
      const err = (json && json.error) || {};
      listeners.signedOut.forEach((f) => f(err.message || ""));
    } else if (resp.ok && signedIn !== true) {
      // Signed in (again: a pairing or `cec open` in another tab of this browser).
      const was = signedIn;
      signedIn = true;
      if (was === false) listeners.signedIn.forEach((f) => f());
    }
    if (!resp.ok) {
      const err = (json && json.error) || {};
      throw new ApiError(resp.status, err.code || "error", err.message || resp.statusText, err.field);
    }
    return json;
  }

  // Every item of a paged list.
  async function all(path) {
    const items = [];
    let cursor = null;
    for (let i = 0; i < 100; i++) {
      const sep = path.includes("?") ? "&" : "?";
      const page = await api("GET", path + sep + "limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      items.push(...page.items);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  // A new id for a check-in, made here so that a retry is the same check-in.
  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  // What a page keeps in its own storage (localStorage: page data only, never a credential):
  // the value under `key`, or `empty` when there is none or it does not parse.
  function stored(key, empty) {
    try {
      const v = JSON.parse(localStorage.getItem(key) || "null");
      return v === null ? empty : v;
    } catch (e) {
      return empty;
    }
  }
  // Keeps `value` under `key`; false when the browser's storage is full or refused.
  function store(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
      return true;
    } catch (e) {
      return false;
    }
  }

  // Whether a write that failed with `e` should wait in the page and be sent again later, under
  // the same identity: the node does not answer (stopped, restarting, the laptop asleep), fails
  // or is unavailable (5xx, as a proxy's 502/503), or does not take the page's session (401:
  // signed out; it is sent once the page is signed in again). Any other answer is final.
  function waits(e) {
    return e instanceof Offline || (e instanceof ApiError && (e.status >= 500 || e.status === 401));
  }

  // Beeps: a distinct pitch per outcome, made with WebAudio (no audio files).
  let audio = null;
  function beep(kind) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tones = { accepted: [[880, 0.12]], duplicate: [[520, 0.09], [520, 0.09]], unknown: [[220, 0.45]] };
      let t = audio.currentTime;
      for (const [freq, len] of tones[kind] || tones.unknown) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = kind === "unknown" ? "square" : "sine";
        osc.frequency.value = freq;
        gain.gain.value = 0.2;
        osc.connect(gain).connect(audio.destination);
        osc.start(t);
        osc.stop(t + len);
        t += len + 0.06;
      }
    } catch (e) {
      /* no audio on this device: the colour still tells */
    }
  }

  function el(id) {
    return document.getElementById(id);
  }

  // Compares two credit strings (`[0-9]+(\.[0-9]+)?`, as the API gives them) exactly, with no
  // floating point: -1, 0 or 1.
  function cmpDec(a, b) {
    const [ai, af = ""] = String(a).split(".");
    const [bi, bf = ""] = String(b).split(".");
    const ia = ai.replace(/^0+(?=\d)/, "");
    const ib = bi.replace(/^0+(?=\d)/, "");
    if (ia.length !== ib.length) return ia.length < ib.length ? -1 : 1;
    if (ia !== ib) return ia < ib ? -1 : 1;
    const n = Math.max(af.length, bf.length);
    const fa = af.padEnd(n, "0");
    const fb = bf.padEnd(n, "0");
    return fa === fb ? 0 : fa < fb ? -1 : 1;
  }

  // A time of day in the event's time zone (with seconds unless `short`).
  function fmtTime(iso, timeZone, short) {
    if (!iso) return "";
    try {
      const opts = { timeZone, hour: "2-digit", minute: "2-digit" };
      if (!short) opts.second = "2-digit";
      return new Intl.DateTimeFormat(undefined, opts).format(new Date(iso));
    } catch (e) {
      return new Date(iso).toLocaleTimeString();
    }
  }

  // The sync indicator. The pill says how far a scan gets: "online" (the node answers and syncs:
  // a peer's last sync succeeded, or this is the central node), "not syncing" (the node answers
  // and keeps everything, but reaches no other node), "offline" (the node does not answer: the
  // page keeps what it can), "signed out" (the node refused the page's session). Beside it the
  // peers, the last sync and what the central node has not received yet.
  function syncState(status, peers) {
    const reachable = peers.filter((p) => p.state === "ok").length;
    if (!status.enrolled) return { pill: "not syncing", cls: "local", peers: "not enrolled: syncs with no one" };
    if (!status.central) return { pill: "online", cls: "online", peers: "central node" };
    if (!peers.length) return { pill: "not syncing", cls: "local", peers: "no peers yet" };
    const words = peers.length === 1
      ? (reachable ? "peer reachable" : "peer not reachable")
      : `${reachable} of ${peers.length} peers reachable`;
    const failing = peers.find((p) => p.state === "failing" && p.last_error);
    return {
      pill: reachable ? "online" : "not syncing",
      cls: reachable ? "online" : "local",
      peers: words,
      title: failing ? `last error: ${failing.last_error}` : "",
    };
  }

  // How long ago `iso` was, short: "just now", "40 s ago", "5 min ago", "3 h ago", "2 days ago"
  // (no time zone to get wrong in a bar shared by pages of events in different zones).
  function ago(iso) {
    const secs = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (secs < 5) return "just now";
    if (secs < 60) return `${secs} s ago`;
    if (secs < 3600) return `${Math.floor(secs / 60)} min ago`;
    if (secs < 86400) return `${Math.floor(secs / 3600)} h ago`;
    const days = Math.floor(secs / 86400);
    return `${days} day${days === 1 ? "" : "s"} ago`;
  }

  let pendingCount = () => 0;
  async function refreshSync() {
    const state = el("sync-state");
    const peersEl = el("sync-peers");
    try {
      const status = await api("GET", "/v1/sync/status");
      const peers = status.peers || [];
      const s = syncState(status, peers);
      const last = peers.map((p) => p.last_sync).filter(Boolean).sort().pop();
      state.textContent = s.pill;
      state.className = "pill " + s.cls;
      peersEl.textContent = s.peers;
      peersEl.title = s.title || "";
      const lastEl = el("sync-last");
      // Not enrolled says it syncs with no one; the central node is synced with, not syncing.
      lastEl.textContent = last ? "last sync " + ago(last) : status.enrolled && status.central ? "never synced" : "";
      lastEl.title = last ? new Date(last).toLocaleString() : "";
      showCentral(status.central);
    } catch (e) {
      if (e instanceof Offline) {
        state.textContent = "offline";
        state.className = "pill offline";
        peersEl.textContent = "node not answering";
        el("sync-last").textContent = "";
      } else if (e instanceof ApiError && e.status === 401) {
        state.textContent = "signed out";
        state.className = "pill offline";
        peersEl.textContent = "";
        el("sync-last").textContent = "";
        showCentral(null);
      }
    }
    // A page says what waits on it as a count of scans or in its own words.
    const n = pendingCount();
    el("sync-pending").textContent = typeof n === "string" ? n : n ? `${n} scan${n === 1 ? "" : "s"} waiting on this screen` : "";
  }

  // The check-ins on this node that the central node has not received yet (null on the
  // central node itself): short, so the sticky bar stays one row on a phone; the long form is
  // the element's title.
  function showCentral(central) {
    const span = el("sync-central");
    if (!showCheckins) central = null;
    const n = central ? central.checkins_pending : 0;
    if (central && n > 0) {
      span.textContent = `${n} not at central yet`;
      span.title = `${n} check-in${n === 1 ? "" : "s"} on this node not yet at the central node`;
    } else if (central && central.peer_id) {
      span.textContent = "all at central";
      span.title = "every check-in on this node has reached the central node";
    } else {
      span.textContent = "";
      span.title = "";
    }
  }

  // `pending`: what waits on the page (a count or words). `checkins`: whether the bar counts the
  // node's check-ins not yet at the central node (the door and the organizer's pages do; a
  // member's portfolio has no check-ins to count).
  let showCheckins = true;
  function startSync(pending, { checkins = true } = {}) {
    pendingCount = pending;
    showCheckins = checkins;
    refreshSync();
    setInterval(refreshSync, 5000);
  }

  return {
    api,
    all,
    newId,
    stored,
    store,
    waits,
    beep,
    el,
    fmtTime,
    cmpDec,
    startSync,
    refreshSync,
    ApiError,
    Offline,
    onSignedOut: (f) => listeners.signedOut.push(f),
    onSignedIn: (f) => listeners.signedIn.push(f),
    onReachability: (f) => listeners.reachability.push(f),
  };
})();
