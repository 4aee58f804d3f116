// Running a simulation: choose (or generate, or upload) a dataset, a reform, a baseline,
// a region and a year or a budget window; submit (POST /api/v1/simulations) and follow
// each run's progress from its Server-Sent Events, read with fetch so that the key stays
// in a header; cancel from the page. Finished runs open in the impact section.
import {
  api, described, field, fillPolicies, follow, listDatasets, policiesOf, upload,
} from "/web/api.js";
import { STATES } from "/web/states.js";

const FINISHED = new Set(["completed", "failed", "cancelled"]);
const POLL_MS = 3000;
const runs = new Map(); // simulation id → {simulation, progress, row, stream}
const names = { datasets: new Map(), policies: new Map() };

async function loadChoices() {
  try {
    names.datasets = await listDatasets(field("run-dataset"), "Choose a dataset");
    names.policies = await policiesOf();
    fillPolicies(field("run-policy"), names.policies, "Choose a policy");
    fillPolicies(field("run-baseline"), names.policies, "Current law");
  } catch (problem) {
    field("run-error").textContent = `The choices could not be listed: ${described(problem)}`;
  }
}

async function registered(promise, status) {
  // A dataset the page made: listed, chosen, announced.
  const error = field("dataset-error");
  error.textContent = "";
  field("dataset-status").textContent = status;
  try {
    const dataset = await promise;
    await loadChoices();
    field("run-dataset").value = dataset.id;
    field("dataset-status").textContent =
      `Registered “${dataset.name}”: ${dataset.households.toLocaleString("en-US")} households, ${dataset.year}.`;
    document.dispatchEvent(new Event("fiscus:datasets"));
  } catch (problem) {
    field("dataset-status").textContent = "";
    error.textContent = described(problem);
  }
}

function generate(event) {
  event.preventDefault();
  const body = {
    name: field("synthetic-name").value.trim(),
    households: Number(field("synthetic-households").value),
    seed: Number(field("synthetic-seed").value),
    year: Number(field("synthetic-year").value),
  };
  registered(api("/api/v1/datasets/synthetic", { method: "POST", body }), "Generating…");
}

function uploadFile(event) {
  event.preventDefault();
  const form = new FormData();
  const file = field("upload-file").files[0];
  if (!file) {
    field("dataset-error").textContent = "Choose a file to upload.";
    return;
  }
  form.append("file", file);
  form.append("name", field("upload-name").value.trim());
  if (field("upload-year").value) form.append("year", field("upload-year").value);
  registered(upload("/api/v1/datasets", form), "Uploading and checking…");
}

function requestBody() {
  const first = Number(field("run-year").value);
  const last = field("run-last-year").value ? Number(field("run-last-year").value) : null;
  const body = {
    dataset_id: field("run-dataset").value,
    policy_id: field("run-policy").value,
    region: field("run-region").value,
  };
  if (field("run-baseline").value) body.baseline_policy_id = field("run-baseline").value;
  if (last === null || last === first) body.year = first;
  // A last year before the first is sent as given, for the API to refuse by name.
  else if (last < first) body.years = [first, last];
  else body.years = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  return body;
}

async function submit(event) {
  event.preventDefault();
  const error = field("run-error");
  error.textContent = "";
  try {
    const simulation = await api("/api/v1/simulations", { method: "POST", body: requestBody() });
    track(simulation);
    field("runs-status").textContent = `Simulation ${simulation.id} is ${simulation.status}.`;
    field("runs-status").dataset.simulation = simulation.id;
  } catch (problem) {
    error.textContent = described(problem);
  }
}

function progressText(progress, status) {
  if (!progress) return status === "queued" ? "Waiting for a worker" : "";
  const households = `${progress.households_done.toLocaleString("en-US")} of ${progress.households_total.toLocaleString("en-US")} households`;
  const partitions = `${progress.partitions_done} of ${progress.partitions_total} partitions`;
  let time = `${Math.round(progress.elapsed_seconds)} s`;
  if (!FINISHED.has(status)) {
    const left = progress.estimated_seconds_left;
    time = left === null || left === undefined ? "estimating the time left" : `about ${Math.ceil(left)} s left`;
  }
  return `${partitions}, ${households}, ${time}`;
}

function cell(row, index) {
  return row.children[index];
}

function render(run) {
  const { simulation, progress, row } = run;
  row.dataset.status = simulation.status;
  const policy = names.policies.get(simulation.policy_id);
  const dataset = names.datasets.get(simulation.dataset_id);
  cell(row, 0).textContent = policy ? policy.name : simulation.policy_id;
  cell(row, 1).textContent = dataset ? dataset.name : simulation.dataset_id;
  cell(row, 2).textContent = simulation.region === "us" ? "US" : simulation.region;
  const years = simulation.years || [simulation.year];
  cell(row, 3).textContent = years.length > 1 ? `${years[0]}–${years.at(-1)}` : String(years[0]);
  cell(row, 4).textContent = simulation.error
    ? `${simulation.status}: ${simulation.error.reason}`
    : simulation.status;
  const bar = cell(row, 5).querySelector("progress");
  const text = cell(row, 5).querySelector("span");
  if (progress) {
    bar.max = progress.households_total || 1;
    bar.value = progress.households_done;
    Object.assign(bar.dataset, {
      partitionsDone: progress.partitions_done, partitionsTotal: progress.partitions_total,
      householdsDone: progress.households_done, householdsTotal: progress.households_total,
    });
  } else if (simulation.status === "completed") {
    bar.max = 1;
    bar.value = 1;
  }
  text.textContent = progressText(progress, simulation.status);
  const [cancel, open] = cell(row, 6).querySelectorAll("button");
  cancel.hidden = FINISHED.has(simulation.status);
  open.hidden = simulation.status !== "completed";
}

function newRow(id) {
  const row = document.createElement("tr");
  row.dataset.simulation = id;
  for (let index = 0; index < 7; index += 1) {
    row.append(document.createElement(index === 0 ? "th" : "td"));
  }
  cell(row, 0).scope = "row";
  const bar = document.createElement("progress");
  bar.id = `progress-${id}`;
  bar.max = 1;
  bar.value = 0;
  const label = document.createElement("label");
  label.htmlFor = bar.id;
  label.className = "visually-hidden";
  label.textContent = "Households done";
  const text = document.createElement("span");
  text.className = "progress-text";
  cell(row, 5).append(label, bar, " ", text);
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  cancel.addEventListener("click", () => cancelRun(id));
  const open = document.createElement("button");
  open.type = "button";
  open.textContent = "Show the impact";
  open.addEventListener("click", () => {
    document.dispatchEvent(new CustomEvent("fiscus:open-impact", { detail: runs.get(id).simulation }));
  });
  cell(row, 6).append(cancel, " ", open);
  return row;
}

function onEvent(id, name, data) {
  const run = runs.get(id);
  if (name === "status") {
    run.simulation = { ...run.simulation, ...data };
    run.progress = data.progress || run.progress;
  } else if (name === "progress") {
    run.simulation.status = "running";
    run.progress = data;
  } else if (FINISHED.has(name)) {
    run.simulation.status = name;
    if (data.reason) run.simulation.error = { type: data.error_type || name, reason: data.reason };
  }
  render(run);
}

async function watch(id) {
  // Follows the run's events; once it ends, reads the simulation for its final progress.
  const run = runs.get(id);
  run.stream = new AbortController();
  // Events come as partitions finish; between them the simulation is read every few
  // seconds for its status (queued or running) and the time spent.
  const poll = setInterval(() => refresh(id), POLL_MS);
  try {
    await follow(`/api/v1/simulations/${id}/events`, (name, data) => onEvent(id, name, data), run.stream.signal);
    clearInterval(poll);
    run.simulation = await api(`/api/v1/simulations/${id}`);
    run.progress = run.simulation.progress || run.progress;
    render(run);
    if (run.simulation.status === "completed") document.dispatchEvent(new Event("fiscus:completed"));
  } catch (problem) {
    if (problem.name !== "AbortError") field("runs-status").textContent = `Progress of ${id} was lost: ${problem.message}`;
  } finally {
    clearInterval(poll);
  }
}

async function refresh(id) {
  const run = runs.get(id);
  if (FINISHED.has(run.simulation.status)) return;
  try {
    const simulation = await api(`/api/v1/simulations/${id}`);
    if (FINISHED.has(simulation.status)) return; // the stream brings the end
    run.simulation = simulation;
    run.progress = simulation.progress || run.progress;
    render(run);
  } catch {
    // The stream reports what matters; a missed poll is not worth a message.
  }
}

function track(simulation) {
  let run = runs.get(simulation.id);
  if (!run) {
    run = { simulation, progress: simulation.progress, row: newRow(simulation.id), stream: null };
    runs.set(simulation.id, run);
    field("runs").querySelector("tbody").prepend(run.row);
  }
  run.simulation = simulation;
  run.progress = simulation.progress || run.progress;
  render(run);
  if (!FINISHED.has(simulation.status) && !run.stream) watch(simulation.id);
}

async function cancelRun(id) {
  try {
    const simulation = await api(`/api/v1/simulations/${id}/cancel`, { method: "POST" });
    runs.get(id).simulation = simulation;
    render(runs.get(id));
    field("runs-status").textContent = `Simulation ${id} is ${simulation.status}.`;
  } catch (problem) {
    field("runs-status").textContent = `It could not be cancelled: ${described(problem)}`;
  }
}

async function loadRuns() {
  await loadChoices();
  try {
    const page = await api("/api/v1/simulations?limit=25");
    for (const simulation of [...page.items].reverse()) track(simulation);
  } catch (problem) {
    field("runs-status").textContent = `Your simulations could not be listed: ${described(problem)}`;
  }
}

export function setUpRun() {
  const region = field("run-region");
  for (const code of STATES) region.append(new Option(code, code));
  field("synthetic-form").addEventListener("submit", generate);
  field("upload-form").addEventListener("submit", uploadFile);
  field("run-form").addEventListener("submit", submit);
  document.addEventListener("fiscus:key", loadRuns);
  document.addEventListener("fiscus:policies", loadChoices);
}
