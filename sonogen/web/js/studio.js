// The Studio page: one-off generations (text, audio, interpolation, long pieces, whole
// songs), pictures played as sound, and clips cut from uploads; each result is shown with
// its spectrogram picture, a player and download links.
//
// Steps and guidance start as the served model's own (GET /v1/settings, shown at the top
// with the server's step cap); a value the user types is sent as it is, up to the cap.
// Each result says what it was drawn with, and a length that was rounded to the model's
// step says so.
//
// Test hook: window.sonogenStudio.results lists {kind, duration_s, prompt, note} per result;
// .model holds the model's settings; .errors every message shown.

import { getJson, postForm, postJson } from "./api.js";
import { encodeWav, bufferChannels } from "./audio.js";

const $ = (id) => document.getElementById(id);
const studio = { results: [], busy: 0, errors: [], model: { loaded: false } };
window.sonogenStudio = studio;

let recorded = null; // a WAV Blob from the microphone
let attempts = 0; // numbers each submitted request
let errorFrom = 0; // the attempt whose error the banner shows (0: none)

function num(form, name) {
  const el = form.elements[name];
  return el && el.value !== "" ? Number(el.value) : undefined;
}
function text(form, name) {
  const el = form.elements[name];
  return el ? el.value.trim() : "";
}

function showError(message, attempt = ++attempts) {
  studio.errors.push(message);
  errorFrom = attempt;
  $("error").textContent = message;
  $("error").hidden = false;
}

/** Hide the banner unless it shows the error of an attempt made after `attempt`. */
function clearError(attempt = Infinity) {
  if (errorFrom && errorFrom <= attempt) {
    errorFrom = 0;
    $("error").hidden = true;
    $("error").textContent = "";
  }
}

// ------------------------------------------------------------------ the model's settings
async function loadModelSettings() {
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      const answer = await getJson("/v1/settings");
      const s = answer.sampling;
      Object.assign(studio.model, {
        steps: s.num_inference_steps, guidance: s.guidance, maxSteps: s.max_steps, clipStep: answer.clip_step_s,
        limits: answer.limits, loaded: true,
      });
      applyModelSettings();
      return;
    } catch (err) {
      if (err.status !== 503) break; // 503: the model is still loading
      await new Promise((r) => setTimeout(r, 1000 * Math.max(1, err.retryAfter || 2)));
    }
  }
  $("model-note").textContent = "The server did not say what its model recommends; steps and guidance are left to it.";
}

/** The boxes start as the model's values; the caps become the boxes' maxima. */
function applyModelSettings() {
  const m = studio.model;
  for (const box of document.querySelectorAll("input[name=num_inference_steps]")) {
    box.max = String(m.maxSteps);
    box.placeholder = String(m.steps);
    if (box.value === "") box.value = String(m.steps);
    else if (Number(box.value) > m.maxSteps) box.value = String(m.maxSteps);
    box.addEventListener("input", () => describeSettings(box));
  }
  for (const box of document.querySelectorAll("input[name=guidance]")) {
    box.placeholder = String(m.guidance);
    if (box.value === "") box.value = String(m.guidance);
  }
  const lengths = { "form-text": m.limits.max_clip_s, "form-audio": m.limits.max_clip_s, "form-long": m.limits.max_long_s,
    "form-clips": m.limits.max_clip_s };
  for (const [id, most] of Object.entries(lengths)) {
    const box = $(id).elements.duration_s || $(id).elements.seconds;
    if (box) box.max = String(most);
  }
  describeSettings();
}

function describeSettings(box = null) {
  const m = studio.model;
  if (!m.loaded) return;
  let text = `The model's own settings: ${m.steps} steps, guidance ${m.guidance}. This server draws at most ${m.maxSteps} steps; clip lengths come in steps of ${m.clipStep} s.`;
  if (box && Number(box.value) > m.maxSteps) text += ` You asked for ${box.value} steps: ${m.maxSteps} are used.`;
  $("model-note").textContent = text;
}

/** What a result's meta line says beyond kind and length: steps, guidance, rounding. */
function drawnNote(answer) {
  const parts = [];
  if (answer.num_inference_steps != null) parts.push(`${answer.num_inference_steps} steps, guidance ${answer.guidance}`);
  const asked = answer.requested_duration_s;
  if (asked != null && Math.abs(asked - answer.duration_s) > 0.005) {
    const step = studio.model.clipStep ? ` of ${studio.model.clipStep} s` : "";
    parts.push(`${asked} s asked: the length was rounded to the model's step${step}`);
  }
  return parts.join(" · ");
}

function extension(format) {
  return { mp3: "mp3", wav: "wav", flac: "flac", ogg: "ogg" }[format] || "mp3";
}

function clipNodes(kind, title, answer, format, stem) {
  const img = document.createElement("img");
  img.src = answer.image;
  img.alt = `spectrogram of ${title}`;
  img.className = "spectrogram";
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.src = answer.audio;
  const link = document.createElement("a");
  link.href = answer.audio;
  link.download = `${stem}.${extension(format)}`;
  link.textContent = "Download";
  link.className = "button";
  const pic = document.createElement("a");
  pic.href = answer.image;
  pic.download = `${stem}.${answer.image.startsWith("data:image/jpeg") ? "jpg" : "png"}`;
  pic.textContent = "Spectrogram";
  pic.className = "button secondary";
  const row = document.createElement("div");
  row.className = "actions";
  row.append(audio, link, pic);
  studio.results.push({ kind, duration_s: answer.duration_s, prompt: title });
  return [img, row];
}

function addResult(kind, title, answer, format, note = "") {
  const card = document.createElement("article");
  card.className = "card result";
  const h = document.createElement("h3");
  h.textContent = title;
  const meta = document.createElement("p");
  meta.className = "hint";
  note = [note, drawnNote(answer)].filter(Boolean).join(" · ");
  meta.textContent = `${kind} · ${answer.duration_s.toFixed(2)} s · ${answer.sample_rate || ""} Hz${note ? " · " + note : ""}`;
  card.append(h, meta, ...clipNodes(kind, title, answer, format, `sonogen-${kind}-${Date.now()}`));
  studio.results[studio.results.length - 1].note = note;
  $("results").prepend(card);
}

function addClips(fileName, answer) {
  const card = document.createElement("article");
  card.className = "card result clips";
  const h = document.createElement("h3");
  h.textContent = `${answer.clips.length} clip(s) from ${fileName}`;
  const meta = document.createElement("p");
  meta.className = "hint";
  meta.textContent = `clips · source ${answer.source_duration_s.toFixed(2)} s · ${answer.sample_rate} Hz`;
  card.append(h, meta);
  const stem = fileName.replace(/\.[^.]*$/, "") || "clip";
  for (const clip of answer.clips) {
    const item = document.createElement("section");
    item.className = "clip";
    const label = document.createElement("p");
    label.className = "clip-title";
    label.textContent = `#${clip.index + 1} · from ${clip.start_s.toFixed(2)} s · ${clip.duration_s.toFixed(2)} s`;
    const name = `${stem}-${String(clip.index + 1).padStart(2, "0")}-${clip.start_s.toFixed(2)}s`;
    item.append(label, ...clipNodes("clip", name, { ...clip, sample_rate: answer.sample_rate }, answer.format, name));
    card.append(item);
  }
  $("results").prepend(card);
}

async function run(form, kind, title, call, show = null) {
  const button = form.querySelector("button[type=submit]");
  const label = button.textContent;
  button.disabled = true;
  button.textContent = "Working…";
  const attempt = ++attempts;
  clearError(attempt); // a new attempt: the last error no longer stands
  studio.busy += 1;
  try {
    const answer = await call();
    if (show) show(answer);
    else addResult(kind, title, answer, text(form, "format") || "mp3");
    clearError(attempt); // success: an error from an earlier attempt goes (not one from a later attempt)
  } catch (err) {
    showError(`${kind}: ${err.message}`, attempt);
  } finally {
    studio.busy -= 1;
    button.disabled = false;
    button.textContent = label;
  }
}

function wireText() {
  const form = $("form-text");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {
      prompt: text(form, "prompt"),
      seed: num(form, "seed"),
      num_inference_steps: num(form, "num_inference_steps"),
      guidance: num(form, "guidance"),
      duration_s: num(form, "duration_s"),
      loop: form.elements.loop.checked,
      format: text(form, "format"),
      response: "json",
    };
    if (text(form, "negative_prompt")) body.negative_prompt = text(form, "negative_prompt");
    if (text(form, "seed_image_id")) body.seed_image_id = text(form, "seed_image_id");
    if (text(form, "mask_image_id")) body.mask_image_id = text(form, "mask_image_id");
    if (body.seed_image_id || body.mask_image_id) body.denoising = num(form, "denoising");
    run(form, "text", body.prompt, () => postJson("/v1/generate", body));
  });
}

function wireAudio() {
  const form = $("form-audio");
  form.elements.strength.addEventListener("input", () => {
    form.elements["strength-out"].value = Number(form.elements.strength.value).toFixed(2);
  });
  form.elements.audio.addEventListener("change", () => {
    recorded = null;
    $("record-status").textContent = "";
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const file = form.elements.audio.files[0];
    const upload = recorded || file;
    if (!upload) {
      showError("audio → audio: choose a file or record from the microphone first");
      return;
    }
    const data = new FormData();
    data.append("audio", upload, recorded ? "microphone.wav" : file.name);
    for (const name of ["prompt", "strength", "offset_s", "duration_s", "seed", "num_inference_steps", "format"]) {
      const value = form.elements[name].value;
      if (value !== "") data.append(name, value);
    }
    data.append("response", "json");
    run(form, "audio", text(form, "prompt"), () => postForm("/v1/transform", data));
  });
  $("record").addEventListener("click", () => toggleRecording());
}

let recorder = null;
async function toggleRecording() {
  if (recorder) {
    recorder.stop();
    return;
  }
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    showError("this browser cannot record audio here (microphone access needs https or localhost)");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    showError(`microphone: ${err.message}`);
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (ev) => chunks.push(ev.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    recorder = null;
    $("record").textContent = "● Record from microphone";
    try {
      // Browsers record WebM/Ogg Opus; decode here and upload WAV, which the server reads.
      const ctx = new AudioContext();
      const buffer = await ctx.decodeAudioData(await new Blob(chunks).arrayBuffer());
      recorded = encodeWav(bufferChannels(buffer), buffer.sampleRate);
      ctx.close();
      $("record-status").textContent = `recorded ${buffer.duration.toFixed(1)} s`;
    } catch (err) {
      showError(`microphone: could not decode the recording (${err.message})`);
    }
  };
  recorder.start();
  $("record").textContent = "■ Stop recording";
  $("record-status").textContent = "recording…";
}

function wireInterp() {
  const form = $("form-interp");
  form.elements.alpha.addEventListener("input", () => {
    form.elements["alpha-out"].value = Number(form.elements.alpha.value).toFixed(2);
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const denoising = num(form, "denoising");
    const body = {
      alpha: num(form, "alpha"),
      num_inference_steps: num(form, "num_inference_steps"),
      seed_image_id: text(form, "seed_image_id"),
      start: { prompt: text(form, "start_prompt"), seed: num(form, "start_seed"), denoising },
      end: { prompt: text(form, "end_prompt"), seed: num(form, "end_seed"), denoising },
      format: text(form, "format"),
      response: "json",
    };
    if (text(form, "mask_image_id")) body.mask_image_id = text(form, "mask_image_id");
    const title = `${body.start.prompt} → ${body.end.prompt} (α ${body.alpha.toFixed(2)})`;
    run(form, "interpolate", title, () => postJson("/v1/interpolate", body));
  });
}

function wireLong() {
  const form = $("form-long");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const prompts = form.elements.prompts.value.split("\n").map((s) => s.trim()).filter(Boolean);
    const body = {
      prompts,
      duration_s: num(form, "duration_s"),
      seed: num(form, "seed"),
      num_inference_steps: num(form, "num_inference_steps"),
      format: text(form, "format"),
      response: "json",
    };
    run(form, "long", prompts.join(" → "), () => postJson("/v1/long", body));
  });
}

function formWith(form, names) {
  const data = new FormData();
  for (const name of names) {
    const value = form.elements[name].value;
    if (value !== "") data.append(name, value);
  }
  return data;
}

function wireSong() {
  const form = $("form-song");
  form.elements.strength.addEventListener("input", () => {
    form.elements["strength-out"].value = Number(form.elements.strength.value).toFixed(2);
  });
  form.elements.overlap_s.addEventListener("input", () => {
    // the crossfade fits inside the overlap
    const overlap = Number(form.elements.overlap_s.value);
    if (Number(form.elements.crossfade_s.value) > overlap) form.elements.crossfade_s.value = String(overlap);
    form.elements.crossfade_s.max = String(overlap);
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const file = form.elements.audio.files[0];
    if (!file) {
      showError("whole song: choose an audio file first");
      return;
    }
    const data = formWith(form, ["prompt", "to_prompt", "seed", "to_seed", "strength", "clip_s", "overlap_s",
      "crossfade_s", "num_inference_steps", "format"]);
    data.append("audio", file, file.name);
    data.append("response", "json");
    const title = text(form, "to_prompt") ? `${text(form, "prompt")} → ${text(form, "to_prompt")}` : text(form, "prompt");
    run(form, "song", `${file.name}: ${title}`, () => postForm("/v1/transform-song", data));
  });
}

function wireImage() {
  const form = $("form-image");
  const preview = $("image-preview");
  form.elements.image.addEventListener("change", () => {
    const file = form.elements.image.files[0];
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.hidden = !file;
    if (file) preview.src = URL.createObjectURL(file);
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const file = form.elements.image.files[0];
    if (!file) {
      showError("image → audio: choose a picture first");
      return;
    }
    const data = formWith(form, ["format"]);
    data.append("image", file, file.name);
    data.append("response", "json");
    run(form, "image", file.name, () => postForm("/v1/image-to-audio", data), (answer) => {
      const how = answer.used_exif ? "settings from the picture's EXIF" : `no EXIF: read as the standard format (${answer.width}×${answer.height})`;
      addResult("image", file.name, answer, text(form, "format"), how);
    });
  });
}

function wireClips() {
  const form = $("form-clips");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const file = form.elements.audio.files[0];
    if (!file) {
      showError("sample clips: choose an audio file first");
      return;
    }
    const starts = text(form, "starts");
    const data = formWith(form, starts ? ["seconds", "starts", "format"] : ["seconds", "count", "seed", "format"]);
    data.append("audio", file, file.name);
    run(form, "clips", file.name, () => postForm("/v1/sample-clips", data), (answer) => addClips(file.name, answer));
  });
}

// Built-in seed images and masks, chosen by picture: each .picker fills the hidden input named by data-for.
async function buildPickers() {
  let ids = { seed_image_ids: ["og_beat"], mask_image_ids: [] };
  try {
    ids = await getJson("/v1/seed-images");
  } catch (err) {
    showError(`seed images: ${err.message}`);
  }
  for (const picker of document.querySelectorAll(".picker")) {
    const input = picker.closest("form").elements[picker.dataset.for];
    const options = picker.dataset.kind === "mask" ? ids.mask_image_ids : ids.seed_image_ids;
    const choices = picker.dataset.none ? ["", ...options] : options;
    const buttons = choices.map((id) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "pick";
      button.setAttribute("role", "radio");
      button.dataset.id = id;
      button.title = id || picker.dataset.none;
      if (id) {
        const img = document.createElement("img");
        img.src = `/v1/seed-images/${encodeURIComponent(id)}`;
        img.alt = "";
        button.append(img);
      } else {
        const blank = document.createElement("span");
        blank.className = "pick-none";
        blank.textContent = "∅";
        button.append(blank);
      }
      const caption = document.createElement("span");
      caption.className = "pick-caption";
      caption.textContent = (id || picker.dataset.none).replace(/^mask_/, "").replaceAll("_", " ");
      button.append(caption);
      button.addEventListener("click", () => choose(id));
      return button;
    });
    const choose = (id) => {
      input.value = id;
      for (const b of buttons) b.setAttribute("aria-checked", String(b.dataset.id === id));
    };
    picker.replaceChildren(...buttons);
    choose(choices.includes(input.value) ? input.value : choices[0]);
  }
}

function wireTabs() {
  const tabs = document.querySelectorAll("[role=tab]");
  const select = (name) => {
    for (const t of tabs) t.setAttribute("aria-selected", String(t.dataset.tab === name));
    for (const p of document.querySelectorAll(".panel")) p.hidden = p.dataset.panel !== name;
    history.replaceState(null, "", `#${name}`);
  };
  for (const t of tabs) t.addEventListener("click", () => select(t.dataset.tab));
  const fromHash = () => {
    const wanted = location.hash.slice(1);
    if ([...tabs].some((t) => t.dataset.tab === wanted)) select(wanted);
  };
  window.addEventListener("hashchange", fromHash); // links and back/forward between tabs
  fromHash();
  studio.selectTab = select;
}

const modelReady = loadModelSettings();
wireTabs();
wireText();
wireAudio();
wireInterp();
wireLong();
wireSong();
wireImage();
wireClips();
Promise.all([buildPickers(), modelReady]).then(() => {
  studio.ready = true;
});
