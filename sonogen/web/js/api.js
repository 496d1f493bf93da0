// Calls to the sonogen HTTP API; every failure becomes an Error with the server's message.

export class ApiError extends Error {
  constructor(message, status, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && (body.detail || body.error)) message = body.detail || body.error;
  } catch (_) { /* not JSON */ }
  const retry = Number(response.headers.get("Retry-After")) || 0;
  return new ApiError(message, response.status, retry);
}

/** POST a JSON body; resolves with the parsed JSON answer. */
export async function postJson(path, body, { signal } = {}) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** POST a FormData body; resolves with the parsed JSON answer. */
export async function postForm(path, form, { signal } = {}) {
  const response = await fetch(path, { method: "POST", body: form, signal });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** GET JSON. */
export async function getJson(path) {
  const response = await fetch(path);
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** Fill a <select> with the built-in seed image ids, keeping `selected`. */
export async function fillSeedImages(select, selected = "og_beat") {
  try {
    const { seed_image_ids: ids } = await getJson("/v1/seed-images");
    select.replaceChildren(...ids.map((id) => new Option(id, id, false, id === selected)));
  } catch (_) {
    select.replaceChildren(new Option(selected, selected, true, true));
  }
}
