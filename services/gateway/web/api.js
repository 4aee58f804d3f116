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
