// Pure audio helpers shared by the Jam and Studio pages: crossfade curves, the
// back-to-back schedule rule, a mixdown of what was played, and WAV encoding.

/** Equal-power fade curves of `n` points: fade-in sin(πt/2), fade-out cos(πt/2). */
export function equalPowerCurves(n = 64) {
  const fadeIn = new Float32Array(n);
  const fadeOut = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 1 : i / (n - 1);
    fadeIn[i] = Math.sin((t * Math.PI) / 2);
    fadeOut[i] = Math.cos((t * Math.PI) / 2);
  }
  return { fadeIn, fadeOut };
}

/**
 * When the next clip starts (seconds on the AudioContext clock).
 * Back to back: previous start + previous duration − crossfade. If that moment is
 * already too close (generation fell behind), start `lead` seconds from now instead.
 * Returns {start, late}.
 */
export function nextStartTime(prev, now, crossfade, lead = 0.05) {
  if (!prev) return { start: now + 0.1, late: false };
  const ideal = prev.start + prev.duration - crossfade;
  if (ideal < now + 0.01) return { start: now + lead, late: true };
  return { start: ideal, late: false };
}

/**
 * Mix scheduled clips into one stereo track, the way they were played.
 * entries: [{start (s), buffer: AudioBuffer-like {numberOfChannels, length,
 * sampleRate, getChannelData(c)}, fadeIn (s), fadeOut (s)}], all at `sampleRate`.
 * The track runs from the first start to `endTime` (s, clock time); returns
 * [left Float32Array, right Float32Array].
 */
export function mixdown(entries, sampleRate, endTime) {
  if (!entries.length) return [new Float32Array(0), new Float32Array(0)];
  const t0 = entries[0].start;
  const total = Math.max(0, Math.round((endTime - t0) * sampleRate));
  const out = [new Float32Array(total), new Float32Array(total)];
  for (const e of entries) {
    const offset = Math.round((e.start - t0) * sampleRate);
    const n = e.buffer.length;
    const fin = Math.round((e.fadeIn || 0) * sampleRate);
    const fout = Math.round((e.fadeOut || 0) * sampleRate);
    for (let c = 0; c < 2; c++) {
      const src = e.buffer.getChannelData(Math.min(c, e.buffer.numberOfChannels - 1));
      const dst = out[c];
      for (let i = 0; i < n; i++) {
        const j = offset + i;
        if (j < 0) continue;
        if (j >= total) break;
        let g = 1;
        if (i < fin) g *= Math.sin(((i / fin) * Math.PI) / 2);
        if (i >= n - fout) g *= Math.cos((((i - (n - fout)) / fout) * Math.PI) / 2);
        dst[j] += src[i] * g;
      }
    }
  }
  return out;
}

/** 16-bit PCM WAV bytes (a Blob) from channel arrays of floats in [-1, 1]. */
export function encodeWav(channels, sampleRate) {
  const numChannels = channels.length;
  const length = channels.length ? channels[0].length : 0;
  const bytesPerSample = 2;
  const dataSize = length * numChannels * bytesPerSample;
  const view = new DataView(new ArrayBuffer(44 + dataSize));
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF");
  view.setUint32(4, 36 + dataSize, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, numChannels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * numChannels * bytesPerSample, true);
  view.setUint16(32, numChannels * bytesPerSample, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, dataSize, true);
  let p = 44;
  for (let i = 0; i < length; i++) {
    for (let c = 0; c < numChannels; c++) {
      const v = Math.max(-1, Math.min(1, channels[c][i]));
      view.setInt16(p, v < 0 ? v * 0x8000 : v * 0x7fff, true);
      p += 2;
    }
  }
  return new Blob([view.buffer], { type: "audio/wav" });
}

/** The channels of an AudioBuffer as a list of Float32Arrays. */
export function bufferChannels(buffer) {
  const out = [];
  for (let c = 0; c < buffer.numberOfChannels; c++) out.push(buffer.getChannelData(c));
  return out;
}

/** ArrayBuffer of a `data:` URI. */
export async function dataUriToArrayBuffer(uri) {
  const response = await fetch(uri);
  return response.arrayBuffer();
}
