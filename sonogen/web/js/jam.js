// The Jam page: an endless stream of clips morphing from prompt to prompt.
//
// Clips come from POST /v1/interpolate (the /run_inference/ request, answered as FLAC so
// the decoded length is exact). Each clip is scheduled on the Web Audio clock to start
// where the previous one ends minus a short equal-power crossfade; alpha steps by 0.25
// from one prompt to the next, as the original Riffusion app did (plan.js): a queued
// prompt always gets the whole four-clip blend.
//
// Steps and guidance start as the served model's own (GET /v1/settings); a value the user
// gives (the boxes, or ?steps= / ?guidance= in the URL) is honoured up to the server's
// step cap, which the page shows, and each answer says what it was really drawn with.
//
// Test hook: window.sonogenJam exposes the schedule ({start, duration, prompt, ...} in
// AudioContext seconds), counters, the model's settings, the last request and actions.

import { fillSeedImages, getJson, postJson } from "./api.js";
import { dataUriToArrayBuffer, encodeWav, equalPowerCurves, mixdown, nextStartTime } from "./audio.js";
import { advance as nextPlan, firstPlan as startPlan } from "./plan.js";

const CROSSFADE_S = 0.06; // overlap between consecutive clips
const EDGE_FADE_S = 0.01; // fade-in of a clip that follows a gap (or the first one)
const MAX_IN_FLIGHT = 2; // requests outstanding at once (the server may batch them)
const MIN_AHEAD_S = 8; // keep at least this much audio scheduled ahead
const LOW_WATER_S = 1.0; // less than this buffered while playing: "falling behind"
const KEEP_CLIPS = 48; // clips kept for the download of what played

const $ = (id) => document.getElementById(id);
const curves = equalPowerCurves(128);

const jam = {
  crossfade: CROSSFADE_S,
  scheduled: [], // {start, duration, prompt, startPrompt, endPrompt, alpha, seed, late}
  received: 0,
  requested: 0,
  gaps: 0,
  behind: false,
  state: "stopped", // stopped | starting | playing | paused
  errors: [],
  queue: [],
  // the served model's own settings and the server's cap (GET /v1/settings)
  model: { steps: null, guidance: null, maxSteps: 100, loaded: false },
  drawn: null, // {steps, guidance} the last clip was really drawn with
  lastRequest: null,
  now: () => (ctx ? ctx.currentTime : 0),
};
window.sonogenJam = jam;

let ctx = null;
let master = null;
let running = false;
let session = 0; // bumps on stop: answers of older sessions are ignored
let plan = null; // the last requested {start, end, alpha}
let pending = []; // ordered [{plan, promise}]
let entries = []; // scheduled clips: {start, duration, buffer, image, fadeIn, fadeOut, info}
let lateUntil = 0;
let stoppedAt = null; // clock time when stopped (for the download)
let sampleRate = 44100;
let preroll = 1; // clips to have in hand before playback starts (?preroll=N, 1..4)
let asked = { steps: null, guidance: null }; // values the user gave (URL or boxes), before the cap
let modelReady = null; // resolves once the model's settings are known (or given up on)
let starting = false; // play() is setting up the audio clock

// ------------------------------------------------------------------ settings & URL
function settings() {
  const m = jam.model;
  return {
    seedImage: $("seed-image").value || "og_beat",
    seed: clampInt($("seed").value, 0, 4294967295, 42),
    denoising: clampNum($("denoising").value, 0, 1, 0.75),
    steps: $("steps").value === "" ? m.steps : clampInt($("steps").value, 1, m.maxSteps, m.steps),
    guidance: $("guidance").value === "" ? m.guidance : clampNum($("guidance").value, 0, 30, m.guidance),
  };
}

// ------------------------------------------------------------------ the model's settings
async function loadModelSettings() {
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      const answer = await getJson("/v1/settings");
      const s = answer.sampling;
      Object.assign(jam.model, { steps: s.num_inference_steps, guidance: s.guidance, maxSteps: s.max_steps, loaded: true });
      applyModelSettings();
      return;
    } catch (err) {
      // 503 while the model loads: ask again shortly
      if (err.status !== 503) break;
      await sleep(1000 * Math.max(1, err.retryAfter || 2));
    }
  }
  $("model-note").textContent = "The server did not say what its model recommends; steps and guidance are left to it.";
}

/** Fill the boxes with the model's values (or the user's, capped) and say what will be used. */
function applyModelSettings() {
  const m = jam.model;
  $("steps").max = String(m.maxSteps);
  $("steps").placeholder = String(m.steps);
  $("guidance").placeholder = String(m.guidance);
  $("steps").value = String(Math.min(asked.steps ?? m.steps, m.maxSteps));
  $("guidance").value = String(asked.guidance ?? m.guidance);
  describeSettings();
}

function describeSettings() {
  const m = jam.model;
  if (!m.loaded) return;
  let text = `The model's own settings: ${m.steps} steps, guidance ${m.guidance}. This server draws at most ${m.maxSteps} steps.`;
  if (asked.steps !== null && asked.steps > m.maxSteps) {
    text += ` You asked for ${asked.steps} steps: ${m.maxSteps} are used.`;
  }
  $("model-note").textContent = text;
}

/** A value typed into the Steps or Guidance box: remembered as the user's, steps capped. */
function onSettingInput(name) {
  const box = $(name);
  if (box.value === "") {
    asked[name] = null;
  } else if (name === "steps") {
    asked.steps = clampInt(box.value, 1, 100, jam.model.steps ?? 20);
    if (jam.model.loaded && asked.steps > jam.model.maxSteps) box.value = String(jam.model.maxSteps);
  } else {
    asked.guidance = clampNum(box.value, 0, 30, jam.model.guidance ?? 7);
  }
  describeSettings();
}

function clampNum(v, lo, hi, dflt) {
  const x = Number(v);
  return Number.isFinite(x) ? Math.min(hi, Math.max(lo, x)) : dflt;
}
function clampInt(v, lo, hi, dflt) {
  return Math.round(clampNum(v, lo, hi, dflt));
}

function restoreFromUrl() {
  const q = new URLSearchParams(location.search);
  if (q.get("prompt")) $("prompt").value = q.get("prompt");
  if (q.get("seed") !== null) $("seed").value = clampInt(q.get("seed"), 0, 4294967295, 42);
  if (q.get("denoising") !== null) $("denoising").value = clampNum(q.get("denoising"), 0.05, 1, 0.75);
  if (q.get("steps") !== null) asked.steps = clampInt(q.get("steps"), 1, 100, 20);
  if (q.get("guidance") !== null) asked.guidance = clampNum(q.get("guidance"), 0, 30, 4);
  if (asked.steps !== null) $("steps").value = String(asked.steps);
  if (asked.guidance !== null) $("guidance").value = String(asked.guidance);
  if (q.get("preroll") !== null) preroll = clampInt(q.get("preroll"), 1, 4, 1);
  $("denoising-out").value = Number($("denoising").value).toFixed(2);
  return q.get("seedImage") || "og_beat";
}

function shareUrl() {
  const s = settings();
  const playing = currentEntry();
  const lead = playing ? playing.info.lead : { prompt: $("prompt").value.trim(), seed: s.seed };
  const q = new URLSearchParams({
    prompt: lead.prompt,
    seed: String(lead.seed),
    seedImage: s.seedImage,
    denoising: String(s.denoising),
  });
  // steps and guidance travel only when they differ from the model's own
  if (s.steps !== null && s.steps !== jam.model.steps) q.set("steps", String(s.steps));
  if (s.guidance !== null && s.guidance !== jam.model.guidance) q.set("guidance", String(s.guidance));
  return `${location.origin}${location.pathname}?${q}`;
}

// ------------------------------------------------------------------ prompt plan
function firstPlan() {
  const s = settings();
  return startPlan($("prompt").value.trim() || "lo-fi beat", s.seed);
}

function advance(p) {
  const { plan: next, took } = nextPlan(p, jam.queue);
  if (took !== null) renderQueue();
  return next;
}

function requestBody(p) {
  const s = settings();
  const side = (x) => {
    const end = { prompt: x.prompt, seed: x.seed, denoising: s.denoising };
    if (s.guidance !== null) end.guidance = s.guidance;
    return end;
  };
  const body = {
    alpha: p.alpha,
    num_inference_steps: s.steps,
    seed_image_id: s.seedImage,
    mask_image_id: null,
    start: side(p.start),
    end: side(p.end),
    format: "flac",
    response: "json",
    image_format: "jpeg",
  };
  if (s.steps === null) delete body.num_inference_steps; // the server's model decides
  return body;
}

// ------------------------------------------------------------------ fetching
function loadImage(src) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => resolve(null);
    img.src = src;
  });
}

function fetchClip(p) {
  const mine = session;
  jam.requested += 1;
  const body = requestBody(p);
  jam.lastRequest = body;
  const promise = postJson("/v1/interpolate", body).then(async (answer) => {
    if (mine !== session || !ctx) throw new Error("stale");
    if (answer.num_inference_steps != null) jam.drawn = { steps: answer.num_inference_steps, guidance: answer.guidance };
    const buffer = await ctx.decodeAudioData(await dataUriToArrayBuffer(answer.audio));
    const image = await loadImage(answer.image);
    return { buffer, image, plan: p };
  });
  promise.catch(() => {}); // handled in order by consume()
  return { plan: p, promise };
}

function bufferedAhead() {
  if (!ctx || !entries.length) return 0;
  const last = entries[entries.length - 1];
  return last.start + last.duration - ctx.currentTime;
}

function pump() {
  if (!running) return;
  const lastDuration = entries.length ? entries[entries.length - 1].duration : 5;
  const target = Math.max(MIN_AHEAD_S, 2 * lastDuration);
  const starting = entries.length === 0;
  const cap = starting ? Math.max(MAX_IN_FLIGHT, preroll) : MAX_IN_FLIGHT;
  const wanted = () =>
    (starting && pending.length < preroll) || bufferedAhead() + pending.length * lastDuration < target;
  while (pending.length < cap && wanted()) {
    plan = plan ? advance(plan) : firstPlan();
    pending.push(fetchClip(plan));
  }
}

async function consume(mine) {
  while (running && mine === session) {
    if (!pending.length) {
      pump();
      await sleep(50);
      continue;
    }
    if (!entries.length && preroll > 1) {
      // Pre-roll: start playback only once the first clips are all here.
      if (pending.length < preroll) {
        pump();
        await sleep(50);
        continue;
      }
      await Promise.allSettled(pending.slice(0, preroll).map((x) => x.promise));
      if (mine !== session) return;
    }
    const head = pending[0];
    let clip;
    try {
      clip = await head.promise;
    } catch (err) {
      if (mine !== session) return;
      if (err.status && err.status !== 503 && err.status !== 429) {
        showError(`generation failed: ${err.message}`);
        stop();
        return;
      }
      showError(`server busy: ${err.message}`);
      await sleep(1000 * Math.max(1, err.retryAfter || 1));
      if (mine !== session) return;
      pending[0] = fetchClip(head.plan); // same step again, order kept
      continue;
    }
    if (mine !== session) return;
    pending.shift();
    hideError();
    schedule(clip);
    pump();
  }
}

// ------------------------------------------------------------------ scheduling
function schedule(clip) {
  const prev = entries.length ? entries[entries.length - 1] : null;
  const { start, late } = nextStartTime(prev, ctx.currentTime, CROSSFADE_S);
  const duration = clip.buffer.duration;
  const fadeIn = prev && !late ? CROSSFADE_S : EDGE_FADE_S;
  const source = ctx.createBufferSource();
  source.buffer = clip.buffer;
  const gain = ctx.createGain();
  gain.gain.setValueAtTime(0, ctx.currentTime);
  gain.gain.setValueCurveAtTime(curves.fadeIn, start, fadeIn);
  gain.gain.setValueCurveAtTime(curves.fadeOut, start + duration - CROSSFADE_S, CROSSFADE_S);
  source.connect(gain).connect(master);
  source.start(start);
  const p = clip.plan;
  const lead = p.alpha >= 0.5 ? p.end : p.start;
  const info = { lead, startPrompt: p.start.prompt, endPrompt: p.end.prompt, alpha: p.alpha, drawn: jam.drawn };
  entries.push({ start, duration, buffer: clip.buffer, image: clip.image, fadeIn, fadeOut: CROSSFADE_S, info });
  if (entries.length > KEEP_CLIPS) entries.shift();
  jam.received += 1;
  if (late) {
    jam.gaps += 1;
    lateUntil = start + 2;
  }
  jam.scheduled.push({
    start, duration, late, prompt: lead.prompt, seed: lead.seed,
    startPrompt: p.start.prompt, endPrompt: p.end.prompt, alpha: p.alpha,
  });
  if (jam.state === "starting") setState("playing");
  $("clips").textContent = `${jam.received} clip${jam.received === 1 ? "" : "s"}`;
  if (jam.drawn) $("drawn").textContent = `drawn with ${jam.drawn.steps} steps, guidance ${jam.drawn.guidance}`;
  $("download").disabled = false;
}

function currentEntry() {
  if (!ctx) return null;
  const now = ctx.currentTime;
  let found = null;
  for (const e of entries) if (e.start <= now) found = e;
  return found;
}

// ------------------------------------------------------------------ controls
async function play() {
  hideError();
  if (running && jam.state === "paused") {
    await ctx.resume();
    setState("playing");
    return;
  }
  if (running) {
    await ctx.suspend();
    setState("paused");
    return;
  }
  if (starting) return;
  starting = true;
  try {
    // the audio clock starts within the click (browsers allow sound only then) ...
    ctx = new AudioContext({ latencyHint: "playback" });
    sampleRate = ctx.sampleRate;
    master = ctx.createGain();
    master.gain.value = 0.9;
    master.connect(ctx.destination);
    await ctx.resume();
    // ... and the first request waits for the model's own steps and guidance
    await modelReady;
  } finally {
    starting = false;
  }
  running = true;
  session += 1;
  plan = null;
  pending = [];
  entries = [];
  stoppedAt = null;
  jam.scheduled.length = 0;
  jam.received = 0;
  jam.gaps = 0;
  setState("starting");
  pump();
  consume(session);
}

function stop() {
  if (!running) return;
  running = false;
  session += 1;
  pending = [];
  stoppedAt = ctx ? ctx.currentTime : null;
  const closing = ctx;
  ctx = null;
  if (closing) closing.close();
  setState("stopped");
}

function setState(state) {
  jam.state = state;
  $("status").textContent = state;
  $("status").dataset.state = state;
  $("play").textContent = state === "playing" || state === "starting" ? "Pause" : state === "paused" ? "Resume" : "Play";
  $("stop").disabled = state === "stopped";
  document.body.dataset.jam = state;
}

function addPrompt(text) {
  const prompt = text.trim();
  if (!prompt) return;
  if (!running) {
    $("prompt").value = prompt;
    play();
    return;
  }
  jam.queue.push(prompt);
  renderQueue();
}

function renderQueue() {
  const list = $("queue");
  list.replaceChildren(
    ...jam.queue.map((prompt, i) => {
      const li = document.createElement("li");
      const span = document.createElement("span");
      span.textContent = prompt;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "icon";
      remove.title = "remove";
      remove.textContent = "×";
      remove.addEventListener("click", () => {
        jam.queue.splice(i, 1);
        renderQueue();
      });
      li.append(span, remove);
      return li;
    }),
  );
  $("queue-empty").hidden = jam.queue.length > 0;
}

function download() {
  const played = entries.filter((e) => e.buffer);
  if (!played.length) return;
  const end = ctx ? ctx.currentTime : stoppedAt ?? played[played.length - 1].start;
  const heard = played.filter((e) => e.start < end);
  if (!heard.length) return;
  const blob = encodeWav(mixdown(heard, sampleRate, end), sampleRate);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "sonogen-jam.wav";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function showError(message) {
  jam.errors.push(message);
  $("error").textContent = message;
  $("error").hidden = false;
}
function hideError() {
  $("error").hidden = true;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ display
function tick() {
  const now = ctx ? ctx.currentTime : 0;
  const ahead = bufferedAhead();
  const behind = running && jam.state === "playing" && (ahead < LOW_WATER_S || now < lateUntil);
  jam.behind = behind;
  $("behind").hidden = !behind;
  document.body.classList.toggle("behind", behind);
  const current = currentEntry();
  if (current) {
    const { startPrompt, endPrompt, alpha, lead } = current.info;
    $("now-playing").textContent =
      startPrompt === endPrompt ? `${lead.prompt}  · seed ${lead.seed}` : `${startPrompt} → ${endPrompt}  · α ${alpha.toFixed(2)}`;
  }
  if (entries.length && ctx) {
    $("played").textContent = `${Math.max(0, now - entries[0].start).toFixed(1)} s played`;
  }
  $("share-link").href = shareUrl();
  if (running) pump();
}

function draw() {
  const canvas = $("spectrogram");
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * dpr);
  const h = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const g = canvas.getContext("2d");
  g.fillStyle = "#0b0d12";
  g.fillRect(0, 0, w, h);
  const playhead = Math.round(w * 0.3);
  const pps = (h / 512) * 100; // spectrogram pictures: 100 columns per second, 512 rows
  const now = ctx ? ctx.currentTime : 0;
  g.font = `${Math.round(12 * dpr)}px system-ui, sans-serif`;
  for (const e of entries) {
    const x = playhead + (e.start - now) * pps;
    const width = e.duration * pps;
    if (x > w || x + width < 0) continue;
    if (e.image) g.drawImage(e.image, x, 0, width, h);
    g.fillStyle = "rgba(0,0,0,0.55)";
    const label = e.info.startPrompt === e.info.endPrompt ? e.info.lead.prompt : `${e.info.startPrompt} → ${e.info.endPrompt}`;
    const text = `${label}  α${e.info.alpha.toFixed(2)}`;
    const tw = g.measureText(text).width + 12 * dpr;
    // the label sticks to the left edge while its clip scrolls past
    const lx = Math.min(Math.max(x, 0), x + width - Math.min(tw, width));
    g.save();
    g.beginPath();
    g.rect(x, 0, width, h);
    g.clip();
    g.fillRect(lx, 0, Math.min(tw, width), 20 * dpr);
    g.fillStyle = "#e8ecf5";
    g.fillText(text, lx + 6 * dpr, 14 * dpr);
    g.restore();
  }
  if (!entries.length) {
    g.fillStyle = "#7d869c";
    const msg = jam.state === "starting" ? "generating the first clip…" : "press Play: the spectrogram scrolls here";
    g.fillText(msg, 16 * dpr, h / 2);
  }
  g.fillStyle = "#ff5d8f";
  g.fillRect(playhead - dpr, 0, 2 * dpr, h);
  requestAnimationFrame(draw);
}

// ------------------------------------------------------------------ wiring
async function init() {
  const seedImage = restoreFromUrl();
  modelReady = loadModelSettings();
  await fillSeedImages($("seed-image"), seedImage);
  $("steps").addEventListener("input", () => onSettingInput("steps"));
  $("guidance").addEventListener("input", () => onSettingInput("guidance"));
  $("denoising").addEventListener("input", () => {
    $("denoising-out").value = Number($("denoising").value).toFixed(2);
  });
  $("prompt-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    addPrompt($("prompt").value);
  });
  $("play").addEventListener("click", () => play());
  $("stop").addEventListener("click", () => stop());
  $("download").addEventListener("click", () => download());
  $("share").addEventListener("click", async () => {
    const url = shareUrl();
    $("share-link").href = url;
    try {
      await navigator.clipboard.writeText(url);
      $("share").textContent = "Link copied";
    } catch (_) {
      $("share").textContent = "Link below";
    }
    setTimeout(() => ($("share").textContent = "Copy share link"), 2000);
  });
  for (const chip of document.querySelectorAll(".chip")) {
    chip.addEventListener("click", () => addPrompt(chip.textContent));
  }
  jam.play = play;
  jam.stop = stop;
  jam.addPrompt = addPrompt;
  jam.shareUrl = shareUrl;
  jam.download = download;
  setState("stopped");
  renderQueue();
  setInterval(tick, 100);
  requestAnimationFrame(draw);
  jam.ready = true;
}

init();
