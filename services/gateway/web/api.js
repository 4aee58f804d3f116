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

export function field(id) {
  return document.getElementById(id);
}

export function described(problem) {
  // What to show for a failed call: the API's problem with its fields, or the error.
  return problem instanceof ApiProblem ? problem.describe() : problem.message;
}

function fill(select, items, empty, label) {
  // `items` (a Map by id) as the options of `select`, keeping the choice if still there.
  const chosenId = select.value;
  select.replaceChildren(new Option(empty, ""));
  for (const [id, item] of items) select.append(new Option(label(item), id));
  select.value = items.has(chosenId) ? chosenId : "";
}

export async function policiesOf() {
  // The caller's policies and the public ones, each once, by id.
  const seen = new Map();
  for (const query of ["?limit=100", "?visibility=public&limit=100"]) {
    const page = await api(`/api/v1/policies${query}`);
    for (const policy of page.items) seen.set(policy.id, policy);
  }
  return seen;
}

export function fillPolicies(select, policies, empty) {
  fill(select, policies, empty, (policy) => policy.name);
}

export async function listPolicies(select, empty) {
  // The caller's policies and the public ones into `select`; answers them by id.
  const policies = await policiesOf();
  fillPolicies(select, policies, empty);
  return policies;
}

export async function listDatasets(select, empty) {
  // The datasets the caller may use, newest first, into `select`; answers them by id.
  const page = await api("/api/v1/datasets?limit=100");
  const datasets = new Map(page.items.map((dataset) => [dataset.id, dataset]));
  fill(select, datasets, empty, (dataset) =>
    `${dataset.name} (${dataset.households.toLocaleString("en-US")} households, ${dataset.year})`);
  return datasets;
}
