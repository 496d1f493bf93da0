// The Studio page: one-off generations (text, audio, interpolation, long pieces), each
// shown with its spectrogram picture, a player and a download link.
//
// Test hook: window.sonogenStudio.results lists {kind, duration_s, prompt} per result.

import { fillSeedImages, postForm, postJson } from "./api.js";
import { encodeWav, bufferChannels } from "./audio.js";

const $ = (id) => document.getElementById(id);
const studio = { results: [], busy: 0, errors: [] };
window.sonogenStudio = studio;

let recorded = null; // a WAV Blob from the microphone

function num(form, name) {
  const el = form.elements[name];
  return el && el.value !== "" ? Number(el.value) : undefined;
}
function text(form, name) {
  const el = form.elements[name];
  return el ? el.value.trim() : "";
}

function showError(message) {
  studio.errors.push(message);
  $("error").textContent = message;
  $("error").hidden = false;
}

function extension(format) {
  return { mp3: "mp3", wav: "wav", flac: "flac", ogg: "ogg" }[format] || "mp3";
}

function addResult(kind, title, answer, format) {
  const card = document.createElement("article");
  card.className = "card result";
  const h = document.createElement("h3");
  h.textContent = title;
  const meta = document.createElement("p");
  meta.className = "hint";
  meta.textContent = `${kind} · ${answer.duration_s.toFixed(2)} s · ${answer.sample_rate || ""} Hz`;
  const img = document.createElement("img");
  img.src = answer.image;
  img.alt = `spectrogram of ${title}`;
  img.className = "spectrogram";
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.src = answer.audio;
  const link = document.createElement("a");
  link.href = answer.audio;
  link.download = `sonogen-${kind}-${Date.now()}.${extension(format)}`;
  link.textContent = "Download";
  link.className = "button";
  const pic = document.createElement("a");
  pic.href = answer.image;
  pic.download = `sonogen-${kind}-${Date.now()}.png`;
  pic.textContent = "Spectrogram PNG";
  pic.className = "button secondary";
  const row = document.createElement("div");
  row.className = "actions";
  row.append(audio, link, pic);
  card.append(h, meta, img, row);
  $("results").prepend(card);
  studio.results.push({ kind, duration_s: answer.duration_s, prompt: title });
}

async function run(form, kind, title, call) {
  const button = form.querySelector("button[type=submit]");
  const label = button.textContent;
  button.disabled = true;
  button.textContent = "Working…";
  $("error").hidden = true;
  studio.busy += 1;
  try {
    const answer = await call();
    addResult(kind, title, answer, text(form, "format") || "mp3");
  } catch (err) {
    showError(`${kind}: ${err.message}`);
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

function wireTabs() {
  const tabs = document.querySelectorAll("[role=tab]");
  const select = (name) => {
    for (const t of tabs) t.setAttribute("aria-selected", String(t.dataset.tab === name));
    for (const p of document.querySelectorAll(".panel")) p.hidden = p.dataset.panel !== name;
    history.replaceState(null, "", `#${name}`);
  };
  for (const t of tabs) t.addEventListener("click", () => select(t.dataset.tab));
  const wanted = location.hash.slice(1);
  if ([...tabs].some((t) => t.dataset.tab === wanted)) select(wanted);
  studio.selectTab = select;
}

wireTabs();
wireText();
wireAudio();
wireInterp();
wireLong();
fillSeedImages($("form-interp").elements.seed_image_id, "og_beat").then(() => {
  studio.ready = true;
});
