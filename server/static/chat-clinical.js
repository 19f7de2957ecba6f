// The clinical side of the chat page: consent for a therapist, prescribed programmes, the locks a
// programme session carries, and the self-report before and after a programme session.
// Loaded before chat.js (to catch an #invite= link before chat.js clears the address bar); it uses
// chat.js's api(), loadSessions(), requestNext() and wraps showSession() once the page has loaded.
"use strict";

(() => {
  const INVITE_KEY = "promptloop_invite";
  const SCOPES = [["sessions", "sessions and scores", true], ["physiology", "physiological summaries", false],
                  ["messages", "chat messages", false], ["prescribe", "prescribe programmes", true],
                  ["profile", "listening profile (sounds you avoid, comfortable ranges)", false]];
  const NS = "http://www.w3.org/2000/svg";
  const cl = { sessionId: null, info: null, asked: new Set() };
  const invite = location.hash.match(/invite=([^&]+)/);
  if (invite) {
    sessionStorage.setItem(INVITE_KEY, decodeURIComponent(invite[1]));
    if (!/token=/.test(location.hash)) history.replaceState(null, "", location.pathname);
  }
  const byId = (id) => document.getElementById(id);

  function node(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }

  // -- pictorial scales in the manner of the Self-Assessment Manikin ----------------------------
  function face(kind, level) {
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "-12 -12 24 24"); svg.setAttribute("width", "28"); svg.setAttribute("height", "28");
    const add = (tag, attrs) => { const e = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); svg.append(e); };
    add("circle", { r: 7, fill: "#fff", stroke: "#555", "stroke-width": 1 });
    add("circle", { cx: -2.5, cy: -2, r: 0.9, fill: "#555" }); add("circle", { cx: 2.5, cy: -2, r: 0.9, fill: "#555" });
    const t = (level - 5) / 4; // -1 … +1
    if (kind === "valence") {
      add("path", { d: `M -3.5 3 Q 0 ${3 + 3 * t} 3.5 3`, fill: "none", stroke: "#555", "stroke-width": 1 });
    } else {
      add("line", { x1: -3, y1: 3, x2: 3, y2: 3, stroke: "#555", "stroke-width": 1 });
      const rays = Math.round((level - 1) * 1.5);
      for (let i = 0; i < rays; i++) {
        const a = (2 * Math.PI * i) / Math.max(rays, 1);
        add("line", { x1: 8.5 * Math.cos(a), y1: 8.5 * Math.sin(a), x2: 11 * Math.cos(a), y2: 11 * Math.sin(a), stroke: "#c2572b", "stroke-width": 1.8 });
      }
    }
    return svg;
  }

  function scale(name, low, high) {
    const row = node("div", { class: "sam", role: "radiogroup", "aria-label": name });
    row.append(node("span", { class: "end" }, low));
    for (let v = 1; v <= 9; v++) {
      const input = node("input", { type: "radio", name, value: String(v), "aria-label": `${name} ${v}` });
      const label = node("label", { class: "sam-point", title: `${v}` }, input);
      if (v % 2 === 1) label.append(face(name, v)); else label.append(node("span", { class: "dot" }, "·"));
      row.append(label);
    }
    row.append(node("span", { class: "end" }, high));
    return row;
  }

  function showReportForm(phase) {
    const form = byId("self-report");
    const qs = (cl.info.questionnaires || []).filter((q) => q.when === phase || q.when === "both");
    const distress = node("select", { name: "distress", "aria-label": "distress" }, node("option", { value: "" }, "— (skip)"));
    for (let v = 0; v <= 10; v++) distress.append(node("option", { value: String(v) }, String(v)));
    form.replaceChildren(
      node("h3", {}, phase === "pre" ? "Before we start: how do you feel?" : "The session is over: how do you feel now?"),
      scale("valence", "unhappy", "happy"), scale("arousal", "calm", "excited"),
      node("label", {}, "Distress or tension (0 none – 10 worst) ", distress),
      ...qs.map((q) => node("fieldset", { "data-questionnaire": q.id }, node("legend", {}, q.title),
        ...q.items.map((item) => node("label", {}, `${item.text} (${item.min}–${item.max}) `,
          node("input", { type: "number", min: String(item.min), max: String(item.max), "data-item": item.id }))))),
      node("button", { id: "self-report-send" }, "Save"),
      node("button", { type: "button", id: "self-report-skip", onclick: () => { form.hidden = true; } }, "Not now"));
    form.dataset.phase = phase;
    form.hidden = false;
  }

  async function sendReport(ev) {
    ev.preventDefault();
    const form = ev.target;
    const f = new FormData(form);
    if (!f.get("valence") || !f.get("arousal")) { say("assistant", "Pick a point on both scales, please."); return; }
    const answers = {};
    for (const fs of form.querySelectorAll("fieldset[data-questionnaire]")) {
      const items = {};
      for (const input of fs.querySelectorAll("input[data-item]")) if (input.value !== "") items[input.dataset.item] = Number(input.value);
      if (Object.keys(items).length) answers[fs.dataset.questionnaire] = items;
    }
    const phase = form.dataset.phase;
    try {
      await api("POST", `/v1/sessions/${cl.sessionId}/self-reports`, {
        phase, valence: Number(f.get("valence")), arousal: Number(f.get("arousal")),
        distress: f.get("distress") === "" ? null : Number(f.get("distress")), answers });
      form.hidden = true;
      cl.info.reported.push(phase);
      say("assistant", phase === "pre" ? "Thank you. The session starts now." : "Thank you; your therapist will see this.");
      if (phase === "pre") { ensureAudioContext(); requestNext(); }
    } catch (e) { say("assistant", "Could not save: " + e.message); }
  }

  // -- the session's programme ------------------------------------------------------------------
  async function onSession(session) {
    if (session.id !== cl.sessionId) {
      cl.sessionId = session.id; cl.info = null;
      byId("self-report").hidden = true;
      try { cl.info = await api("GET", `/v1/sessions/${session.id}/programme`); } catch (e) { return; }
      const note = byId("locks-note");
      note.hidden = !cl.info.locks.length;
      note.textContent = "Locked by your therapist: " + cl.info.locks.join("; ");
    }
    const info = cl.info;
    if (!info || !info.programme_id || info.session_id !== session.id) return;
    const ask = (phase) => { const key = session.id + phase; if (!cl.asked.has(key)) { cl.asked.add(key); showReportForm(phase); } };
    if (session.segments_done === 0 && !info.reported.includes("pre")) ask("pre");
    else if (session.status === "complete" && !info.reported.includes("post")) ask("post");
  }

  // -- consent and programmes -------------------------------------------------------------------
  async function loadConsents() {
    const list = await api("GET", "/v1/consents");
    byId("consents").replaceChildren(...list.filter((c) => c.active).map((c) => {
      const boxes = SCOPES.map(([value, text]) => {
        const input = node("input", { type: "checkbox", value, "aria-label": text });
        input.checked = c.scopes.includes(value);
        return node("label", { class: "inline", title: text }, input, value);
      });
      const change = async () => {
        const scopes = boxes.map((b) => b.firstChild).filter((i) => i.checked).map((i) => i.value);
        try { await api("PATCH", `/v1/consents/${c.id}`, { scopes }); await loadAll(); }
        catch (e) { say("assistant", "Could not change the consent: " + e.message); }
      };
      return node("li", { class: "consent" }, `${c.therapist}: `, ...boxes,
        node("button", { type: "button", class: "change-scopes", onclick: change }, "Change"),
        node("button", { type: "button", class: "revoke", onclick: async () => {
          await api("DELETE", `/v1/consents/${c.id}`); await loadAll(); } }, "Revoke"));
    }));
  }

  async function loadProgrammes() {
    const list = await api("GET", "/v1/me/programmes");
    byId("my-programmes").replaceChildren(...list.map((p) => node("div", { class: "my-programme" },
      node("strong", {}, `${p.title} (${p.therapist})`), p.note ? node("p", { class: "muted" }, p.note) : "",
      ...p.steps.map((s) => node("div", { class: "my-step" }, `${s.index + 1}. ${s.title} `,
        s.status === "ready"
          ? node("button", { type: "button", class: "start-step", onclick: () => startStep(p.id, s.index) }, "Start")
          : node("span", { class: "muted" }, "(waiting for review)"))))));
  }

  async function loadAudit() {
    const list = await api("GET", "/v1/me/audit");
    byId("audit").replaceChildren(...list.slice(0, 50).map((a) => node("li", {},
      `${a.created.slice(0, 16).replace("T", " ")} ${a.actor} ${a.action} ${a.object_type}${a.scope ? " (" + a.scope + ")" : ""}`)));
  }

  async function startStep(programmeId, step) {
    try {
      const session = await api("POST", `/v1/me/programmes/${programmeId}/sessions`, { step });
      await loadSessions(session.id);
      await loadProgrammes();
    } catch (e) { say("assistant", "Could not start: " + e.message); }
  }

  async function grant(ev) {
    ev.preventDefault();
    const code = byId("invite-input").value.trim();
    const scopes = [...document.querySelectorAll("#consent-form input[name=scope]:checked")].map((i) => i.value);
    try {
      await api("POST", "/v1/consents", { code, scopes });
      sessionStorage.removeItem(INVITE_KEY);
      byId("invite-input").value = "";
      say("assistant", "Consent granted. You can change or revoke it here at any time.");
      await loadAll();
    } catch (e) { say("assistant", "Could not grant consent: " + e.message); }
  }

  async function loadAll() {
    try { await Promise.all([loadConsents(), loadProgrammes(), loadAudit()]); } catch (e) { /* signed out */ }
  }

  function build() {
    const box = node("details", { id: "clinical", open: "" }, node("summary", {}, "My therapist"),
      node("form", { id: "consent-form" },
        node("input", { id: "invite-input", maxlength: "100", placeholder: "invitation code",
                        value: sessionStorage.getItem(INVITE_KEY) || "" }),
        ...SCOPES.map(([value, text, on]) => {
          const input = node("input", { type: "checkbox", name: "scope", value });
          input.checked = on;
          return node("label", { class: "inline" }, input, text);
        }),
        node("button", { id: "grant" }, "Grant consent")),
      node("ul", { id: "consents" }),
      node("h3", {}, "Programmes"), node("div", { id: "my-programmes" }),
      node("details", { id: "audit-box" }, node("summary", {}, "Who saw my data"), node("ul", { id: "audit" })));
    byId("sessions").append(box);
    byId("consent-form").addEventListener("submit", grant);
    byId("audit-box").addEventListener("toggle", loadAudit);
    const form = node("form", { id: "self-report", hidden: "" });
    form.addEventListener("submit", sendReport);
    byId("chat-form").before(form);
    byId("chips-like").before(node("p", { id: "locks-note", class: "locks", hidden: "" }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    build();
    const original = window.showSession;
    window.showSession = (session) => { const out = original(session); onSession(session); return out; };
    new MutationObserver(() => { if (!byId("app").hidden) loadAll(); })
      .observe(byId("app"), { attributes: true, attributeFilter: ["hidden"] });
  });
})();
