// The pages' shell: API calls with the page session (an HttpOnly cookie the script never
// sees), the sync indicator, and beeps. No token is ever held here.
"use strict";

const CEC = (() => {
  const listeners = { signedOut: [], reachability: [] };
  let reachable = null;

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field || null; // the request field a 422 names
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
    if (resp.status === 401) listeners.signedOut.forEach((f) => f());
    const text = await resp.text();
    const json = text ? JSON.parse(text) : null;
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

  // The sync indicator: whether the node answers, the peers it has seen, the last sync.
  let pendingCount = () => 0;
  async function refreshSync() {
    const state = el("sync-state");
    try {
      const status = await api("GET", "/v1/sync/status");
      const peers = await api("GET", "/v1/peers");
      const list = peers.items || [];
      const seen = list.filter((p) => p.last_seen).length;
      const last = list.map((p) => p.last_sync).filter(Boolean).sort().pop();
      state.textContent = "online";
      state.className = "pill online";
      el("sync-peers").textContent = status.enrolled ? `peers seen: ${seen} of ${list.length}` : "not enrolled: syncs with no one";
      el("sync-last").textContent = last ? "last sync " + fmtTime(last) : "never synced";
      showCentral(status.central);
    } catch (e) {
      if (e instanceof Offline) {
        state.textContent = "offline";
        state.className = "pill offline";
        el("sync-peers").textContent = "node not answering";
      }
    }
    const n = pendingCount();
    el("sync-pending").textContent = n ? `${n} scan${n === 1 ? "" : "s"} waiting on this screen` : "";
  }

  // The check-ins on this node that the central node has not received yet (null on the
  // central node itself): short, so the sticky bar stays one row on a phone; the long form is
  // the element's title.
  function showCentral(central) {
    const span = el("sync-central");
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

  function startSync(pending) {
    pendingCount = pending;
    refreshSync();
    setInterval(refreshSync, 5000);
  }

  return {
    api,
    all,
    newId,
    beep,
    el,
    fmtTime,
    startSync,
    refreshSync,
    ApiError,
    Offline,
    onSignedOut: (f) => listeners.signedOut.push(f),
    onReachability: (f) => listeners.reachability.push(f),
  };
})();
