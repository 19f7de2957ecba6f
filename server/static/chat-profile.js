// promptloop chat page: the listener's profile (what the music learned about them across sessions,
// GET/PUT /v1/me/profile) and their data rights (GET /v1/me/export, DELETE /v1/me).
// Loaded after chat.js and uses its helpers (api, signOut, terms, $).
// PUT replaces the whole profile, so a save starts from a fresh GET and overwrites only the fields
// the listener changed in the form: what was learned meanwhile (pacing, response, offsets) survives.
"use strict";

(() => {
  // What PUT /v1/me/profile accepts (ProfileIn, server/routes/profile.py; the page ships with the
  // server, and tests/server/test_browser_profile.py fails when the two disagree).
  const PROFILE_IN = ["triggers", "rejected", "comfortable_tempo_bpm", "comfortable_loudness_lufs",
                      "followed_tempo_bpm", "calming_loudness_lufs", "follow", "lead", "arrive", "moved_by", "response", "offsets", "notes"];
  const pr = { shown: null, seq: 0 }; // seq: only the latest load or save is shown

  function status(id, text, error) {
    $(id).textContent = text;
    $(id).classList.toggle("error", !!error);
  }

  const num = (x) => String(Number(x.toFixed(2)));
  const isRange = (r) => Array.isArray(r) && r.length === 2;
  const listText = (xs) => (xs.length ? xs.join(", ") : "none");
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  // -- what was learned, in plain words ---------------------------------------------------------
  function learnedLines(p) {
    const lines = [
      `Learned from ${plural(p.sessions, "session")}.`,
      `Sounds that acted as triggers: ${listText(p.triggers)}.`,
      `Sounds you rejected: ${listText(p.rejected)}.`,
      "Comfortable tempo: " + (isRange(p.comfortable_tempo_bpm)
        ? `${num(p.comfortable_tempo_bpm[0])}–${num(p.comfortable_tempo_bpm[1])} BPM.` : "not set."),
      "Comfortable loudness: " + (isRange(p.comfortable_loudness_lufs)
        ? `${num(p.comfortable_loudness_lufs[0])} to ${num(p.comfortable_loudness_lufs[1])} LUFS.` : "not set."),
    ];
    if (isRange(p.followed_tempo_bpm)) { // learned by closed-loop sessions; null until one followed
      lines.push(`Tempi you followed: ${num(p.followed_tempo_bpm[0])}–${num(p.followed_tempo_bpm[1])} BPM.`);
    }
    if (typeof p.calming_loudness_lufs === "number") {
      lines.push(`Calming music louder than ${num(p.calming_loudness_lufs)} LUFS did not calm you.`);
    }
    return lines;
  }

  function pacingLines(p) {
    const lines = [];
    const scalars = ["follow", "lead", "arrive"].filter((k) => typeof p[k] === "number").map((k) => `${k} ${num(p[k])}`);
    if (scalars.length) lines.push(scalars.join(" · "));
    const moved = Object.entries(p.moved_by || {});
    if (moved.length) lines.push("moved by: " + moved.map(([k, v]) => `${k} ${num(v)}`).join(", "));
    if ((p.response || []).length) lines.push("response: " + p.response.map(([w, h]) => `${num(w)}→${num(h)}`).join(", "));
    if ((p.offsets || []).length) lines.push("offsets: " + p.offsets.map(([t, o]) => `${num(t)}: ${num(o)}`).join(", "));
    return lines.length ? lines : ["Nothing learned about pacing yet."];
  }

  function items(lines) {
    return lines.map((text) => { const li = document.createElement("li"); li.textContent = text; return li; });
  }

  function showProfile(p) {
    pr.shown = p;
    $("profile-learned").replaceChildren(...items(learnedLines(p)));
    $("profile-pacing-list").replaceChildren(...items(pacingLines(p)));
    const f = $("profile-form").elements;
    f.triggers.value = p.triggers.join(", ");
    f.rejected.value = p.rejected.join(", ");
    const tempo = isRange(p.comfortable_tempo_bpm) ? p.comfortable_tempo_bpm : ["", ""];
    const loud = isRange(p.comfortable_loudness_lufs) ? p.comfortable_loudness_lufs : ["", ""];
    [f.tempo_low.value, f.tempo_high.value] = tempo;
    [f.loudness_low.value, f.loudness_high.value] = loud;
    f.notes.value = p.notes || "";
    $("profile-form").dataset.loaded = "1";
  }

  // The form is marked data-loaded once it holds the stored profile (and not while a load is on its way).
  async function loadProfile() {
    const seq = ++pr.seq;
    delete $("profile-form").dataset.loaded;
    status("profile-status", "");
    try {
      const profile = await api("GET", "/v1/me/profile");
      if (seq === pr.seq) showProfile(profile);
    } catch (e) {
      if (e.message !== "signed out") status("profile-status", "Could not load your profile: " + e.message, true);
    }
  }

  // -- editing ----------------------------------------------------------------------------------
  // A range from two inputs: null when both are empty, an error sentence when only one is filled.
  // Order and bounds are left to the API, whose message the panel shows.
  function rangeFrom(low, high, what) {
    const a = low.value.trim(), b = high.value.trim();
    if (!a && !b) return { value: null };
    if (!a || !b || !Number.isFinite(Number(a)) || !Number.isFinite(Number(b))) {
      return { error: `Give both ends of the ${what} range as numbers, or clear both.` };
    }
    return { value: [Number(a), Number(b)] };
  }

  function formEdits(form) {
    const f = form.elements;
    const tempo = rangeFrom(f.tempo_low, f.tempo_high, "tempo");
    const loud = rangeFrom(f.loudness_low, f.loudness_high, "loudness");
    const error = tempo.error || loud.error;
    if (error) return { error };
    return { edits: { triggers: terms(f.triggers.value), rejected: terms(f.rejected.value),
                      comfortable_tempo_bpm: tempo.value, comfortable_loudness_lufs: loud.value,
                      notes: f.notes.value.trim() } };
  }

  async function saveProfile(ev) {
    ev.preventDefault();
    const { edits, error } = formEdits(ev.target);
    if (error) { status("profile-status", error, true); return; }
    status("profile-status", "Saving…");
    pr.seq++; // a load still on its way would show the profile from before this save
    try {
      const current = await api("GET", "/v1/me/profile");
      const body = {};
      for (const key of PROFILE_IN) if (key in current) body[key] = current[key];
      const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
      for (const [key, value] of Object.entries(edits)) {
        if (!pr.shown || !same(value, pr.shown[key])) body[key] = value; // changed here: the listener's word wins
      }
      showProfile(await api("PUT", "/v1/me/profile", body));
      status("profile-status", "Saved. New sessions start from this profile.");
    } catch (e) {
      if (e.message !== "signed out") status("profile-status", "Not saved: " + e.message, true);
    }
  }

  // -- your data --------------------------------------------------------------------------------
  async function exportData() {
    status("data-status", "Preparing your data…");
    try {
      const data = await api("GET", "/v1/me/export");
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `promptloop-data-${String(data.exported).slice(0, 10)}.json`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000); // after the browser has read it
      status("data-status", `Downloaded ${link.download} (${plural(data.sessions.length, "session")}). ` +
        "It holds health data: keep it somewhere private.");
    } catch (e) {
      if (e.message !== "signed out") status("data-status", "Could not export: " + e.message, true);
    }
  }

  // chat.js's signOut clears the session side; this clears the panel's copy of the profile.
  function forgetProfile() {
    pr.shown = null;
    for (const id of ["profile-learned", "profile-pacing-list"]) $(id).replaceChildren();
    $("profile-form").reset(); delete $("profile-form").dataset.loaded;
    status("profile-status", ""); status("data-status", "");
  }

  async function eraseAccount() {
    if (!confirm("Erase your account and everything stored with it: sessions, audio, messages, readings " +
                 "and your profile? This cannot be undone.")) {
      status("data-status", "Nothing was erased.");
      return;
    }
    status("data-status", "Erasing…");
    try {
      const erased = await api("DELETE", "/v1/me");
      $("erased-note").textContent = `Your account and its ${plural(erased.sessions, "session")} were erased.`;
      $("erased-note").hidden = false;
      signOut();
    } catch (e) {
      if (e.message !== "signed out") status("data-status", "Could not erase: " + e.message, true);
    }
  }

  // -- wiring -----------------------------------------------------------------------------------
  $("profile-form").addEventListener("submit", saveProfile);
  $("profile-box").addEventListener("toggle", () => { if ($("profile-box").open) loadProfile(); });
  $("export-data").addEventListener("click", exportData);
  $("erase-account").addEventListener("click", eraseAccount);
  const onShown = () => {
    if ($("app").hidden) { forgetProfile(); return; }
    $("erased-note").hidden = true;
    if ($("profile-box").open) loadProfile();
  };
  // what the listener avoids or asks for in a session teaches the profile: show it when it changes
  let heard = null;
  document.addEventListener("session-shown", (ev) => {
    const p = ev.detail.preferences;
    const now = JSON.stringify([p.avoid, p.instruments, p.genres, p.extra]);
    const editing = $("profile-form").contains(document.activeElement);
    if (heard !== null && now !== heard && $("profile-box").open && !editing) loadProfile();
    heard = now;
  });
  new MutationObserver(onShown).observe($("app"), { attributes: true, attributeFilter: ["hidden"] });
  onShown();
})();
