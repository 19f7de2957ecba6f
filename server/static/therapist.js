// promptloop therapist dashboard: plain JavaScript, no build step.
// Clients come from consent grants; everything shown is what the client's consent covers.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "promptloop_therapist_token";
const SVG = "http://www.w3.org/2000/svg";
const st = { token: null, client: null, draft: [] };

async function api(method, path, body, raw) {
  const headers = { Authorization: "Bearer " + st.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) { signOut(); throw new Error("signed out"); }
  if (raw && res.ok) return res;
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) {
    const d = data && data.detail;
    const err = new Error(typeof d === "string" ? d : (d || []).map((x) => `${(x.loc || []).slice(-1)}: ${x.msg}`).join("; "));
    err.status = res.status;
    throw err;
  }
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function takeToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
  return localStorage.getItem(TOKEN_KEY);
}

function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  $("app").hidden = true;
  $("login").hidden = false;
}

function showError(e) { $("client-error").textContent = e ? e.message : ""; }
function terms(text) { return (text || "").split(",").map((t) => t.trim()).filter(Boolean); }

// -- clients and invitations ---------------------------------------------------------------------
async function loadClients() {
  const clients = await api("GET", "/v1/clients");
  $("clients").replaceChildren(...clients.map((c) => el("li", {
    class: "client" + (st.client && st.client.client_id === c.client_id ? " selected" : ""),
    dataset: { client: c.client_id }, onclick: () => selectClient(c),
  }, `${c.name} · ${c.scopes.join(", ") || "no scopes"}`)));
  if (!clients.length) $("clients").append(el("li", { class: "muted" }, "No clients yet: create an invitation."));
  return clients;
}

async function loadPending() {
  const pending = await api("GET", "/v1/approvals");
  $("pending").replaceChildren(...pending.map((p) => el("li", { class: "pending" },
    `${p.client}: programme step ${p.step + 1} `,
    el("button", { type: "button", onclick: () => openProposals(p.client_id, p.programme_id, p.proposal_id) }, "review"))));
  if (!pending.length) $("pending").append(el("li", { class: "muted" }, "Nothing waiting."));
}

async function selectClient(c) {
  st.client = c;
  $("client-title").textContent = c.name;
  $("client-scopes").textContent = "consent: " + (c.scopes.join(", ") || "none");
  showError(null);
  $("proposal").hidden = true;
  for (const li of document.querySelectorAll(".client")) li.classList.toggle("selected", li.dataset.client === c.client_id);
  await Promise.all([loadProgrammes(), loadProgress(), loadClientProfile()]);
}

// -- the client's listener profile (scope 'profile'; read-only, the client edits it) ------------
async function loadClientProfile() {
  const box = $("client-profile");
  if (!st.client.scopes.includes("profile")) { box.replaceChildren(); return; }
  const p = await api("GET", `/v1/clients/${st.client.client_id}/profile`);
  const range = (r, unit) => (r ? `${r[0]}–${r[1]} ${unit}` : "not set");
  const list = (xs) => (xs.length ? xs.join(", ") : "none");
  box.replaceChildren(el("strong", {}, "Listening profile"), el("ul", {},
    el("li", {}, `avoids: ${list(p.rejected)}; triggers found: ${list(p.triggers)}`),
    el("li", {}, `comfortable tempo ${range(p.comfortable_tempo_bpm, "BPM")}, loudness ${range(p.comfortable_loudness_lufs, "LUFS")}`),
    el("li", {}, `learned from ${p.sessions} session${p.sessions === 1 ? "" : "s"}` +
      (p.followed_tempo_bpm ? `; followed ${range(p.followed_tempo_bpm, "BPM")}` : "") +
      (p.calming_loudness_lufs !== null ? `; calming music above ${p.calming_loudness_lufs} LUFS did not calm` : ""))));
}

// -- programmes ----------------------------------------------------------------------------------
function stepFromForm(form) {
  const f = new FormData(form);
  const step = {
    title: `${f.get("start")} → ${f.get("target")}`, start: f.get("start"), target: f.get("target"), arc: f.get("arc"),
    pacing: f.get("pacing"),
    segments: Number(f.get("segments")), segment_seconds: Number(f.get("seconds")), prefer: terms(f.get("prefer")),
    avoid: terms(f.get("avoid")), loudness_ceiling_lufs: Number(f.get("ceiling")), gentle: f.get("gentle") === "on",
    review: f.get("review") === "on", locks: f.getAll("lock"),
  };
  if (f.get("planner")) step.planner = f.get("planner");
  if (f.get("tempo_low") || f.get("tempo_high")) step.tempo_range_bpm = [Number(f.get("tempo_low")), Number(f.get("tempo_high"))];
  return step;
}

function renderDraft() {
  $("draft-steps").replaceChildren(...st.draft.map((s) => el("li", {}, `${s.title}, ${s.segments} × ${s.segment_seconds} s` +
    (s.pacing === "open" ? ", open loop" : "") +
    (s.tempo_range_bpm ? `, ${s.tempo_range_bpm[0]}–${s.tempo_range_bpm[1]} BPM` : "") + (s.locks.length ? `, locked: ${s.locks.join(", ")}` : ""))));
}

function questionnaireFromForm(f) {
  const lines = (f.get("q_items") || "").split("\n").map((l) => l.trim()).filter(Boolean);
  if (!f.get("q_title") || !lines.length) return [];
  const items = lines.map((line, i) => {
    const [text, min, max] = line.split("|").map((x) => x.trim());
    return { id: `i${i + 1}`, text, min: Number(min || 0), max: Number(max || 10) };
  });
  return [{ id: "q1", title: f.get("q_title"), when: f.get("q_when"), items }];
}

async function saveProgramme(form) {
  if (!st.client) return;
  const f = new FormData(form);
  const steps = st.draft.length ? st.draft : [stepFromForm(form)];
  try {
    await api("POST", `/v1/clients/${st.client.client_id}/programmes`,
      { title: f.get("title"), note: f.get("note"), steps, questionnaires: questionnaireFromForm(f) });
    st.draft = []; renderDraft(); showError(null);
    await loadProgrammes();
  } catch (e) { showError(e); }
}

async function loadProgrammes() {
  const box = $("programmes");
  if (!st.client.scopes.includes("prescribe")) {
    box.replaceChildren(el("p", { class: "muted" }, "The client's consent does not include prescribing."));
    return;
  }
  const list = await api("GET", `/v1/clients/${st.client.client_id}/programmes`);
  box.replaceChildren(...list.map((p) => el("div", { class: "programme", dataset: { programme: p.id } },
    el("strong", {}, p.title),
    ...p.steps.map((s) => el("div", { class: "step" },
      `${s.index + 1}. ${s.spec.title} · ${s.spec.segments} × ${s.spec.segment_seconds} s` +
      (s.spec.pacing === "open" ? " · open loop (readings do not pace it)" : "") +
      (s.spec.tempo_range_bpm ? ` · tempo ${s.spec.tempo_range_bpm[0]}–${s.spec.tempo_range_bpm[1]} BPM` : "") +
      (s.locks.length ? ` · locked: ${s.locks.join("; ")}` : "") +
      (s.needs_review ? (s.approved ? " · approved" : " · needs review") : ""),
      el("button", { type: "button", class: "propose", onclick: () => propose(p.id, s.index) }, "Propose plan"))))));
  if (!list.length) box.append(el("p", { class: "muted" }, "No programmes yet."));
}

async function propose(programmeId, step) {
  try {
    const proposal = await api("POST", `/v1/clients/${st.client.client_id}/programmes/${programmeId}/steps/${step}/proposal`);
    showProposal(st.client.client_id, proposal);
    await loadPending();
  } catch (e) { showError(e); }
}

async function openProposals(clientId, programmeId, proposalId) {
  const list = await api("GET", `/v1/clients/${clientId}/programmes/${programmeId}/proposals`);
  const found = list.find((p) => p.id === proposalId);
  if (found) showProposal(clientId, found);
}

function showProposal(clientId, p) {
  const box = $("proposal");
  box.hidden = false;
  const path = p.waypoints.map((w) => `(${w.valence.toFixed(2)}, ${w.arousal.toFixed(2)})`).join(" → ");
  const plans = p.plans.map((plan) => el("div", { class: "plan" },
    el("label", {}, `Segment ${plan.index + 1} (${plan.planner}${plan.fallback ? ", " + plan.fallback : ""})`,
      el("textarea", { "data-index": String(plan.index), maxlength: "500" }, plan.prompt))));
  const decide = async (action) => {
    const edits = action === "edit" ? [...box.querySelectorAll("textarea")].map((t) => ({ index: Number(t.dataset.index), prompt: t.value })) : [];
    try {
      const done = await api("POST", `/v1/clients/${clientId}/programmes/${p.programme_id}/proposals/${p.id}/decision`,
        { action, plans: edits });
      showProposal(clientId, done);
      await Promise.all([loadPending(), st.client ? loadProgrammes() : null]);
    } catch (e) { showError(e); }
  };
  const buttons = p.status === "pending" ? [
    el("button", { type: "button", id: "approve", onclick: () => decide("approve") }, "Approve"),
    el("button", { type: "button", id: "save-edits", onclick: () => decide("edit") }, "Save edits and approve"),
    el("button", { type: "button", id: "reject", onclick: () => decide("reject") }, "Reject"),
  ] : [];
  box.replaceChildren(el("h2", {}, `Proposal for step ${p.step + 1}: ${p.status}`),
    el("p", { class: "muted" }, "Planned path (valence, arousal): " + path), ...plans, el("p", {}, ...buttons));
}

// -- progress ------------------------------------------------------------------------------------
function plotProgress(sessions) {
  const g = $("progress-points");
  g.replaceChildren();
  const n = Math.max(sessions.length, 1);
  const x = (i) => 30 + (280 * (i + 0.5)) / n;
  const y = (v) => 170 - ((v - 1) / 8) * 160;
  sessions.forEach((s, i) => {
    if (s.pre && s.post) {
      const line = document.createElementNS(SVG, "line");
      line.setAttribute("class", "change");
      line.setAttribute("x1", x(i)); line.setAttribute("x2", x(i));
      line.setAttribute("y1", y(s.pre.valence)); line.setAttribute("y2", y(s.post.valence));
      g.append(line);
    }
    for (const phase of ["pre", "post"]) {
      if (!s[phase]) continue;
      const c = document.createElementNS(SVG, "circle");
      c.setAttribute("class", phase); c.setAttribute("r", 6);
      c.setAttribute("cx", x(i) + (phase === "pre" ? -4 : 4)); c.setAttribute("cy", y(s[phase].valence));
      c.dataset.session = s.session_id; c.dataset.valence = String(s[phase].valence);
      const t = document.createElementNS(SVG, "title");
      t.textContent = `${s.title}: ${phase} valence ${s[phase].valence}, arousal ${s[phase].arousal}`;
      c.append(t);
      g.append(c);
    }
  });
}

async function loadProgress() {
  const body = $("progress-table").querySelector("tbody");
  body.replaceChildren(); plotProgress([]);
  if (!st.client.scopes.includes("sessions")) { $("progress-summary").textContent = "The consent does not include sessions."; return; }
  const p = await api("GET", `/v1/clients/${st.client.client_id}/progress`);
  plotProgress(p.sessions);
  const s = p.summary;
  $("progress-summary").textContent = `${s.sessions} sessions; ${s.with_both_reports} with reports before and after` +
    (s.mean_valence_change !== null ? `; mean valence change ${s.mean_valence_change > 0 ? "+" : ""}${s.mean_valence_change}` : "");
  const cell = (pre, post) => (pre === null || pre === undefined ? "–" : pre) + " → " + (post === null || post === undefined ? "–" : post);
  p.sessions.forEach((x, i) => body.append(el("tr", {},
    el("td", {}, String(i + 1)), el("td", {}, x.title),
    el("td", {}, cell(x.pre && x.pre.valence, x.post && x.post.valence)),
    el("td", {}, cell(x.pre && x.pre.arousal, x.post && x.post.arousal)),
    el("td", {}, cell(x.pre && x.pre.distress, x.post && x.post.distress)),
    el("td", {}, x.time_to_target_s === null ? "–" : `${x.time_to_target_s.toFixed(1)} s`))));
}

async function download(kind) {
  if (!st.client) return;
  try {
    const res = await api("GET", `/v1/clients/${st.client.client_id}/report.${kind}`, undefined, true);
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: `progress-${st.client.name}.${kind}` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) { showError(e); }
}

// -- wiring --------------------------------------------------------------------------------------
async function start() {
  st.token = takeToken();
  if (!st.token) { signOut(); return; }
  try {
    const role = await api("GET", "/v1/me/role");
    if (role.role !== "therapist") {
      $("login").hidden = false;
      $("login-error").textContent = `${role.name} is not a therapist account.`;
      return;
    }
    $("who").textContent = "signed in as " + role.name;
    $("login").hidden = true;
    $("app").hidden = false;
    await Promise.all([loadClients(), loadPending()]);
  } catch (e) { if (e.message !== "signed out") $("login-error").textContent = e.message; }
}

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
  start();
});
$("invite-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const inv = await api("POST", "/v1/invitations", { note: new FormData(ev.target).get("note") || "" });
    $("invite-code").textContent = inv.code;
    $("invite-link").textContent = location.origin + inv.link;
    $("invite-result").hidden = false;
  } catch (e) { showError(e); }
});
$("add-step").addEventListener("click", () => { st.draft.push(stepFromForm($("programme-form"))); renderDraft(); });
$("programme-form").addEventListener("submit", (ev) => { ev.preventDefault(); saveProgramme(ev.target); });
$("download-html").addEventListener("click", () => download("html"));
$("download-csv").addEventListener("click", () => download("csv"));
window.addEventListener("focus", () => { if (!$("app").hidden) { loadClients(); loadPending(); } });

start();
