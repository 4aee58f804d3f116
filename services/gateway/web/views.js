// The impact report's views. Each view turns the report answers of one to four
// simulations (GET /api/v1/simulations/{id}/report) into a matrix: categories (rows) by
// series (columns: the simulations, or a report's own groups). A cell keeps where its
// number comes from in the answer (`path`, and `minus` for a change computed from two
// numbers), so the page shows the API's numbers and nothing else.

const BUDGET = [
  ["budgetary_impact", "Budgetary impact"],
  ["tax_revenue_impact", "Tax revenue"],
  ["state_tax_revenue_impact", "State income tax revenue"],
  ["benefit_spending_impact", "Benefit spending"],
];
const PROGRAMS = {
  income_tax: "Federal income tax", employee_payroll_tax: "Employee payroll tax",
  state_income_tax: "State income tax", eitc: "Earned income tax credit", ctc: "Child tax credit",
  snap: "SNAP", ssi: "SSI", social_security: "Social Security", tanf: "TANF", wic: "WIC",
};
const AGES = [["all", "Everyone"], ["child", "Children (under 18)"], ["adult", "Adults (18–64)"], ["senior", "Seniors (65 and over)"]];
const GENDERS = [["male", "Men and boys"], ["female", "Women and girls"]];
const RACES = [["white", "White"], ["black", "Black"], ["hispanic", "Hispanic"], ["other", "Other"]];
const INEQUALITY = [["gini", "Gini index"], ["top_10_pct_share", "Top 10% share of income"], ["top_1_pct_share", "Top 1% share of income"]];
export const BUCKETS = ["Lose more than 5%", "Lose less than 5%", "No change", "Gain less than 5%", "Gain more than 5%"];

export function at(answer, path) {
  // The value at `path` (keys and indices) in `answer`; undefined where there is none.
  return path.reduce((node, key) => (node === null || node === undefined ? undefined : node[key]), answer);
}

function plain(answer, path) {
  // A cell showing one number of the answer.
  const value = at(answer, path);
  return { value: value ?? null, path };
}

function change(answer, base, leaf) {
  // A cell for reform − baseline of `leaf`, keeping both numbers for the table.
  const baseline = at(answer, [...base, ...leaf, "baseline"]);
  const reform = at(answer, [...base, ...leaf, "reform"]);
  const known = typeof baseline === "number" && typeof reform === "number";
  return {
    value: known ? reform - baseline : null,
    path: [...base, ...leaf, "reform"],
    minus: [...base, ...leaf, "baseline"],
    baseline: { value: baseline ?? null, path: [...base, ...leaf, "baseline"] },
    reform: { value: reform ?? null, path: [...base, ...leaf, "reform"] },
  };
}

function matrix(id, title, unit, categories, series, cellOf, note = "", rows = "Measure") {
  return {
    id, title, unit, note, rows, categories: categories.map(([, label]) => label), series,
    cells: categories.map(([key]) => series.map((one) => cellOf(key, one))),
  };
}

function bySimulation(chosen, title, unit, categories, cellOf, note) {
  // One series per simulation; cellOf(key, answer, base) gives the cell.
  const series = chosen.map((one) => ({ name: one.label, simulation: one.id, one }));
  return matrix(title.id, title.text, unit, categories, series,
    (key, { one }) => cellOf(key, one.answer, one.base), note, title.rows);
}

function union(chosen, keysOf) {
  const keys = [];
  for (const one of chosen) {
    for (const key of keysOf(one) || []) if (!keys.includes(key)) keys.push(key);
  }
  return keys;
}

function numeric(a, b) {
  return Number(a) - Number(b);
}

function budgetWindow(chosen) {
  if (!chosen.some((one) => one.answer.budget_window)) return null;
  const years = union(chosen, (one) => one.answer.budget_window?.years.map((y) => String(y.year))).sort(numeric);
  const categories = [...years.map((year) => [year, year]), ["total", "Window total"]];
  return bySimulation(chosen, { id: "window", text: "Budgetary impact by year", rows: "Year" }, "money", categories,
    (key, answer) => {
      if (key === "total") return plain(answer, ["budget_window", "total", "budgetary_impact"]);
      const index = (answer.budget_window?.years || []).findIndex((y) => String(y.year) === key);
      return index < 0 ? { value: null } : plain(answer, ["budget_window", "years", index, "budgetary_impact"]);
    });
}

function winnersByDecile(one) {
  // One simulation's winners and losers per decile: a series per change bucket.
  const base = [...one.base, "intra_decile", "deciles"];
  const deciles = Array.from({ length: 10 }, (_, i) => [i, String(i + 1)]);
  const series = BUCKETS.map((bucket) => ({ name: bucket, bucket }));
  return matrix("winners-by-decile", "Winners and losers by income decile (share of people)", "share",
    deciles, series, (index, { bucket }) => plain(one.answer, [...base, bucket, index]), "", "Decile");
}

function histogram(one) {
  const found = at(one.answer, [...one.base, "distribution", "histogram"]);
  if (!found) return null;
  const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  const categories = found.households.map((_, i) => [i, `${money.format(found.edges[i])} to ${money.format(found.edges[i + 1])}`]);
  const base = [...one.base, "distribution", "histogram"];
  const view = matrix("histogram", "Households by change in net income (1st to 99th percentile)", "households",
    categories, [{ name: "Households", simulation: one.id }], (i) => plain(one.answer, [...base, "households", i]),
    "", "Change in net income");
  view.note = `Outside the range: ${Math.round(found.below).toLocaleString("en-US")} households below, ${Math.round(found.above).toLocaleString("en-US")} above.`;
  return view;
}

export function viewsOf(chosen) {
  // chosen: [{id, label, answer (the report answer), base (path of the year's report)}].
  const views = [];
  const add = (view) => view && views.push(view);
  const single = chosen.length === 1 ? chosen[0] : null;
  add(bySimulation(chosen, { id: "budget", text: "Budget impact" }, "money", BUDGET,
    (key, answer, base) => plain(answer, [...base, "budget", key]),
    "The budgetary impact is the change in tax revenue less the change in benefit spending."));
  const programs = union(chosen, (one) => Object.keys(at(one.answer, [...one.base, "detailed_budget"]) || {}));
  add(bySimulation(chosen, { id: "programs", text: "Budget impact by program (reform less baseline)", rows: "Program" }, "money",
    programs.map((key) => [key, PROGRAMS[key] || key]),
    (key, answer, base) => {
      // The stored difference, with the two totals it is the difference of.
      const { baseline, reform } = change(answer, base, ["detailed_budget", key]);
      return { ...plain(answer, [...base, "detailed_budget", key, "difference"]), baseline, reform };
    }));
  add(budgetWindow(chosen));
  const deciles = union(chosen, (one) => Object.keys(at(one.answer, [...one.base, "decile", "average"]) || {}))
    .sort(numeric).map((d) => [d, `Decile ${d}`]);
  add(bySimulation(chosen, { id: "decile-average", text: "Average change in household net income by income decile", rows: "Decile" },
    "money", deciles, (key, answer, base) => plain(answer, [...base, "decile", "average", key])));
  add(bySimulation(chosen, { id: "decile-relative", text: "Relative change in household net income by income decile", rows: "Decile" },
    "percent", deciles, (key, answer, base) => plain(answer, [...base, "decile", "relative", key])));
  add(bySimulation(chosen, { id: "winners", text: "Winners and losers (share of people)", rows: "Change in net income" }, "share",
    BUCKETS.map((b) => [b, b]), (key, answer, base) => plain(answer, [...base, "intra_decile", "all", key]),
    "The plain mean of the ten deciles' shares, as PolicyEngine reports it."));
  if (single) add(winnersByDecile(single));
  for (const [kind, text] of [["poverty", "Poverty rate by age (SPM)"], ["deep_poverty", "Deep poverty rate by age (SPM)"]]) {
    add(bySimulation(chosen, { id: kind.replace("_", "-"), text, rows: "Age" }, "rate", AGES,
      (key, answer, base) => change(answer, base, ["poverty", kind, key])));
  }
  add(bySimulation(chosen, { id: "poverty-gender", text: "Poverty rate by gender (SPM)", rows: "Gender" }, "rate",
    GENDERS, (key, answer, base) => change(answer, base, ["poverty_by_gender", "poverty", key])));
  if (chosen.every((one) => at(one.answer, [...one.base, "poverty_by_race"]))) {
    add(bySimulation(chosen, { id: "poverty-race", text: "Poverty rate by race (SPM)", rows: "Race" }, "rate",
      RACES, (key, answer, base) => change(answer, base, ["poverty_by_race", "poverty", key])));
  }
  add(bySimulation(chosen, { id: "inequality", text: "Inequality" }, "index", INEQUALITY,
    (key, answer, base) => change(answer, base, ["inequality", key])));
  const states = union(chosen, (one) => Object.keys(at(one.answer, [...one.base, "state_impact"]) || {})).sort();
  add(bySimulation(chosen, { id: "states", text: "Average change in household net income by state", rows: "State" }, "money",
    states.map((s) => [s, s]),
    (key, answer, base) => plain(answer, [...base, "state_impact", key, "average_household_net_income_change"])));
  const percentiles = union(chosen, (one) => Object.keys(at(one.answer, [...one.base, "distribution", "percentiles"]) || {}))
    .sort(numeric).map((q) => [q, `${q}th percentile`]);
  add(bySimulation(chosen, { id: "percentiles", text: "Change in household net income at percentiles of households", rows: "Percentile" },
    "money", percentiles, (key, answer, base) => plain(answer, [...base, "distribution", "percentiles", key])));
  if (single) add(histogram(single));
  return views;
}
