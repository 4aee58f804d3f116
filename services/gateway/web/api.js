// Calls to Fiscus's public API with the key the page was given (kept for the tab only).

export const KEY = "fiscus.apiKey";
export class ApiProblem extends Error {
  // A problem+json answer: its title, detail and the fields it names.
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  describe() {
    const errors = this.problem.errors || [];
    const fields = errors.map((e) => `${e.field}: ${e.message}`);
    return [this.message, ...fields].join("\n");
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

function authorised(extra = {}) {
  return { Authorization: `Bearer ${apiKey()}`, ...extra };
}

async function answered(response) {
  const text = await response.text();
  const answer = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiProblem(response.status, answer || {});
  return answer;
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = authorised({ Accept: "application/json" });
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answered(response);
}

export async function upload(path, form) {
  // A multipart POST (the browser writes the boundary); answers the JSON like `api`.
  const headers = authorised({ Accept: "application/json" });
  return answered(await fetch(path, { method: "POST", headers, body: form }));
}

export async function download(path) {
  // A file the API streams, as a Blob, with its headers.
  const response = await fetch(path, { headers: authorised() });
  if (!response.ok) await answered(response);
  return { blob: await response.blob(), headers: response.headers };
}

function parseEvent(block) {
  // One Server-Sent Event: its `event` name and its `data` (JSON); comments skipped.
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const fieldName = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (fieldName === "event") name = value;
    else if (fieldName === "data") data.push(value);
  }
  return data.length ? { name, data: JSON.parse(data.join("\n")) } : null;
}

export async function follow(path, onEvent, signal) {
  // Reads a text/event-stream with fetch, so the key travels in a header (EventSource
  // cannot send one), calling onEvent(name, data) for each event until the stream ends.
  const response = await fetch(path, {
    headers: authorised({ Accept: "text/event-stream" }),
    signal,
  });
  if (!response.ok) await answered(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + value).replaceAll("\r\n", "\n");
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) onEvent(event.name, event.data);
      end = buffer.indexOf("\n\n");
    }
  }
}

export async function listPolicies(select, empty) {
  // The caller's policies and the public ones, each once, into `select`.
  const chosenId = select.value;
  const seen = new Map();
  for (const query of ["?limit=100", "?visibility=public&limit=100"]) {
    const page = await api(`/api/v1/policies${query}`);
    for (const policy of page.items) seen.set(policy.id, policy);
  }
  select.replaceChildren(new Option(empty, ""));
  for (const policy of seen.values()) select.append(new Option(policy.name, policy.id));
  select.value = seen.has(chosenId) ? chosenId : "";
  return seen;
}
