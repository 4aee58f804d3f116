// The reform builder: find parameters (GET /api/v1/parameters), read one's current-law
// values, set new values for periods, see the reform as PolicyEngine JSON and save it as a
// policy (POST /api/v1/policies). The API judges every value when the reform is saved:
// each refusal is shown next to the change its field names (`data.<name>["<period>"]`).
// An existing policy opens as a copy to edit.
import { api, ApiProblem, described, field, listPolicies } from "/web/api.js";

const FOREVER = "2100-12-31";
let reform = {};
let chosen = null;

function parsed(text) {
  // A number, true or false as such; anything else is sent as typed, for the API to judge.
  const trimmed = text.trim();
  if (trimmed === "true" || trimmed === "false") return trimmed === "true";
  const number = Number(trimmed.replaceAll(",", ""));
  return trimmed !== "" && Number.isFinite(number) ? number : trimmed;
}

function refusals(problem) {
  // The API's field errors by the change they name: "<name>|<period>", or "<name>|".
  const found = new Map();
  for (const { field: where, message } of problem.problem.errors || []) {
    const matched = /^data\.(.+?)(?:\["(.+)"\])?$/.exec(where || "");
    if (!matched) continue;
    const key = `${matched[1]}|${matched[2] || ""}`;
    found.set(key, [...(found.get(key) || []), message]);
  }
  return found;
}

function showReform(errors = new Map()) {
  field("reform-json").textContent = JSON.stringify(reform, null, 2);
  const list = field("reform-changes");
  list.replaceChildren();
  for (const [name, periods] of Object.entries(reform)) {
    for (const [period, value] of Object.entries(periods)) {
      const item = document.createElement("li");
      item.dataset.parameter = name;
      const text = document.createElement("span");
      text.textContent = `${name} — ${period.replace(".", " to ")}: ${JSON.stringify(value)}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", `Remove ${name} for ${period}`);
      remove.addEventListener("click", () => {
        delete reform[name][period];
        if (Object.keys(reform[name]).length === 0) delete reform[name];
        showReform();
      });
      item.append(text, " ", remove);
      const messages = [...(errors.get(`${name}|${period}`) || []), ...(errors.get(`${name}|`) || [])];
      if (messages.length) {
        const refusal = document.createElement("p");
        refusal.className = "error";
        refusal.id = `refusal-${list.children.length}`;
        refusal.textContent = messages.join("\n");
        remove.setAttribute("aria-describedby", refusal.id);
        item.dataset.refused = "true";
        item.append(refusal);
      }
      list.append(item);
    }
  }
  field("reform-empty").hidden = Object.keys(reform).length > 0;
}

async function search(event) {
  event.preventDefault();
  const words = field("parameter-search").value.trim();
  const results = field("parameter-results");
  const status = field("parameter-status");
  results.replaceChildren();
  if (!words) return;
  status.textContent = "Searching…";
  try {
    const page = await api(`/api/v1/parameters?search=${encodeURIComponent(words)}&limit=25`);
    status.textContent = page.items.length
      ? `${page.items.length}${page.next_cursor ? "+" : ""} parameters found.`
      : "No parameter matches every word.";
    for (const parameter of page.items) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = parameter.label || parameter.name;
      button.dataset.parameter = parameter.name;
      button.addEventListener("click", () => choose(parameter.name));
      const name = document.createElement("code");
      name.textContent = parameter.name;
      item.append(button, " ", name);
      results.append(item);
    }
  } catch (problem) {
    status.textContent = `The search failed: ${problem.message}`;
  }
}

async function choose(name) {
  const detail = await api(`/api/v1/parameters/${encodeURIComponent(name)}`);
  chosen = detail;
  field("parameter-detail").hidden = false;
  field("parameter-label").textContent = detail.label || detail.name;
  field("parameter-name").textContent = detail.name;
  field("parameter-description").textContent = detail.description || "No description.";
  field("parameter-unit").textContent = detail.unit || "none given";
  const body = field("parameter-values").querySelector("tbody");
  body.replaceChildren();
  for (const { start, value } of detail.values || []) {
    const row = document.createElement("tr");
    const when = document.createElement("td");
    when.textContent = start;
    const what = document.createElement("td");
    what.textContent = JSON.stringify(value);
    row.append(when, what);
    body.append(row);
  }
  const latest = (detail.values || []).at(-1);
  field("change-value").value = latest ? String(latest.value) : "";
  field("change-error").textContent = "";
  field("change-start").focus();
}

async function addChange(event) {
  event.preventDefault();
  const error = field("change-error");
  error.textContent = "";
  if (!chosen) return;
  const start = field("change-start").value;
  const end = field("change-end").value || FOREVER;
  const value = parsed(field("change-value").value);
  if (!start) {
    error.textContent = "Give the date the new value starts.";
    return;
  }
  const period = `${start}.${end}`;
  reform[chosen.name] = { ...(reform[chosen.name] || {}), [period]: value };
  showReform();
}

async function save(event) {
  event.preventDefault();
  const status = field("save-status");
  const error = field("save-error");
  status.textContent = "";
  error.textContent = "";
  const body = { name: field("policy-name").value.trim(), data: reform };
  const description = field("policy-description").value.trim();
  if (description) body.description = description;
  try {
    const stored = await api("/api/v1/policies", { method: "POST", body });
    status.textContent = `Saved as “${stored.name}” (${stored.id}).`;
    status.dataset.policyId = stored.id;
    document.dispatchEvent(new Event("fiscus:policies"));
  } catch (problem) {
    error.textContent = described(problem);
    if (problem instanceof ApiProblem) showReform(refusals(problem));
  }
}

async function openCopy(event) {
  event.preventDefault();
  const id = field("open-policy").value;
  if (!id) return;
  const policy = await api(`/api/v1/policies/${encodeURIComponent(id)}`);
  reform = structuredClone(policy.data);
  field("policy-name").value = `Copy of ${policy.name}`;
  field("policy-description").value = policy.description || "";
  showReform();
}

export function setUpReform() {
  field("parameter-form").addEventListener("submit", search);
  field("change-form").addEventListener("submit", addChange);
  field("save-form").addEventListener("submit", save);
  field("open-form").addEventListener("submit", openCopy);
  const refresh = () => listPolicies(field("open-policy"), "Choose a policy").catch(() => {});
  document.addEventListener("fiscus:key", refresh);
  document.addEventListener("fiscus:policies", refresh);
  showReform();
}
