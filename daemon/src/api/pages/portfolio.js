// The member's portfolio page: totals, credit over time, goals and requirement programs,
// entries with evidence files, petitions and transcripts, all through the local API with the
// page session. Credit is shown as the API gives it (decimal strings); the only sums made here
// (the chart's running totals, the records chosen for a petition) use `Dec`, exact decimal
// arithmetic on strings with BigInt, never floating point. Floats are used for pixels only.
"use strict";

(() => {
  const { api, el, ApiError, Offline } = CEC;
  const ID = /^[A-Za-z0-9._:-]{1,128}$/;
  const SVG = "http://www.w3.org/2000/svg";

  // --- exact decimals ------------------------------------------------------------------------
  const Dec = {
    parse(s) {
      const m = /^(\d+)(?:\.(\d+))?$/.exec(String(s).trim());
      if (!m) throw new Error(`${s} is not a decimal`);
      const frac = m[2] || "";
      return { units: BigInt(m[1] + frac), scale: frac.length };
    },
    align(a, b) {
      const scale = Math.max(a.scale, b.scale);
      const up = (x) => x.units * 10n ** BigInt(scale - x.scale);
      return [up(a), up(b), scale];
    },
    str(units, scale) {
      let digits = units.toString().padStart(scale + 1, "0");
      if (scale === 0) return digits;
      let int = digits.slice(0, digits.length - scale);
      let frac = digits.slice(digits.length - scale).replace(/0+$/, "");
      return frac ? `${int}.${frac}` : int;
    },
    add(a, b) {
      const [x, y, scale] = Dec.align(Dec.parse(a), Dec.parse(b));
      return Dec.str(x + y, scale);
    },
    cmp(a, b) {
      const [x, y] = Dec.align(Dec.parse(a), Dec.parse(b));
      return x < y ? -1 : x > y ? 1 : 0;
    },
    // a / b as a float in [0, 1], for drawing only.
    ratio(a, b) {
      const [x, y] = Dec.align(Dec.parse(a), Dec.parse(b));
      if (y === 0n) return x > 0n ? 1 : 0;
      return Math.min(1, Math.max(0, Number((x * 10000n) / y) / 10000));
    },
  };

  const state = {
    member: null, // the member shown
    own: null, // the member this node belongs to (its credential), if any
    portfolio: null,
    records: [],
    events: new Map(), // event id -> {event, sessions: Map} | null (not held here)
    chosen: new Set(), // record ids chosen for a petition
    editingEntry: null, // the entry being edited
    evidence: [], // sha256 of the entry being written
    fileNames: new Map(), // sha256 -> the file name it was uploaded from (this visit only)
  };

  const enc = encodeURIComponent;
  const base = () => `/v1/portfolios/${enc(state.member)}`;

  // --- small DOM helpers ---------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function s(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  const pretty = (name) => (name || "").replace(/_/g, " ");
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + "s"}`;

  // Shows an error from the API next to the form (and the field) that caused it.
  function showError(form, err) {
    const box = form.querySelector(".error");
    form.querySelectorAll("[aria-invalid]").forEach((f) => f.removeAttribute("aria-invalid"));
    if (!err) {
      box.hidden = true;
      box.textContent = "";
      return;
    }
    let msg;
    if (err instanceof Offline) {
      msg = "The node does not answer, so nothing was saved. Try again when it is back.";
    } else if (err instanceof ApiError) {
      const field = err.field ? fieldOf(form, err.field) : null;
      const what = field ? labelOf(field) : null;
      msg = (what ? `${what}: ` : "") + err.message;
      if (err.status === 401) msg = "This page is no longer signed in: run cec open portfolio again.";
      if (field) {
        field.setAttribute("aria-invalid", "true");
        field.focus();
      }
    } else {
      msg = err.message || String(err);
    }
    // An error made here may name the very element to fix (a benchmark's row).
    if (err.focus) {
      err.focus.setAttribute("aria-invalid", "true");
      err.focus.focus();
    }
    box.textContent = msg;
    box.hidden = false;
  }
  function fieldOf(form, name) {
    const base = name.split(/[.[]/)[0];
    return form.querySelector(`[name="${CSS.escape(name)}"]`) || form.querySelector(`[name="${CSS.escape(base)}"]`);
  }
  function labelOf(field) {
    const l = field.id && document.querySelector(`label[for="${CSS.escape(field.id)}"]`);
    return l ? l.firstChild.textContent.trim() : pretty(field.name);
  }
  // Runs `work` for a form: the button is busy meanwhile, errors land next to the form.
  async function submitting(form, work) {
    const btn = form.querySelector("button[type=submit]");
    showError(form, null);
    btn.disabled = true;
    try {
      await work();
      return true;
    } catch (e) {
      showError(form, e);
      return false;
    } finally {
      btn.disabled = false;
    }
  }
  function local(message, field) {
    return new ApiError(0, "invalid", message, field);
  }

  // --- which member --------------------------------------------------------------------------
  function memberFromHash() {
    const m = /(?:^|[#&])member=([^&]*)/.exec(location.hash);
    if (!m) return null;
    const id = decodeURIComponent(m[1]);
    return ID.test(id) ? id : null;
  }

  async function ownMember() {
    try {
      const node = await api("GET", "/v1/node");
      const c = node.credential;
      if (c && c.role === "member") {
        const scope = (c.scopes || []).find((x) => x.startsWith("member:"));
        if (scope) return scope.slice("member:".length);
      }
    } catch (e) {
      /* not signed in or offline: the member is chosen by hand */
    }
    return null;
  }

  async function choose(member) {
    state.member = member;
    state.chosen.clear();
    el("member-id").value = member;
    if (memberFromHash() !== member && member !== state.own) history.replaceState(null, "", `#member=${enc(member)}`);
    await load();
  }

  // --- loading -------------------------------------------------------------------------------
  async function load() {
    const form = el("member-form");
    try {
      const [p, cecs] = await Promise.all([api("GET", base()), api("GET", `/v1/members/${enc(state.member)}/cecs`)]);
      state.portfolio = p;
      state.records = cecs.records;
      showError(form, null);
      await loadEvents();
      render();
    } catch (e) {
      showError(form, e);
    }
  }

  // The events of verified records, where this node holds them (for times in their zone).
  async function loadEvents() {
    const ids = new Set(state.records.filter((r) => r.source === "verified").map((r) => r.id.split("/")[0]));
    await Promise.all(
      [...ids]
        .filter((id) => !state.events.has(id))
        .map(async (id) => {
          try {
            const event = await api("GET", `/v1/events/${enc(id)}`);
            const sessions = await CEC.all(`/v1/events/${enc(id)}/sessions`);
            state.events.set(id, { event, sessions: new Map(sessions.map((x) => [x.id, x])) });
          } catch (e) {
            if (e instanceof ApiError) state.events.set(id, null);
          }
        }),
    );
  }

  // --- rendering -----------------------------------------------------------------------------
  function render() {
    const p = state.portfolio;
    el("portfolio").hidden = false;
    const name = p.profile && p.profile.name;
    const own = state.own === state.member;
    const whose = own ? " · this device's member" : "";
    // On a member's own node there is no other member to choose.
    el("member-form").classList.toggle("own", own);
    el("member-info").textContent = name ? `${name} · member ${p.member_id}${whose}` : `Member ${p.member_id}${whose}`;
    document.title = `${name || p.member_id} · Portfolio · cecsync`;
    renderTotals(p.totals);
    renderChart();
    renderGoals();
    renderPrograms();
    renderRecords();
    renderPetitions();
    renderEntries();
    renderTranscript();
    const cats = new Set(["general", "ethics", ...Object.keys(p.totals.by_category)]);
    el("categories").replaceChildren(...[...cats].map((c) => h("option", { value: c })));
  }

  function renderTotals(t) {
    el("t-verified").textContent = t.verified_cecs;
    el("t-self").textContent = t.self_reported_cecs;
    el("t-total").textContent = t.total_cecs;
    el("t-ceus").textContent = t.ceus;
    el("t-hours").textContent = t.contact_hours;
    const cats = Object.entries(t.by_category);
    el("t-categories").textContent = cats.length
      ? "By category: " + cats.map(([c, v]) => `${pretty(c)} ${v}`).join(" · ")
      : "No credit yet.";
  }

  // Running totals by date, exact.
  function series() {
    const byDate = new Map();
    for (const r of [...state.records].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0))) {
      const d = byDate.get(r.date) || { verified: "0", all: "0" };
      if (r.source === "verified") d.verified = Dec.add(d.verified, r.cecs);
      d.all = Dec.add(d.all, r.cecs);
      byDate.set(r.date, d);
    }
    const points = [];
    let verified = "0";
    let all = "0";
    for (const [date, d] of byDate) {
      verified = Dec.add(verified, d.verified);
      all = Dec.add(all, d.all);
      points.push({ date, verified, all });
    }
    return points;
  }

  const dayNumber = (date) => {
    const [y, m, d] = date.split("-").map(Number);
    return Date.UTC(y, m - 1, d) / 86400000;
  };

  function renderChart() {
    const box = el("chart");
    const points = series();
    const rows = points.map((p) => h("tr", {}, h("td", { text: p.date }), h("td", { text: p.verified }), h("td", { text: p.all })));
    el("chart-table").tBodies[0].replaceChildren(...rows);
    if (!points.length) {
      box.replaceChildren(h("p", { class: "muted", text: "No credit yet: the chart starts with your first record." }));
      return;
    }
    const width = Math.max(280, Math.floor(box.clientWidth || 600));
    const height = 200;
    const pad = { l: 40, r: 14, t: 14, b: 30 };
    const w = width - pad.l - pad.r;
    const hgt = height - pad.t - pad.b;
    const top = points[points.length - 1].all;
    const first = dayNumber(points[0].date);
    const last = dayNumber(points[points.length - 1].date);
    const x = (date) => pad.l + (last === first ? w / 2 : ((dayNumber(date) - first) / (last - first)) * w);
    const y = (v) => pad.t + hgt - Dec.ratio(v, top === "0" ? "1" : top) * hgt;
    const step = (key) => {
      let d = `M ${pad.l} ${y("0")}`;
      let prev = "0";
      for (const p of points) {
        d += ` L ${x(p.date)} ${y(prev)} L ${x(p.date)} ${y(p[key])}`;
        prev = p[key];
      }
      return d + ` L ${pad.l + w} ${y(prev)}`;
    };
    const final = points[points.length - 1];
    const svg = s(
      "svg",
      { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "chart-title chart-desc", class: "chart-svg" },
      s("title", { id: "chart-title" }, "Credit over time"),
      s(
        "desc",
        { id: "chart-desc" },
        `From ${points[0].date} to ${final.date}: ${final.all} CEC in all, ${final.verified} verified.`,
      ),
      s("line", { x1: pad.l, y1: y("0"), x2: pad.l + w, y2: y("0"), class: "axis" }),
      s("line", { x1: pad.l, y1: pad.t, x2: pad.l, y2: y("0"), class: "axis" }),
      s("line", { x1: pad.l, y1: y(top), x2: pad.l + w, y2: y(top), class: "grid" }),
      s("text", { x: pad.l - 6, y: y("0") + 4, class: "tick", "text-anchor": "end" }, "0"),
      s("text", { x: pad.l - 6, y: y(top) + 4, class: "tick", "text-anchor": "end", id: "chart-top" }, top),
      s("text", { x: pad.l, y: height - 8, class: "tick", "text-anchor": "start" }, points[0].date),
      points.length > 1 ? s("text", { x: pad.l + w, y: height - 8, class: "tick", "text-anchor": "end" }, final.date) : "",
      s("path", { d: step("all"), class: "line-all" }),
      s("path", { d: step("verified"), class: "line-verified" }),
    );
    for (const p of points) {
      const dot = s("circle", { cx: x(p.date), cy: y(p.all), r: 4, class: "dot-all" });
      dot.append(s("title", {}, `${p.date}: ${p.all} CEC in all, ${p.verified} verified`));
      svg.append(dot);
    }
    const legend = h(
      "p",
      { class: "legend" },
      h("span", { class: "key all" }),
      " All credit",
      h("span", { class: "key verified" }),
      " Verified",
    );
    box.replaceChildren(svg, legend);
  }

  // A progress bar as SVG: `earned` of `target`, with marks (benchmarks, the pace).
  function bar(earned, target, label, marks) {
    const width = 300;
    const svg = s("svg", {
      viewBox: `0 0 ${width} 18`,
      preserveAspectRatio: "none",
      class: "bar-svg",
      role: "img",
      "aria-label": label,
    });
    svg.append(s("rect", { x: 0, y: 3, width, height: 12, rx: 3, class: "bar-bg" }));
    const r = Dec.ratio(earned, target);
    svg.append(s("rect", { x: 0, y: 3, width: Math.max(0, r * width), height: 12, rx: 3, class: r >= 1 ? "bar-met" : "bar-fill" }));
    for (const m of marks || []) {
      const mx = Math.min(width - 1, Dec.ratio(m.at, target) * width);
      const line = s("rect", { x: mx - 1, y: 0, width: 2, height: 18, class: m.kind });
      line.append(s("title", {}, m.title));
      svg.append(line);
    }
    return svg;
  }

  function renderGoals() {
    const goals = state.portfolio.goals;
    const list = el("goals");
    if (!goals.length) {
      list.replaceChildren(h("li", { class: "muted", text: "No goals yet." }));
      return;
    }
    list.replaceChildren(
      ...goals.map((g) => {
        const status = g.met ? "met" : g.on_track ? "on track" : "behind";
        const cat = g.category ? ` in ${pretty(g.category)}` : "";
        return h(
          "li",
          { class: "goal", "data-goal": g.id },
          h("div", { class: "item-head" }, h("strong", { text: g.title }), h("span", { class: `tag ${g.met || g.on_track ? "ok" : "bad"}`, text: status })),
          bar(g.earned_cecs, g.target_cecs, `${g.earned_cecs} of ${g.target_cecs} CEC`, [
            { at: g.expected_cecs, kind: "mark-pace", title: `a steady pace has ${g.expected_cecs} by today` },
            ...g.benchmarks.map((b) => ({ at: b.target_cecs, kind: "mark-bench", title: `${b.title}: ${b.target_cecs} by ${b.due}` })),
          ]),
          h("p", {
            class: "goal-progress",
            text: `${g.earned_cecs} of ${g.target_cecs} CEC${cat} by ${g.due} · ${g.remaining_cecs} to go · a steady pace has ${g.expected_cecs} by today`,
          }),
          g.benchmarks.length
            ? h(
                "ul",
                { class: "benchmarks-list" },
                g.benchmarks.map((b) =>
                  h("li", { text: `${b.title}: ${b.target_cecs} by ${b.due} · ${b.earned_cecs} earned by then · ${pretty(b.status)}` }),
                ),
              )
            : null,
          h("button", { type: "button", class: "secondary small", onclick: () => editGoal(g), text: "Change" }),
        );
      }),
    );
  }

  function renderPrograms() {
    const programs = state.portfolio.requirements;
    const list = el("programs");
    if (!programs.length) {
      list.replaceChildren(h("li", { class: "muted", text: "No requirement programs yet." }));
      return;
    }
    list.replaceChildren(
      ...programs.map((p) =>
        h(
          "li",
          { class: "program", "data-program": p.id },
          h("div", { class: "item-head" }, h("strong", { text: p.title }), h("span", { class: `tag ${p.met ? "ok" : "bad"}`, text: p.met ? "met" : "not met yet" })),
          bar(p.earned_cecs, p.total_cecs, `${p.earned_cecs} of ${p.total_cecs} CEC`),
          h("p", {
            text: `${p.earned_cecs} of ${p.total_cecs} CEC between ${p.window_start} and ${p.window_end}` +
              (p.verified_only ? " (verified credit only)" : "") +
              (p.met ? "" : ` · ${p.missing_cecs} missing`),
          }),
          p.categories.length
            ? h(
                "ul",
                { class: "benchmarks-list" },
                p.categories.map((c) =>
                  h(
                    "li",
                    {},
                    `${pretty(c.category)}: ${c.earned_cecs} of ${c.required_cecs}`,
                    c.met ? " · met" : ` · ${c.missing_cecs} missing`,
                  ),
                ),
              )
            : null,
          h("button", { type: "button", class: "secondary small", onclick: () => editProgram(p), text: "Change" }),
        ),
      ),
    );
  }

  // When a record comes from an event this node holds: the session's start in the event's
  // time zone. Otherwise the date the API gives (already the event's local date).
  function when(r) {
    if (r.source !== "verified") return r.date;
    const [eventId, sessionId] = r.id.split("/");
    const ev = state.events.get(eventId);
    const session = ev && ev.sessions.get(sessionId);
    if (!session) return r.date;
    const tz = ev.event.timezone;
    try {
      const fmt = new Intl.DateTimeFormat("en-CA", {
        timeZone: tz,
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
        timeZoneName: "short",
      });
      return `${fmt.format(new Date(session.starts_at)).replace(",", "")} (${tz})`;
    } catch (e) {
      return r.date;
    }
  }

  function renderRecords() {
    const list = el("records");
    if (!state.records.length) {
      list.replaceChildren(h("li", { class: "muted", text: "No credit records yet." }));
      updateChosen();
      return;
    }
    const sorted = [...state.records].sort((a, b) => (a.date < b.date ? 1 : a.date > b.date ? -1 : 0));
    list.replaceChildren(
      ...sorted.map((r, i) => {
        const box = h("input", {
          type: "checkbox",
          id: `rec-${i}`,
          value: r.id,
          checked: state.chosen.has(r.id),
          onchange: (e) => {
            if (e.target.checked) state.chosen.add(r.id);
            else state.chosen.delete(r.id);
            updateChosen();
          },
        });
        const source = r.source === "verified" ? "verified" : "self-reported";
        const provider = r.provider ? r.provider + (r.endorsement_number ? ` (endorsement ${r.endorsement_number})` : "") : null;
        return h(
          "li",
          { class: "record", "data-record": r.id },
          h("div", { class: "record-pick" }, box, h("label", { for: `rec-${i}` }, h("strong", { text: r.title }))),
          h(
            "div",
            { class: "record-facts" },
            h("span", { class: "when", text: when(r) }),
            h("span", { class: "cecs", text: `${r.cecs} CEC` }),
            h("span", { class: `tag ${r.source === "verified" ? "ok" : ""}`, text: source }),
          ),
          h(
            "p",
            { class: "muted small" },
            [pretty(r.category), provider, r.verification_code ? `verification ${r.verification_code}` : null, `${r.ceus} CEU`]
              .filter(Boolean)
              .join(" · "),
          ),
        );
      }),
    );
    updateChosen();
  }

  function chosenRecords() {
    return state.records.filter((r) => state.chosen.has(r.id));
  }
  function updateChosen() {
    const chosen = chosenRecords();
    const total = chosen.reduce((sum, r) => Dec.add(sum, r.cecs), "0");
    el("chosen").textContent = chosen.length
      ? `${plural(chosen.length, "record")} chosen: ${total} CEC.`
      : "No records chosen yet: tick them under Credit records.";
  }

  function download(href, text, cls) {
    return h("a", { href, download: "", class: `button ${cls || "secondary"} small`, text });
  }

  function renderPetitions() {
    const list = el("petitions");
    const petitions = state.portfolio.petitions;
    list.replaceChildren(
      ...petitions.map((pt) => {
        const url = `${base()}/petitions/${enc(pt.id)}`;
        const answer =
          pt.accepted_cecs !== null && pt.accepted_cecs !== undefined ? ` · ${pt.accepted_cecs} CEC accepted` : "";
        return h(
          "li",
          { class: "petition", "data-petition": pt.id },
          h("div", { class: "item-head" }, h("strong", { text: pt.target_association }), h("span", { class: "tag status", text: pretty(pt.status) })),
          h("p", {
            class: "petition-summary",
            text: `${plural(pt.record_ids.length, "record")}, ${pt.requested_cecs} CEC requested${answer} · created ${pt.created}`,
          }),
          pt.note ? h("p", { class: "muted", text: pt.note }) : null,
          h(
            "p",
            { class: "downloads" },
            download(`${url}/packet?format=pdf`, "Packet PDF", "primary"),
            download(`${url}/packet?format=csv`, "Packet CSV"),
            download(`${url}/packet?format=json`, "Packet JSON"),
          ),
          answerForm(pt),
        );
      }),
    );
  }

  // Recording the association's answer: accepted in full, in part (an amount), denied; or
  // only that it was sent. An answer to a draft marks it submitted first.
  function answerForm(pt) {
    const id = `answer-${pt.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const select = h(
      "select",
      { id: `${id}-status`, name: "status" },
      ["submitted", "accepted", "partially_accepted", "denied"].map((v) =>
        h("option", { value: v, selected: v === (pt.status === "draft" ? "submitted" : pt.status) }, pretty(v)),
      ),
    );
    const amount = h("input", {
      id: `${id}-cecs`,
      name: "accepted_cecs",
      type: "text",
      inputmode: "decimal",
      value: pt.status === "partially_accepted" ? pt.accepted_cecs : "",
      placeholder: pt.requested_cecs,
    });
    const form = h(
      "form",
      { class: "answer-form", novalidate: true, "aria-label": `Answer from ${pt.target_association}` },
      h("div", { class: "row" }, h("label", { for: select.id, text: "Answer" }), select),
      h(
        "div",
        { class: "row" },
        h("label", { for: amount.id }, "CECs accepted ", h("span", { class: "opt", text: "(only for a partial acceptance)" })),
        amount,
      ),
      h("div", { class: "actions" }, h("button", { type: "submit", text: "Record answer" })),
      h("p", { class: "error", role: "alert", hidden: true }),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      let status = select.value;
      const cecs = amount.value.trim();
      const body = { status };
      if (cecs) {
        // "accepted 5.5" of 6 requested is a partial acceptance; of 5.5, a full one.
        if (status === "accepted" && /^\d+(\.\d+)?$/.test(cecs) && Dec.cmp(cecs, pt.requested_cecs) < 0) {
          status = "partially_accepted";
          body.status = status;
        }
        if (status !== "submitted") body.accepted_cecs = cecs;
      }
      const ok = await submitting(form, async () => {
        if (pt.status === "draft" && status !== "submitted") {
          await api("PATCH", `${base()}/petitions/${enc(pt.id)}`, { status: "submitted" });
        }
        await api("PATCH", `${base()}/petitions/${enc(pt.id)}`, body);
      });
      if (ok) await load();
    });
    return form;
  }

  const KINDS = {
    activity: "activity",
    experience: "experience",
    work_sample: "work sample",
    learning_activity: "learning activity",
    note: "note",
  };

  function renderEntries() {
    const list = el("entries");
    const entries = [...state.portfolio.entries].sort((a, b) => (a.date < b.date ? 1 : a.date > b.date ? -1 : 0));
    if (!entries.length) {
      list.replaceChildren(h("li", { class: "muted", text: "Nothing documented yet." }));
      return;
    }
    list.replaceChildren(
      ...entries.map((en) => {
        const facts = [
          en.date,
          KINDS[en.kind] || en.kind,
          en.credited_cecs ? `${en.credited_cecs} CEC self-reported` : null,
          en.contact_minutes ? `${en.contact_minutes} min` : null,
          en.category ? pretty(en.category) : null,
          en.provider,
        ].filter(Boolean);
        return h(
          "li",
          { class: "entry", "data-entry": en.id },
          h("div", { class: "item-head" }, h("strong", { text: en.title }), h("span", { class: "tag", text: KINDS[en.kind] || en.kind })),
          h("p", { class: "muted small", text: facts.join(" · ") }),
          en.description ? h("p", { text: en.description }) : null,
          en.evidence.length
            ? h(
                "ul",
                { class: "evidence" },
                en.evidence.map((sha, i) =>
                  h(
                    "li",
                    {},
                    h("a", {
                      href: `/v1/blobs/${sha}`,
                      download: state.fileNames.get(sha) || `evidence-${sha.slice(0, 12)}`,
                      text: state.fileNames.get(sha) || `Evidence ${i + 1} (${sha.slice(0, 12)}…)`,
                    }),
                  ),
                ),
              )
            : null,
          h("button", {
            type: "button",
            class: "secondary small",
            "aria-label": `Edit ${en.title}`,
            onclick: () => editEntry(en),
            text: "Edit",
          }),
        );
      }),
    );
  }

  function transcriptUrl(format) {
    const q = new URLSearchParams({ format });
    const from = el("transcript-from").value;
    const to = el("transcript-to").value;
    if (from) q.set("from", from);
    if (to) q.set("to", to);
    return `${base()}/transcript?${q}`;
  }
  function renderTranscript() {
    for (const f of ["pdf", "csv", "json"]) {
      const a = el(`transcript-${f}`);
      a.href = transcriptUrl(f);
      a.setAttribute("download", `transcript-${state.member}.${f}`);
    }
  }

  // --- entries: add, edit, evidence -----------------------------------------------------------
  const entryForm = () => el("entry-form");

  function syncKind() {
    const activity = entryForm().elements.kind.value === "activity";
    entryForm().querySelectorAll(".activity-only").forEach((e) => (e.hidden = !activity));
  }

  function renderEvidence() {
    el("entry-evidence").replaceChildren(
      ...state.evidence.map((sha, i) =>
        h(
          "li",
          {},
          h("span", { text: state.fileNames.get(sha) || `Evidence ${i + 1} (${sha.slice(0, 12)}…)` }),
          " ",
          h("button", {
            type: "button",
            class: "secondary small",
            "aria-label": `Remove ${state.fileNames.get(sha) || "evidence " + (i + 1)}`,
            onclick: () => {
              state.evidence = state.evidence.filter((x) => x !== sha);
              renderEvidence();
            },
            text: "Remove",
          }),
        ),
      ),
    );
  }

  // PUT /v1/blobs with the file's bytes as they are; answers {sha256, size}.
  async function putBlob(file) {
    let resp;
    try {
      resp = await fetch("/v1/blobs", {
        method: "PUT",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "X-CEC-Request": "1", "Content-Type": "application/octet-stream", Accept: "application/json" },
        body: file,
      });
    } catch (e) {
      throw new Offline("the node does not answer");
    }
    const text = await resp.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      /* an answer without JSON: the status says it */
    }
    if (!resp.ok) {
      const err = (json && json.error) || {};
      throw new ApiError(resp.status, err.code || "error", err.message || `the node answered ${resp.status}`, "evidence");
    }
    return json;
  }

  async function uploadChosenFile() {
    const input = el("entry-file");
    const file = input.files && input.files[0];
    if (!file) return;
    const status = el("entry-file-status");
    status.textContent = `Uploading ${file.name}…`;
    const ok = await submitting(entryForm(), async () => {
      const blob = await putBlob(file);
      state.fileNames.set(blob.sha256, file.name);
      if (!state.evidence.includes(blob.sha256)) state.evidence.push(blob.sha256);
      status.textContent = `${file.name} attached (${blob.size} bytes).`;
      input.value = "";
      renderEvidence();
    });
    if (!ok) status.textContent = `${file.name} was not attached.`;
  }

  function resetEntryForm() {
    const f = entryForm();
    f.reset();
    delete f.dataset.id;
    state.editingEntry = null;
    state.evidence = [];
    el("entry-form-h").textContent = "Add an entry";
    f.querySelector(".cancel").hidden = true;
    el("entry-file-status").textContent = "";
    f.elements.kind.disabled = false;
    renderEvidence();
    syncKind();
    showError(f, null);
  }

  function editEntry(en) {
    const f = entryForm();
    resetEntryForm();
    state.editingEntry = en;
    f.elements.kind.value = en.kind;
    f.elements.kind.disabled = true; // a kind is fixed once written
    f.elements.title.value = en.title;
    f.elements.date.value = en.date;
    f.elements.cecs.value = en.cecs || "";
    f.elements.contact_minutes.value = en.contact_minutes ?? "";
    f.elements.category.value = en.category || "";
    f.elements.provider.value = en.provider || "";
    f.elements.description.value = en.description || "";
    state.evidence = [...en.evidence];
    renderEvidence();
    syncKind();
    el("entry-form-h").textContent = `Edit “${en.title}”`;
    f.querySelector(".cancel").hidden = false;
    f.scrollIntoView({ block: "start" });
    f.elements.title.focus();
  }

  // The form's values in the API's shapes (strings for credit; null for an empty optional).
  function entryValues(f) {
    const v = (name) => f.elements[name].value.trim();
    const minutes = v("contact_minutes");
    if (minutes && !/^\d+$/.test(minutes)) throw local("a whole number of minutes", "contact_minutes");
    if (!v("title")) throw local("give the entry a title", "title");
    if (!v("date")) throw local("choose a date", "date");
    return {
      title: v("title"),
      date: v("date"),
      description: v("description") || null,
      cecs: f.elements.kind.value === "activity" ? v("cecs") || null : null,
      contact_minutes: minutes ? Number(minutes) : null,
      category: v("category") || null,
      provider: v("provider") || null,
      evidence: [...state.evidence],
    };
  }

  async function saveEntry(e) {
    e.preventDefault();
    const f = entryForm();
    const ok = await submitting(f, async () => {
      const vals = entryValues(f);
      const en = state.editingEntry;
      if (en) {
        // Only what changed: an entry chosen in a petition keeps its credit and date.
        const patch = {};
        for (const [k, val] of Object.entries(vals)) {
          const before = k === "evidence" ? JSON.stringify(en.evidence) : en[k] ?? null;
          const after = k === "evidence" ? JSON.stringify(val) : val;
          if (before !== after) patch[k] = val;
        }
        if (Object.keys(patch).length) await api("PATCH", `${base()}/entries/${enc(en.id)}`, patch);
      } else {
        // The id is made here once, so a retry after a lost answer is the same entry.
        f.dataset.id = f.dataset.id || CEC.newId();
        const body = { id: f.dataset.id, kind: f.elements.kind.value, title: vals.title, date: vals.date };
        for (const k of ["description", "cecs", "contact_minutes", "category", "provider"]) {
          if (vals[k] !== null) body[k] = vals[k];
        }
        if (vals.evidence.length) body.evidence = vals.evidence;
        await api("POST", `${base()}/entries`, body);
      }
    });
    if (ok) {
      resetEntryForm();
      el("entry-file-status").textContent = "Saved.";
      await load();
    }
  }

  // --- goals ---------------------------------------------------------------------------------
  const goalForm = () => el("goal-form");

  function benchmarkRow(b) {
    const n = el("benchmark-rows").children.length + 1;
    const id = `bm-${Date.now().toString(36)}-${n}`;
    const li = h(
      "li",
      { class: "benchmark-row" },
      h("div", { class: "row" }, h("label", { for: `${id}-t`, text: `Benchmark ${n}` }), h("input", { id: `${id}-t`, name: "bm_title", type: "text", value: b ? b.title : "", placeholder: "Half way" })),
      h("div", { class: "row" }, h("label", { for: `${id}-c`, text: "CECs by then" }), h("input", { id: `${id}-c`, name: "bm_target", type: "text", inputmode: "decimal", value: b ? b.target_cecs : "" })),
      h("div", { class: "row" }, h("label", { for: `${id}-d`, text: "By" }), h("input", { id: `${id}-d`, name: "bm_due", type: "date", value: b ? b.due : "" })),
      h("button", { type: "button", class: "secondary small", text: `Remove benchmark ${n}`, onclick: () => li.remove() }),
    );
    el("benchmark-rows").append(li);
    return li;
  }

  function resetGoalForm() {
    const f = goalForm();
    f.reset();
    f.elements.goal_id.value = "";
    el("benchmark-rows").replaceChildren();
    el("goal-form-h").textContent = "Set a goal";
    f.querySelector(".cancel").hidden = true;
    showError(f, null);
  }

  function editGoal(g) {
    const f = goalForm();
    resetGoalForm();
    f.elements.goal_id.value = g.id;
    f.elements.title.value = g.title;
    f.elements.target_cecs.value = g.target_cecs;
    f.elements.category.value = g.category || "";
    f.elements.start.value = g.start || "";
    f.elements.due.value = g.due;
    g.benchmarks.forEach((b) => benchmarkRow(b));
    el("goal-form-h").textContent = `Change “${g.title}”`;
    f.querySelector(".cancel").hidden = false;
    f.scrollIntoView({ block: "start" });
    f.elements.title.focus();
  }

  function slug(title) {
    const s = title.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60);
    return s || "goal";
  }

  async function saveGoal(e) {
    e.preventDefault();
    const f = goalForm();
    const ok = await submitting(f, async () => {
      const v = (name) => f.elements[name].value.trim();
      if (!v("title")) throw local("give the goal a name", "title");
      if (!v("target_cecs")) throw local("how many CECs?", "target_cecs");
      if (!v("due")) throw local("choose a due date", "due");
      const body = { title: v("title"), target_cecs: v("target_cecs"), due: v("due") };
      if (v("category")) body.category = v("category");
      if (v("start")) body.start = v("start");
      body.benchmarks = [...el("benchmark-rows").children].map((li) => ({
        title: li.querySelector("[name=bm_title]").value.trim(),
        target_cecs: li.querySelector("[name=bm_target]").value.trim(),
        due: li.querySelector("[name=bm_due]").value,
      }));
      for (const [i, b] of body.benchmarks.entries()) {
        const row = el("benchmark-rows").children[i];
        if (!b.title) throw Object.assign(local(`benchmark ${i + 1} needs a name`), { focus: row.querySelector("[name=bm_title]") });
        if (!b.target_cecs) throw Object.assign(local(`benchmark ${i + 1} needs its CECs`), { focus: row.querySelector("[name=bm_target]") });
        if (!b.due) throw Object.assign(local(`benchmark ${i + 1} needs a date`), { focus: row.querySelector("[name=bm_due]") });
      }
      let id = v("goal_id");
      if (!id) {
        id = slug(body.title);
        const taken = new Set(state.portfolio.goals.map((g) => g.id));
        for (let n = 2; taken.has(id); n++) id = `${slug(body.title)}-${n}`;
        f.elements.goal_id.value = id; // a retry writes the same goal
      }
      try {
        await api("PUT", `${base()}/goals/${enc(id)}`, body);
      } catch (err) {
        // "benchmarks[1].target_cecs" names a row of the form.
        const m = err.field && /^benchmarks\[(\d+)\]\.(\w+)/.exec(err.field);
        if (m) {
          const row = el("benchmark-rows").children[Number(m[1])];
          const name = { title: "bm_title", target_cecs: "bm_target", due: "bm_due" }[m[2]];
          const field = row && row.querySelector(`[name=${name}]`);
          if (field) throw Object.assign(new ApiError(err.status, err.code, `benchmark ${Number(m[1]) + 1}: ${err.message}`), { focus: field });
        }
        throw err;
      }
    });
    if (ok) {
      resetGoalForm();
      await load();
    }
  }

  // --- requirement programs -----------------------------------------------------------------
  function editProgram(p) {
    const f = el("program-form");
    el("program-details").open = true;
    f.elements.program_id.value = p.id;
    f.elements.title.value = p.title;
    f.elements.window_start.value = p.window_start;
    f.elements.window_end.value = p.window_end;
    f.elements.total_cecs.value = p.total_cecs;
    f.elements.minimums.value = Object.entries(p.minimums)
      .map(([c, v]) => `${c} ${v}`)
      .join(", ");
    f.elements.verified_only.checked = p.verified_only;
    f.elements.title.focus();
  }

  async function saveProgram(e) {
    e.preventDefault();
    const f = el("program-form");
    const ok = await submitting(f, async () => {
      const v = (name) => f.elements[name].value.trim();
      if (!v("title")) throw local("give the program a name", "title");
      const minimums = {};
      for (const part of v("minimums").split(",").map((x) => x.trim()).filter(Boolean)) {
        const m = /^(\S+)\s*[: ]\s*(\S+)$/.exec(part);
        if (!m) throw local(`write each minimum as a category and CECs, like "ethics 3" (not ${JSON.stringify(part)})`, "minimums");
        minimums[m[1]] = m[2];
      }
      const body = {
        title: v("title"),
        window_start: v("window_start"),
        window_end: v("window_end"),
        total_cecs: v("total_cecs"),
        minimums,
        verified_only: f.elements.verified_only.checked,
      };
      let id = v("program_id");
      if (!id) {
        id = slug(body.title);
        f.elements.program_id.value = id;
      }
      try {
        await api("PUT", `${base()}/requirements/${enc(id)}`, body);
      } catch (err) {
        if (err.field && err.field.startsWith("minimums")) err.field = "minimums";
        throw err;
      }
    });
    if (ok) {
      f.reset();
      f.elements.program_id.value = "";
      await load();
    }
  }

  // --- petitions -----------------------------------------------------------------------------
  async function createPetition(e) {
    e.preventDefault();
    const f = el("petition-form");
    const ok = await submitting(f, async () => {
      const target = f.elements.target_association.value.trim();
      if (!state.chosen.size) throw local("choose the records to petition under Credit records first");
      if (!target) throw local("which association is asked?", "target_association");
      f.dataset.id = f.dataset.id || CEC.newId();
      const body = { id: f.dataset.id, target_association: target, record_ids: chosenRecords().map((r) => r.id) };
      const note = f.elements.note.value.trim();
      if (note) body.note = note;
      await api("POST", `${base()}/petitions`, body);
    });
    if (ok) {
      f.reset();
      delete f.dataset.id;
      state.chosen.clear();
      await load();
      const last = el("petitions").lastElementChild;
      if (last) last.querySelector("a").focus();
    }
  }

  // --- start ---------------------------------------------------------------------------------
  function wire() {
    el("member-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const id = el("member-id").value.trim();
      if (!ID.test(id)) {
        showError(el("member-form"), local("a member number is 1 to 128 letters, digits, '.', '_', ':' or '-'", "member_id"));
        return;
      }
      await choose(id);
    });
    entryForm().addEventListener("submit", saveEntry);
    entryForm().elements.kind.addEventListener("change", syncKind);
    entryForm().querySelector(".cancel").addEventListener("click", resetEntryForm);
    el("entry-file").addEventListener("change", uploadChosenFile);
    goalForm().addEventListener("submit", saveGoal);
    goalForm().querySelector(".cancel").addEventListener("click", resetGoalForm);
    el("add-benchmark").addEventListener("click", () => benchmarkRow(null).querySelector("input").focus());
    el("program-form").addEventListener("submit", saveProgram);
    el("petition-form").addEventListener("submit", createPetition);
    for (const id of ["transcript-from", "transcript-to"]) el(id).addEventListener("change", renderTranscript);
    window.addEventListener("hashchange", () => {
      const m = memberFromHash();
      if (m && m !== state.member) choose(m);
    });
    let resize = null;
    window.addEventListener("resize", () => {
      clearTimeout(resize);
      resize = setTimeout(() => state.portfolio && renderChart(), 150);
    });
    CEC.onSignedOut(() => (el("signin").hidden = false));
    let wasDown = false;
    CEC.onReachability((ok) => {
      el("unreachable").hidden = ok;
      if (ok && wasDown && state.member) load();
      wasDown = !ok;
    });
    syncKind();
  }

  async function start() {
    wire();
    CEC.startSync(() => 0, { checkins: false });
    state.own = await ownMember();
    const member = memberFromHash() || state.own;
    if (member) {
      await choose(member);
    } else {
      el("member-info").textContent = "Which member's portfolio? This node does not belong to one member.";
      el("member-id").focus();
    }
  }

  // For tests and the curious: the exact arithmetic in use.
  CEC.Dec = Dec;
  start();
})();
