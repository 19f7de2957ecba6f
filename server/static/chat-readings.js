// promptloop chat page: physiological readings, typed in or streamed from a Bluetooth heart-rate
// monitor. Loaded after chat.js and uses its helpers (api, say, fmt, st, scheduleNext).
// Readings go to POST /v1/sessions/{id}/readings exactly as a wearable's app would send them: in a
// closed-loop session they wait for the next segment, whose pacer reads them; in an open one the
// next segment meets the listener they describe. They are health data: nothing here logs them.
"use strict";

const READING_FIELDS = ["heart_rate", "hrv_rmssd", "skin_conductance"];
// The API's accepted ranges (server/schemas.py ReadingIn): a value outside them is not sent.
const READING_RANGES = { heart_rate: [25, 250], hrv_rmssd: [1, 300], skin_conductance: [0.01, 100] };
const READING_NAMES = { heart_rate: "Heart rate", hrv_rmssd: "HRV", skin_conductance: "Skin conductance" };
const MONITOR_POST_S = 5; // a monitor's readings are averaged and sent every this many seconds
const RR_WINDOW_S = 30; // RMSSD over the beat-to-beat intervals of this many seconds

function inRange(name, value) {
  const [lo, hi] = READING_RANGES[name];
  return Number.isFinite(value) && value >= lo && value <= hi;
}

// The reading the form holds: {field: number} for each filled field, or an error sentence.
function formReading(form) {
  const reading = {};
  const data = new FormData(form);
  for (const name of READING_FIELDS) {
    const raw = String(data.get(name) || "").trim();
    if (!raw) continue;
    const value = Number(raw);
    if (!inRange(name, value)) {
      const [lo, hi] = READING_RANGES[name];
      return { error: `${READING_NAMES[name]} must be a number between ${lo} and ${hi}.` };
    }
    reading[name] = value;
  }
  if (!Object.keys(reading).length) return { error: "Enter at least one value." };
  return { reading };
}

function readingText(r) {
  const parts = [];
  if (r.heart_rate !== undefined) parts.push(`heart rate ${Math.round(r.heart_rate)} bpm`);
  if (r.hrv_rmssd !== undefined) parts.push(`HRV ${Math.round(r.hrv_rmssd)} ms`);
  if (r.skin_conductance !== undefined) parts.push(`skin conductance ${r.skin_conductance.toFixed(2)} µS`);
  return parts.join(", ");
}

async function sendReadings(readings, baseline) {
  const body = { readings };
  if (baseline) body.baseline = baseline;
  const answer = await api("POST", `/v1/sessions/${st.session.id}/readings`, body);
  const loop = answer.closed_loop;
  $("readings-status").textContent = `Reading taken: you read as ${fmt(answer.listener)}; ` + (loop.active
    ? `the closed loop reads it before the next segment (${loop.waiting} waiting).`
    : "the next segment meets it.");
  if ($("auto").checked && playingLive()) scheduleNext(); // as after a message: the paced next segment follows
  return answer;
}

$("readings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!st.session) return;
  const { reading, error } = formReading(ev.target);
  if (error) { $("readings-status").textContent = error; return; }
  const resting = ev.target.elements.resting.checked;
  try {
    await sendReadings([reading], resting ? reading : null);
    say("listener", (resting ? "Resting values: " : "Reading: ") + readingText(reading));
  } catch (e) { $("readings-status").textContent = "Could not send the reading: " + e.message; }
});

// -- a Bluetooth heart-rate monitor (the standard GATT Heart Rate service) ---------------------
// Heart Rate Measurement (characteristic 0x2A37): a flags byte; bit 0 picks an 8- or 16-bit heart
// rate, bit 3 says an energy-expended field (16 bits) follows, bit 4 that RR intervals follow, each
// 16 bits in 1/1024 s. Returns {heartRate, rrMs: [...]}.
function parseHeartRateMeasurement(view) {
  const flags = view.getUint8(0);
  let offset = 1;
  const wide = (flags & 0x01) !== 0;
  const heartRate = wide ? view.getUint16(offset, true) : view.getUint8(offset);
  offset += wide ? 2 : 1;
  if (flags & 0x08) offset += 2;
  const rrMs = [];
  if (flags & 0x10) {
    for (; offset + 1 < view.byteLength; offset += 2) rrMs.push(view.getUint16(offset, true) * 1000 / 1024);
  }
  return { heartRate, rrMs };
}

// Root mean square of successive differences of beat-to-beat intervals (ms); null below 3 beats.
function rmssd(rrMs) {
  if (rrMs.length < 3) return null;
  let sum = 0;
  for (let i = 1; i < rrMs.length; i++) sum += (rrMs[i] - rrMs[i - 1]) ** 2;
  return Math.sqrt(sum / (rrMs.length - 1));
}

// What a monitor measured since the last post, as one reading (null when nothing usable came).
function monitorReading(rates, beats) {
  const reading = {};
  const valid = rates.filter((r) => inRange("heart_rate", r));
  if (valid.length) reading.heart_rate = valid.reduce((a, b) => a + b, 0) / valid.length;
  const hrv = rmssd(beats.map((b) => b.ms));
  if (hrv !== null && inRange("hrv_rmssd", hrv)) reading.hrv_rmssd = hrv;
  return Object.keys(reading).length ? reading : null;
}

const monitor = { device: null, rates: [], beats: [], timer: null };

async function connectMonitor() {
  const device = await navigator.bluetooth.requestDevice({ filters: [{ services: ["heart_rate"] }] });
  const server = await device.gatt.connect();
  const service = await server.getPrimaryService("heart_rate");
  const measurement = await service.getCharacteristic("heart_rate_measurement");
  measurement.addEventListener("characteristicvaluechanged", (ev) => {
    const { heartRate, rrMs } = parseHeartRateMeasurement(ev.target.value);
    const now = performance.now() / 1000;
    monitor.rates.push(heartRate);
    for (const ms of rrMs) monitor.beats.push({ t: now, ms });
    monitor.beats = monitor.beats.filter((b) => b.t > now - RR_WINDOW_S);
  });
  await measurement.startNotifications();
  device.addEventListener("gattserverdisconnected", () => {
    clearInterval(monitor.timer);
    monitor.device = null;
    $("monitor").textContent = "Connect a heart-rate monitor";
    $("readings-status").textContent = "The heart-rate monitor disconnected.";
  });
  monitor.device = device;
  monitor.timer = setInterval(async () => {
    const reading = monitorReading(monitor.rates, monitor.beats);
    monitor.rates = [];
    if (!reading || !st.session || st.session.segments_done >= st.session.segments) return;
    try { await sendReadings([reading], null); }
    catch (e) { $("readings-status").textContent = "Could not send the monitor's reading: " + e.message; }
  }, MONITOR_POST_S * 1000);
  $("monitor").textContent = `Disconnect ${device.name || "the monitor"}`;
  $("readings-status").textContent = `Connected to ${device.name || "a heart-rate monitor"}: its readings are sent every ${MONITOR_POST_S} s.`;
}

if (navigator.bluetooth) { // Web Bluetooth: Chromium-based browsers, over https or on localhost
  $("monitor").hidden = false;
  $("monitor").addEventListener("click", async () => {
    if (monitor.device) { monitor.device.gatt.disconnect(); return; }
    try { await connectMonitor(); }
    catch (e) { $("readings-status").textContent = "No heart-rate monitor connected: " + e.message; }
  });
}
