// The household calculator: the form becomes PolicyEngine's household JSON, calculated by
// POST /api/v1/households/calculate under current law and, if chosen, a stored policy;
// the chart is the same household along an axis of the first adult's employment income.
import { api, described, field, listPolicies } from "/web/api.js";
import { lineChart, svgDownload } from "/web/chart.js";
import { STATES } from "/web/states.js";

// Rows of the results table: [label, entity, instance, variable]; a person's variable
// (no instance) is summed over the household's people.
export const MEASURES = [
  ["Net income", "households", "household", "household_net_income"],
  ["Market income", "households", "household", "household_market_income"],
  ["Taxes", "households", "household", "household_tax"],
  ["Benefits", "households", "household", "household_benefits"],
  ["Federal income tax", "tax_units", "tax_unit", "income_tax"],
  ["State income tax", "tax_units", "tax_unit", "state_income_tax"],
  ["Employee payroll tax", "tax_units", "tax_unit", "employee_payroll_tax"],
  ["Earned income tax credit", "tax_units", "tax_unit", "eitc"],
  ["Child tax credit", "tax_units", "tax_unit", "ctc"],
  ["SNAP", "spm_units", "spm_unit", "snap"],
  ["SSI", "people", null, "ssi"],
  ["TANF", "spm_units", "spm_unit", "tanf"],
];
const AXIS = { min: 0, max: 200000, count: 41 };
const money = new Intl.NumberFormat("en-US", {
  style: "currency", currency: "USD", maximumFractionDigits: 0,
});

function whole(name, label, { min = 0, max = Infinity } = {}) {
  const value = Number(field(name).value);
  if (!Number.isFinite(value) || value < min || value > max || field(name).value === "") {
    throw new RangeError(`${label} must be a number from ${min} to ${max}`);
  }
  return value;
}

export function householdOf(form) {
  // PolicyEngine's household JSON for the form: one tax unit, family, SPM unit and
  // household holding everyone; a marital unit for the couple and each child.
  const year = String(whole("year", "The year", { min: 2023, max: 2035 }));
  const joint = form.filing_status === "JOINT";
  const people = {
    you: { age: { [year]: form.you_age }, employment_income: { [year]: form.you_income } },
  };
  const maritalUnits = { marital_unit: { members: ["you"] } };
  if (joint) {
    people.spouse = {
      age: { [year]: form.spouse_age }, employment_income: { [year]: form.spouse_income },
    };
    maritalUnits.marital_unit.members.push("spouse");
  }
  form.child_ages.forEach((age, index) => {
    const name = `child_${index + 1}`;
    people[name] = { age: { [year]: age } };
    maritalUnits[`${name}_marital_unit`] = { members: [name] };
  });
  const members = Object.keys(people);
  return {
    people,
    tax_units: { tax_unit: { members, filing_status: { [year]: form.filing_status } } },
    families: { family: { members } },
    spm_units: { spm_unit: { members } },
    marital_units: maritalUnits,
    households: { household: { members, state_code: { [year]: form.state } } },
  };
}

function readForm() {
  const children = Number(field("children").value);
  const childAges = [];
  for (let index = 1; index <= children; index += 1) {
    childAges.push(whole(`child-age-${index}`, `Child ${index}'s age`, { max: 17 }));
  }
  const joint = field("filing-status").value === "JOINT";
  return {
    state: field("state").value,
    filing_status: field("filing-status").value,
    you_age: whole("you-age", "Your age", { min: 18, max: 120 }),
    you_income: whole("you-income", "Your employment income"),
    spouse_age: joint ? whole("spouse-age", "The spouse's age", { min: 18, max: 120 }) : null,
    spouse_income: joint ? whole("spouse-income", "The spouse's employment income") : null,
    child_ages: childAges,
    policy: field("policy").value,
  };
}

function valueOf(answer, [, entity, instance, variable], year) {
  const instances = answer.household[entity] || {};
  if (instance === null) {
    return Object.values(instances).reduce((sum, one) => sum + (one[variable]?.[year] ?? 0), 0);
  }
  return instances[instance]?.[variable]?.[year];
}

async function calculate(household, policyId, extra = {}) {
  const body = { household, ...extra };
  if (policyId) body.policy_id = policyId;
  return api("/api/v1/households/calculate", { method: "POST", body });
}

function showResults(year, baseline, reform) {
  const body = document.querySelector("#household-results tbody");
  body.replaceChildren();
  for (const measure of MEASURES) {
    const row = document.createElement("tr");
    const before = valueOf(baseline, measure, year);
    const after = reform ? valueOf(reform, measure, year) : null;
    const cells = [[measure[0]], [before, "baseline"]];
    if (reform) cells.push([after, "reform"], [after - before, "change"]);
    cells.forEach(([value, policy], index) => {
      const cell = document.createElement(index === 0 ? "th" : "td");
      if (index === 0) {
        cell.scope = "row";
        cell.textContent = value;
      } else {
        cell.textContent = money.format(value);
        // The model's own number, unrounded, for whoever reads the page's markup.
        cell.dataset.value = String(value);
        cell.dataset.policy = policy;
      }
      row.dataset.variable = measure[3];
      row.append(cell);
    });
    body.append(row);
  }
  for (const header of document.querySelectorAll("#household-results [data-reform]")) {
    header.hidden = !reform;
  }
}

async function drawChart(household, year, policyId) {
  const axes = [[{ name: "employment_income", period: year, ...AXIS }]];
  const variables = ["household_net_income"];
  const lines = [];
  const baseline = await calculate({ ...household, axes }, null, { variables });
  lines.push({ name: "Current law", values: baseline.household.households.household.household_net_income[year] });
  if (policyId) {
    const reform = await calculate({ ...household, axes }, policyId, { variables });
    lines.push({ name: "Reform", values: reform.household.households.household.household_net_income[year] });
  }
  const step = (AXIS.max - AXIS.min) / (AXIS.count - 1);
  const earnings = Array.from({ length: AXIS.count }, (_, i) => AXIS.min + i * step);
  const svg = lineChart(earnings, lines, {
    title: "Household net income against your employment income",
    x: "Your employment income", y: "Household net income",
  });
  document.querySelector("#household-chart .chart").replaceChildren(svg);
  svgDownload(field("household-chart-download"), svg);
}

async function submit(event) {
  event.preventDefault();
  const status = field("household-status");
  const error = field("household-error");
  error.textContent = "";
  let form;
  try {
    form = readForm();
  } catch (problem) {
    error.textContent = problem.message;
    return;
  }
  const year = String(Number(field("year").value));
  status.textContent = "Calculating…";
  try {
    const household = householdOf(form);
    const baseline = await calculate(household, null);
    const reform = form.policy ? await calculate(household, form.policy) : null;
    showResults(year, baseline, reform);
    field("household-results").hidden = false;
    status.textContent = "Calculated. Drawing the chart…";
    await drawChart(household, year, form.policy);
    status.textContent = "Calculated.";
  } catch (problem) {
    status.textContent = "";
    error.textContent = described(problem);
  }
}

function childAgeFields() {
  const holder = field("child-ages");
  const wanted = Number(field("children").value);
  const kept = [...holder.querySelectorAll("input")].map((input) => input.value);
  holder.replaceChildren();
  for (let index = 1; index <= wanted; index += 1) {
    const wrapper = document.createElement("div");
    wrapper.className = "field";
    const label = document.createElement("label");
    label.htmlFor = `child-age-${index}`;
    label.textContent = `Child ${index}'s age`;
    const input = document.createElement("input");
    Object.assign(input, { id: `child-age-${index}`, type: "number", min: 0, max: 17, required: true });
    input.value = kept[index - 1] ?? "6";
    wrapper.append(label, input);
    holder.append(wrapper);
  }
}

function spouseFields() {
  const joint = field("filing-status").value === "JOINT";
  for (const element of document.querySelectorAll("[data-spouse]")) element.hidden = !joint;
}

async function loadPolicies() {
  try {
    await listPolicies(field("policy"), "Current law only");
  } catch (problem) {
    field("household-error").textContent = `Policies could not be listed: ${problem.message}`;
  }
}

export function setUpHousehold() {
  const state = field("state");
  for (const code of STATES) state.append(new Option(code, code));
  state.value = "CA";
  field("children").addEventListener("change", childAgeFields);
  field("filing-status").addEventListener("change", spouseFields);
  field("household-form").addEventListener("submit", submit);
  document.addEventListener("fiscus:key", loadPolicies);
  document.addEventListener("fiscus:policies", loadPolicies);
  childAgeFields();
  spouseFields();
}
