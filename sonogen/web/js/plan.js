// The Jam page's prompt plan, as the original Riffusion app walks it: each clip is one step
// of alpha from a start {prompt, seed} to an end {prompt, seed}. Alpha goes 0.25, 0.5,
// 0.75, 1; when it rolls over 1 the end becomes the next start and the next end is the
// first queued prompt (or the same prompt with the next seed, so the music keeps evolving).
// A queued prompt therefore always gets the whole blend, four clips, however late in a
// blend it was queued. Pure functions: the page and its tests share them.

export const ALPHA_STEP = 0.25;

/** The first clip: `prompt` at `seed`, alpha 0 (heading for the same prompt at seed + 1). */
export function firstPlan(prompt, seed) {
  return { start: { prompt, seed }, end: { prompt, seed: seed + 1 }, alpha: 0 };
}

/**
 * The clip after `plan`. `queue` (an array of prompts) loses its first prompt when that
 * prompt becomes the next blend's end. Returns {plan, took}: `took` is the prompt taken
 * from the queue, or null.
 */
export function advance(plan, queue) {
  const alpha = Math.round((plan.alpha + ALPHA_STEP) * 1000) / 1000;
  if (alpha <= 1) return { plan: { start: plan.start, end: plan.end, alpha }, took: null };
  const start = plan.end;
  const took = queue.length ? queue.shift() : null;
  const end = { prompt: took ?? start.prompt, seed: start.seed + 1 };
  return { plan: { start, end, alpha: ALPHA_STEP }, took };
}

/** Every clip of a blend towards `prompt`, in order: [{alpha, startPrompt, endPrompt}]. */
export function blendOf(clips, prompt) {
  return clips.filter((c) => c.endPrompt === prompt && c.startPrompt !== prompt);
}
