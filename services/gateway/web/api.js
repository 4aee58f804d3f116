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

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const answer = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiProblem(response.status, answer || {});
  return answer;
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
}
