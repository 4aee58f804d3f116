// The impact section: up to four completed simulations of one dataset, their reports
// (GET /api/v1/simulations/{id}/report) as charts and tables side by side, each chart
// downloadable as SVG and each simulation's results as Parquet (checked against the
// SHA-256 the API sends).
import { api, ApiProblem, described, download, field, listDatasets, policiesOf } from "/web/api.js";
import { barChart, svgDownload } from "/web/chart.js";
import { viewsOf } from "/web/views.js";

const MOST = 4;
const REPORT_TRIES = 40;
let simulations = new Map(); // completed simulations of the chosen dataset, by id
let policies = new Map();

const dollars = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat("en-US", {
  style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1,
});
const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const FORMATS = {
  money: { table: (v) => dollars.format(v), axis: (v) => compact.format(v), change: (v) => dollars.format(v) },
  percent: { table: percent(2), axis: percent(1), change: percent(2) },
  share: { table: percent(1), axis: percent(0), change: percent(1) },
  rate: { table: percent(1), axis: points, change: points },
  index: { table: (v) => v.toFixed(4), axis: (v) => v.toFixed(3), change: (v) => v.toFixed(4) },
  households: { table: (v) => count.format(v), axis: (v) => count.format(v), change: (v) => count.format(v) },
};

function percent(digits) {
  return (value) => `${(value * 100).toFixed(digits)}%`;
}

function points(value) {
  return `${(value * 100).toFixed(1)} pp`;
}

function describe(simulation) {
  const policy = policies.get(simulation.policy_id)?.name || simulation.policy_id;
  const baseline = simulation.baseline_policy_id
    ? policies.get(simulation.baseline_policy_id)?.name || simulation.baseline_policy_id
    : "current law";
  const years = simulation.years.length > 1 ? `${simulation.years[0]}–${simulation.years.at(-1)}` : simulation.years[0];
  const region = simulation.region === "us" ? "US" : simulation.region;
  return { short: policy, long: `${policy} against ${baseline}, ${region}, ${years}` };
}

function chosenIds() {
  return [...field("impact-choices").querySelectorAll("input:checked")].map((box) => box.value);
}

function refreshChoices() {
  const ids = chosenIds();
  for (const box of field("impact-choices").querySelectorAll("input")) {
    box.disabled = !box.checked && ids.length >= MOST;
  }
  const yearLists = ids.map((id) => simulations.get(id).years.map(String));
  const shared = yearLists.length
    ? yearLists.reduce((common, years) => common.filter((year) => years.includes(year)))
    : [];
  const select = field("impact-year");
  const kept = select.value;
  select.replaceChildren(...shared.map((year) => new Option(year, year)));
  if (shared.includes(kept)) select.value = kept;
}

async function loadSimulations() {
  const holder = field("impact-choices");
  const kept = new Set(chosenIds());
  holder.replaceChildren();
  simulations = new Map();
  const datasetId = field("impact-dataset").value;
  if (!datasetId) return refreshChoices();
  const query = `dataset_id=${encodeURIComponent(datasetId)}&status=completed&limit=100`;
  const page = await api(`/api/v1/simulations?${query}`);
  if (!page.items.length) holder.textContent = "No completed simulation on this dataset yet.";
  for (const simulation of page.items) {
    simulations.set(simulation.id, simulation);
    const box = document.createElement("input");
    Object.assign(box, {
      type: "checkbox", id: `choose-${simulation.id}`, value: simulation.id, checked: kept.has(simulation.id),
    });
    box.addEventListener("change", refreshChoices);
    const label = document.createElement("label");
    label.htmlFor = box.id;
    label.textContent = describe(simulation).long;
    const line = document.createElement("div");
    line.className = "choice";
    line.append(box, " ", label);
    holder.append(line);
  }
  refreshChoices();
}

async function loadLists() {
  try {
    policies = await policiesOf();
    await listDatasets(field("impact-dataset"), "Choose a dataset");
    await loadSimulations();
  } catch (problem) {
    field("impact-error").textContent = `The simulations could not be listed: ${problem.message}`;
  }
}

async function reportOf(id) {
  // The report, waiting while the aggregation service writes it (404 until then).
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await api(`/api/v1/simulations/${id}/report`);
    } catch (problem) {
      if (!(problem instanceof ApiProblem) || problem.status !== 404 || attempt >= REPORT_TRIES) throw problem;
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  }
}

function labelled(ids) {
  const labels = ids.map((id) => describe(simulations.get(id)).short);
  return labels.map((label, i) => (labels.indexOf(label) === labels.lastIndexOf(label)
    ? label : describe(simulations.get(ids[i])).long));
}

function tableOf(view, chosen, format) {
  const parts = chosen.length === 1 && view.cells.some((row) => row[0].baseline);
  const table = document.createElement("table");
  table.dataset.view = view.id;
  table.createCaption().textContent = view.title;
  const head = table.createTHead().insertRow();
  const headers = parts ? ["Baseline", "Reform", "Change"] : view.series.map((one) => one.name);
  for (const text of [view.rows, ...headers]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = text;
    head.append(th);
  }
  const body = table.createTBody();
  view.cells.forEach((row, c) => {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = view.categories[c];
    tr.append(th);
    const cells = parts ? [[row[0].baseline, "table"], [row[0].reform, "table"], [row[0], "change"]]
      : row.map((one) => [one, one.minus ? "change" : "table"]);
    cells.forEach(([cell, kind], s) => {
      const td = tr.insertCell();
      const owner = parts ? view.series[0] : view.series[s];
      const value = cell?.value;
      td.textContent = typeof value === "number" ? format[kind](value) : "—";
      td.dataset.value = typeof value === "number" ? String(value) : "";
      if (cell?.path) td.dataset.path = JSON.stringify(cell.path);
      if (cell?.minus) td.dataset.minus = JSON.stringify(cell.minus);
      td.dataset.simulation = owner.simulation || chosen[0].id;
    });
  });
  return table;
}

function figureOf(view, chosen) {
  const format = FORMATS[view.unit];
  const figure = document.createElement("figure");
  figure.id = `view-${view.id}`;
  const heading = document.createElement("h2");
  heading.textContent = view.title;
  const holder = document.createElement("div");
  holder.className = "chart";
  const series = view.series.map((one, s) => ({ name: one.name, values: view.cells.map((row) => row[s].value) }));
  const svg = barChart(view.categories, series, { title: view.title, format: format.axis });
  holder.append(svg);
  const link = document.createElement("a");
  link.textContent = `Download the chart “${view.title}” (SVG)`;
  link.download = `${view.id}.svg`;
  link.href = "#";
  svgDownload(link, svg);
  const paragraph = document.createElement("p");
  paragraph.append(link);
  figure.append(heading, holder, paragraph);
  if (view.note) {
    const note = document.createElement("p");
    note.textContent = view.note;
    figure.append(note);
  }
  const scroll = document.createElement("div");
  scroll.className = "scroll";
  scroll.append(tableOf(view, chosen, format));
  figure.append(scroll);
  return figure;
}

async function hexDigest(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function downloadResults(one, year, button) {
  const status = field("impact-status");
  status.textContent = `Downloading the results of ${one.label}…`;
  try {
    const { blob, headers } = await download(`/api/v1/simulations/${one.id}/results?year=${year}`);
    const expected = headers.get("X-Content-SHA256");
    if (expected && (await hexDigest(blob)) !== expected) throw new Error("the file's SHA-256 differs from the API's");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `fiscus-${one.id}-${year}.parquet`;
    button.after(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    status.textContent = `Downloaded the results of ${one.label} (${blob.size.toLocaleString("en-US")} bytes, SHA-256 checked).`;
  } catch (problem) {
    status.textContent = "";
    field("impact-error").textContent = `The results could not be downloaded: ${problem.message}`;
  }
}

function contents(views) {
  // Links to each view, since the views make a long page.
  const list = document.createElement("ul");
  list.className = "contents";
  for (const view of views) {
    const link = document.createElement("a");
    link.href = `#view-${view.id}`;
    link.textContent = view.title;
    link.addEventListener("click", (event) => {
      // The address's fragment names the section shown, so scroll without changing it.
      event.preventDefault();
      document.getElementById(`view-${view.id}`).scrollIntoView();
    });
    const item = document.createElement("li");
    item.append(link);
    list.append(item);
  }
  field("impact-contents").replaceChildren(list);
  field("impact-contents").hidden = false;
}

function downloads(chosen, year) {
  const holder = field("impact-downloads");
  holder.replaceChildren();
  for (const one of chosen) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.simulation = one.id;
    button.textContent = `Download the results of ${one.label}, ${year} (Parquet)`;
    button.addEventListener("click", () => downloadResults(one, year, button));
    holder.append(button, " ");
  }
}

async function show(event) {
  event?.preventDefault();
  const ids = chosenIds();
  const error = field("impact-error");
  const status = field("impact-status");
  error.textContent = "";
  field("impact-views").replaceChildren();
  field("impact-downloads").replaceChildren();
  field("impact-contents").hidden = true;
  const year = field("impact-year").value;
  if (!ids.length || !year) {
    error.textContent = ids.length ? "The chosen simulations share no year." : "Choose a simulation.";
    return;
  }
  status.textContent = "Reading the reports…";
  try {
    const answers = await Promise.all(ids.map(reportOf));
    const labels = labelled(ids);
    const chosen = ids.map((id, i) => ({
      id, label: labels[i], answer: answers[i],
      base: answers[i].reports_by_year ? ["reports_by_year", year] : ["report"],
    }));
    const views = viewsOf(chosen);
    field("impact-views").replaceChildren(...views.map((view) => figureOf(view, chosen)));
    contents(views);
    downloads(chosen, year);
    status.textContent = `The impact of ${labels.join(", ")} in ${year}.`;
  } catch (problem) {
    status.textContent = "";
    error.textContent = described(problem);
  }
}

async function open(event) {
  // "Show the impact" of a run: this dataset, this simulation, its first year.
  const simulation = event.detail;
  location.hash = "impact";
  await loadLists();
  field("impact-dataset").value = simulation.dataset_id;
  await loadSimulations();
  // This run alone, whatever was chosen before.
  for (const other of field("impact-choices").querySelectorAll("input")) other.checked = false;
  const box = document.getElementById(`choose-${simulation.id}`);
  if (box) box.checked = true;
  refreshChoices();
  await show();
}

export function setUpImpact() {
  field("impact-dataset").addEventListener("change", () => loadSimulations().catch((problem) => {
    field("impact-error").textContent = problem.message;
  }));
  field("impact-form").addEventListener("submit", show);
  document.addEventListener("fiscus:key", loadLists);
  document.addEventListener("fiscus:completed", loadLists);
  document.addEventListener("fiscus:datasets", loadLists);
  document.addEventListener("fiscus:open-impact", open);
}
