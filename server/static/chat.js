// promptloop chat page: plain JavaScript, no build step.
// Talks to the /v1 API with the bearer token; the audio element and the event stream use the
// HttpOnly cookie that POST /v1/auth/cookie sets (GET requests only).
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "promptloop_token";
const SVG = "http://www.w3.org/2000/svg";
const st = {
  token: null, session: null, events: null, ctx: null, nextStart: 0, lastGain: null,
  chain: Promise.resolve(), shown: new Set(), retryTimer: null,
  nextTimer: null, requestedAt: null, genTimes: [], queuedAhead: [], // queuedAhead: seconds queued when each segment arrived
  aim: 0, aimedAhead: [], // aimedAhead: what the page meant to have queued when it asked for each segment
};

// -- API -----------------------------------------------------------------------------------------
async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + st.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) { signOut(); throw new Error("signed out"); }
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) {
    const detail = data && data.detail;
    const err = new Error(typeof detail === "string" ? detail : (detail || []).map((d) => d.msg).join("; "));
    err.status = res.status;
    err.retryAfter = Number(res.headers.get("Retry-After") || 0);
    throw err;
  }
  return data;
}

function takeToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname); // keep the token out of history and screenshots
  }
  return localStorage.getItem(TOKEN_KEY);
}

// Signed out (a 401, an erase): stop what still runs for that account and clear what the page
// shows of it, so the next person at this screen sees none of the last listener's session.
function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  if (st.events) { st.events.close(); st.events = null; }
  clearTimeout(st.nextTimer); clearTimeout(st.retryTimer);
  if (st.ctx) { st.ctx.close(); st.ctx = null; }
  $("player").pause(); $("player").removeAttribute("src");
  st.session = null; st.token = null;
  for (const id of ["transcript", "session-select"]) $(id).replaceChildren();
  resetPlot();
  $("who").textContent = "";
  $("app").hidden = true;
  $("login").hidden = false;
}

// -- transcript ----------------------------------------------------------------------------------
function say(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;
  $("transcript").appendChild(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

function fmt(a) { return `v ${a.valence >= 0 ? "+" : ""}${a.valence.toFixed(2)}, a ${a.arousal >= 0 ? "+" : ""}${a.arousal.toFixed(2)}`; }

function segmentNote(seg) {
  const div = say("segment",
    `Segment ${seg.index + 1} · ${seg.duration_s.toFixed(1)} s · score ${seg.score.toFixed(2)}\n` +
    `“${seg.prompt}”\nplanned ${fmt(seg.waypoint)} · heard as ${fmt(seg.estimated)}`);
  div.dataset.segment = String(seg.index);
}

// -- plot ----------------------------------------------------------------------------------------
function xy(a) { return [a.valence, -a.arousal]; }

function resetPlot() {
  $("points").replaceChildren();
  $("path-target").setAttribute("points", "");
  $("path-estimate").setAttribute("points", "");
}

function plotSegment(seg) {
  for (const [cls, a, r] of [["waypoint", seg.waypoint, 0.03], ["estimate", seg.estimated, 0.04]]) {
    const c = document.createElementNS(SVG, "circle");
    const [x, y] = xy(a);
    c.setAttribute("cx", x); c.setAttribute("cy", y); c.setAttribute("r", r);
    c.setAttribute("class", cls); c.dataset.segment = String(seg.index);
    const title = document.createElementNS(SVG, "title");
    title.textContent = `segment ${seg.index + 1}: ${cls} ${fmt(a)}`;
    c.appendChild(title);
    $("points").appendChild(c);
    const line = $(cls === "waypoint" ? "path-target" : "path-estimate");
    line.setAttribute("points", `${line.getAttribute("points") || ""} ${x},${y}`.trim());
  }
}

function plotGoal(session) {
  const [x, y] = xy(session.target);
  $("goal").setAttribute("cx", x); $("goal").setAttribute("cy", y);
}

// -- preferences as chips ------------------------------------------------------------------------
function renderChips(session) {
  const p = session.preferences;
  const like = [...p.instruments, ...p.genres, ...p.extra];
  const make = (term, kind) => {
    const chip = document.createElement("span");
    chip.className = "chip " + kind;
    chip.textContent = term;
    const x = document.createElement("button");
    x.type = "button"; x.textContent = "×"; x.title = `remove ${term}`;
    x.addEventListener("click", () => changePreferences((q) => {
      q.prefer = q.prefer.filter((t) => t !== term); q.genres = q.genres.filter((t) => t !== term);
      q.avoid = q.avoid.filter((t) => t !== term);
    }));
    chip.appendChild(x);
    return chip;
  };
  $("chips-like").replaceChildren(...like.map((t) => make(t, "like")));
  $("chips-avoid").replaceChildren(...p.avoid.map((t) => make(t, "avoid")));
}

async function changePreferences(edit) {
  const p = st.session.preferences;
  const q = { prefer: [...p.instruments, ...p.extra], genres: [...p.genres], avoid: [...p.avoid],
              gentle: p.gentle, loudness_ceiling_lufs: p.loudness_ceiling_lufs,
              tempo_range_bpm: p.tempo_range_bpm ?? null }; // the PATCH replaces them all
  edit(q);
  try { showSession(await api("PATCH", `/v1/sessions/${st.session.id}`, { preferences: q })); }
  catch (e) { say("assistant", "Could not change preferences: " + e.message); }
}

// -- audio: gapless live playback with Web Audio, the whole session in the <audio> element -----
function ensureAudioContext() {
  if (!st.ctx) st.ctx = new (window.AudioContext || window.webkitAudioContext)();
  if (st.ctx.state === "suspended") st.ctx.resume();
}

function curve(n, fn) { const c = new Float32Array(n); for (let i = 0; i < n; i++) c[i] = fn(i / (n - 1)); return c; }

async function playLive(seg) {
  if (!st.ctx) return;
  st.queuedAhead.push(bufferedSeconds());
  st.aimedAhead.push(st.aim);
  const res = await fetch(seg.audio_url, { headers: { Authorization: "Bearer " + st.token } });
  if (!res.ok) return;
  const buffer = await st.ctx.decodeAudioData(await res.arrayBuffer());
  const overlap = seg.index === 0 ? 0 : st.session.settings.crossfade_seconds;
  const source = st.ctx.createBufferSource();
  source.buffer = buffer;
  const gain = st.ctx.createGain();
  source.connect(gain).connect(st.ctx.destination);
  const now = st.ctx.currentTime + 0.05;
  let start = st.nextStart - overlap;
  if (overlap > 0 && st.lastGain && start >= now) {
    // the same equal-power crossfade the server uses to stitch the session
    st.lastGain.gain.setValueCurveAtTime(curve(64, (t) => Math.cos(t * Math.PI / 2)), start, overlap);
    gain.gain.setValueCurveAtTime(curve(64, (t) => Math.sin(t * Math.PI / 2)), start, overlap);
    source.start(start);
    st.nextStart = start + buffer.duration;
  } else {
    start = Math.max(now, st.nextStart); // first segment, or fell behind: skip the lead-in
    source.start(start, overlap);
    st.nextStart = start + buffer.duration - overlap;
  }
  st.lastGain = gain;
  $("live-status").textContent = `Playing live: segment ${seg.index + 1} scheduled.`;
  scheduleNext();
}

// -- live pacing: generate just ahead of playback (promptloop/service/lookahead.py) -----------
// The next segment is asked for when the audio queued ahead of the playhead falls to the
// session's lookahead plus the time a segment takes, so what the listener says while this one
// plays reaches the next one they hear.
function bufferedSeconds() { return st.ctx ? Math.max(0, st.nextStart - st.ctx.currentTime) : 0; }

function generationSeconds() { return st.genTimes.length ? Math.max(...st.genTimes.slice(-3)) : 1.0; }

function scheduleNext() {
  clearTimeout(st.nextTimer);
  const s = st.session;
  if (!$("auto").checked || !s || s.segments_done >= s.segments) return;
  const lookahead = s.live ? s.live.lookahead_s : 0.5;
  st.aim = lookahead + generationSeconds(); // ask when this much is left: it arrives as the queue runs low
  const wait = Math.max(0, bufferedSeconds() - st.aim);
  // Paced by the audio clock, not the wall clock: when the wait is over, look again, and ask only
  // once no more than the aim is queued (an audio clock running behind, on a busy machine, would
  // otherwise have the page ask early and pile up segments ahead of the listener).
  st.nextTimer = setTimeout(wait > 0 ? scheduleNext : requestNext, wait * 1000);
}

function playingLive() { return !!st.ctx && bufferedSeconds() > 0; }

function refreshPlayer(session) {
  const player = $("player");
  if (session.segments_done === 0) { player.removeAttribute("src"); return; }
  if (!player.paused && !player.ended) return; // never interrupt what the listener is playing
  player.src = `/v1/sessions/${session.id}/audio?segments=${session.segments_done}`;
  player.load();
  const midi = $("midi-link"); // composing generators (soundfont) also keep the score
  midi.href = `/v1/sessions/${session.id}/midi?segments=${session.segments_done}`;
  midi.hidden = !session.backends || session.backends.generator !== "soundfont";
}

// -- progress ------------------------------------------------------------------------------------
function showJob(job) {
  const box = $("progress-box");
  if (job.status === "queued" || job.status === "running") {
    box.hidden = false;
    $("progress").value = job.progress;
    $("progress-text").textContent = job.status === "queued" ? "Waiting for a worker…"
      : `Generating segment ${st.session.segments_done + 1} of ${st.session.segments}…`;
  } else {
    box.hidden = true;
    if (job.status === "failed") say("assistant", "Generation failed: " + (job.error || "unknown error"));
  }
}

function showProgress(ev) {
  $("progress-box").hidden = false;
  $("progress").value = (ev.done + (ev.stage === "attempt" ? 0.5 : 0.1)) / ev.total;
  $("progress-text").textContent = ev.stage === "attempt"
    ? `Segment ${ev.index + 1}: attempt ${ev.attempt + 1} scored ${ev.score.toFixed(2)}`
    : `Generating segment ${ev.index + 1} of ${st.session.segments}…`;
}

// -- session -------------------------------------------------------------------------------------
function sessionLabel(s) {
  return `${s.title || "session"} · ${s.segments_done}/${s.segments} · ${s.created.slice(0, 16).replace("T", " ")}`;
}

function showSession(session) {
  st.session = session;
  const option = [...$("session-select").options].find((o) => o.value === session.id);
  if (option) option.textContent = sessionLabel(session);
  renderChips(session);
  plotGoal(session);
  $("next").disabled = session.status === "complete";
  document.dispatchEvent(new CustomEvent("session-shown", { detail: session })); // for the side panels
  return session;
}

async function requestNext() {
  const s = st.session;
  if (!s || s.segments_done >= s.segments) return;
  try {
    st.requestedAt = performance.now();
    showJob(await api("POST", `/v1/sessions/${s.id}/generate`, { segments: 1 }));
  } catch (e) {
    if (e.status === 409) return; // a segment is already on its way
    if (e.status === 429) {
      say("assistant", `The generator is busy; trying again in ${e.retryAfter || 5} s.`);
      clearTimeout(st.retryTimer);
      st.retryTimer = setTimeout(requestNext, 1000 * (e.retryAfter || 5));
      return;
    }
    say("assistant", "Could not start the next segment: " + e.message);
  }
}

// After a job: the session as it now stands.  It may have gone while the job ran (deleted from
// another tab, the account erased): say so rather than leave the failure unhandled.
function refreshSession(id) {
  const current = () => st.session !== null && st.session.id === id;
  api("GET", `/v1/sessions/${id}`).then((s) => {
    if (!current()) return; // the listener has moved to another session, or signed out
    showSession(s); refreshPlayer(s);
    if ($("auto").checked && !st.ctx) requestNext(); // not playing live: nothing to pace against
  }).catch((e) => {
    if (!current() || e.message === "signed out") return;
    say("assistant", e.status === 404 ? "This session is no longer available." : "Could not refresh the session: " + e.message);
  });
}

function onEvent(type, ev) {
  if (type === "state") {
    showSession(ev.session);
  } else if (type === "job") {
    showJob(ev.job);
    if (ev.job.status === "succeeded") refreshSession(st.session.id);
  } else if (type === "progress") {
    showProgress(ev);
  } else if (type === "segment") {
    const seg = ev.segment;
    if (st.shown.has(seg.index)) return;
    st.shown.add(seg.index);
    if (st.requestedAt !== null) { st.genTimes.push((performance.now() - st.requestedAt) / 1000); st.requestedAt = null; }
    segmentNote(seg);
    plotSegment(seg);
    st.chain = st.chain.then(() => playLive(seg)).catch(() => {});
  }
}

function connect(sessionId) {
  if (st.events) st.events.close();
  const es = new EventSource(`/v1/sessions/${sessionId}/events`);
  for (const type of ["state", "job", "progress", "segment", "message", "listener"]) {
    es.addEventListener(type, (msg) => onEvent(type, JSON.parse(msg.data)));
  }
  st.events = es;
}

async function openSession(id) {
  const [session, segments, messages] = await Promise.all([
    api("GET", `/v1/sessions/${id}`), api("GET", `/v1/sessions/${id}/segments`),
    api("GET", `/v1/sessions/${id}/messages`),
  ]);
  $("transcript").replaceChildren();
  resetPlot();
  st.shown = new Set();
  st.nextStart = 0; st.lastGain = null; clearTimeout(st.nextTimer); st.genTimes = []; st.queuedAhead = []; st.aimedAhead = []; st.aim = 0;
  showSession(session);
  const items = [...messages.map((m) => ({ t: m.created, m })), ...segments.map((s) => ({ t: s.created, s }))];
  items.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  for (const item of items) {
    if (item.m) say(item.m.role, item.m.text);
    else { st.shown.add(item.s.index); segmentNote(item.s); plotSegment(item.s); }
  }
  if (!items.length) say("assistant", "Tell me how the music feels as it plays; I will adjust the next segment.");
  if (session.pacing && session.pacing.steep) say("assistant", "Note: " + session.pacing.note);
  refreshPlayer(session);
  connect(id);
}

async function loadSessions(selectId) {
  const sessions = await api("GET", "/v1/sessions?limit=100");
  const select = $("session-select");
  select.replaceChildren(...sessions.map((s) => {
    const o = document.createElement("option");
    o.value = s.id;
    o.textContent = sessionLabel(s);
    return o;
  }));
  const id = selectId || (sessions[0] && sessions[0].id);
  if (id) { select.value = id; await openSession(id); }
}

function terms(text) { return text.split(",").map((t) => t.trim()).filter(Boolean); }

async function createSession(form) {
  const f = new FormData(form);
  const session = await api("POST", "/v1/sessions", {
    title: `${f.get("start")} → ${f.get("target")}`,
    start: f.get("start"), target: f.get("target"),
    segments: Number(f.get("segments")), segment_seconds: Number(f.get("seconds")),
    crossfade_seconds: Math.min(1, Number(f.get("seconds")) / 4),
    preferences: { prefer: terms(f.get("prefer") || ""), avoid: terms(f.get("avoid") || ""), gentle: f.get("gentle") === "on" },
  });
  await loadSessions(session.id);
  return session;
}

// -- wiring --------------------------------------------------------------------------------------
async function start() {
  st.token = takeToken();
  if (!st.token) { signOut(); return; }
  try {
    const me = await api("GET", "/v1/me");
    await api("POST", "/v1/auth/cookie");
    $("who").textContent = "signed in as " + me.name;
    $("login").hidden = true;
    $("app").hidden = false;
    await loadSessions();
  } catch (e) {
    if (e.message !== "signed out") say("assistant", "Could not load: " + e.message);
  }
}

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
  start();
});

$("new-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  ensureAudioContext();
  try { await createSession(ev.target); await requestNext(); }
  catch (e) { say("assistant", "Could not start a session: " + e.message); }
});

$("session-select").addEventListener("change", (ev) => {
  openSession(ev.target.value).catch((e) => { if (e.message !== "signed out") say("assistant", "Could not open the session: " + e.message); });
});

$("chat-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  ensureAudioContext();
  const text = $("message").value.trim();
  if (!st.session) return;
  if (text) {
    $("message").value = "";
    say("listener", text);
    try {
      const reply = await api("POST", `/v1/sessions/${st.session.id}/messages`, { text });
      say("assistant", reply.reply);
      showSession(reply.session);
    } catch (e) { say("assistant", "Could not send: " + e.message); return; }
  }
  if ($("auto").checked && playingLive()) scheduleNext(); // the paced next segment follows the message
  else await requestNext();
});

$("next").addEventListener("click", () => { ensureAudioContext(); requestNext(); });

$("chip-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const term = $("chip-text").value.trim().toLowerCase();
  const kind = ev.submitter ? ev.submitter.dataset.kind : "like";
  if (!term || !st.session) return;
  $("chip-text").value = "";
  changePreferences((q) => {
    if (kind === "avoid") { q.avoid.push(term); q.prefer = q.prefer.filter((t) => t !== term); }
    else { q.prefer.push(term); q.avoid = q.avoid.filter((t) => t !== term); }
  });
});

start();
