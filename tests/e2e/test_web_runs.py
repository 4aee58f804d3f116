"""The page's runs and impact views in a real browser against the whole stack.

A user builds a reform with the page's reform builder, generates a small synthetic
dataset from the page, runs that reform and a second one on it, follows them by their
Server-Sent Events, reads the impact report of one and then both side by side, and
downloads the results and a chart, then runs a three-year budget window and reads a
later year and the window's budget; every number in the impact tables must equal the
API's report at the place the cell names. A run is cancelled from the
page, a refused request shows the API's message and a file is uploaded as a dataset.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.dataset.domain.synthetic import generate_population
from tests.browser import Page
from tests.population_files import parquet_zip
from tests.reforms import CTC, CTC_REFORM
from tests.stack import RunningStack

pytestmark = pytest.mark.slow

HOUSEHOLDS = 30
YEAR = "2026"
REFORMS = {
    "CTC of $3,000 (page runs)": CTC_REFORM,
    "CTC of $2,500 (page runs)": {CTC: {"2025-01-01.2100-12-31": 2500}},
}
RUN_TIMEOUT_MS = 900_000  # what a run may take on a loaded CI machine
VIEWS = {
    "budget", "programs", "decile-average", "decile-relative", "winners", "poverty",
    "deep-poverty", "poverty-gender", "poverty-race", "inequality", "states", "percentiles",
}  # fmt: skip


@pytest.fixture(scope="module")
def client(stack: RunningStack, user_key: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {user_key}"}
    with httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=120) as opened:
        yield opened


@pytest.fixture(scope="module")
def page(browser: Any, stack: RunningStack, user_key: str) -> Page:
    """One tab for the module: the tests follow one user's session, in order."""
    opened = Page(browser, stack)
    opened.enter_key(user_key)
    return opened


@pytest.fixture(scope="module")
def policies(page: Page, client: httpx.Client) -> dict[str, str]:
    """The first reform built and saved with the page's reform builder, the second
    stored through the API: name → policy id."""
    from playwright.sync_api import expect

    (built, stored), (other, data) = REFORMS.items()
    tab = page.tab
    page.section("Reform builder", "reform")
    tab.get_by_label("Search parameters", exact=True).fill("ctc.amount.base")
    tab.keyboard.press("Enter")
    tab.locator(f"#parameter-results button[data-parameter='{CTC}']").click()
    tab.wait_for_selector("#parameter-detail:not([hidden])")
    ((period, value),) = stored[CTC].items()
    tab.get_by_label("From", exact=True).fill(period.split(".")[0])
    tab.get_by_label("Value (a number, true or false)", exact=True).fill(str(value))
    tab.get_by_role("button", name="Add to the reform").click()
    tab.get_by_label("Name", exact=True).fill(built)
    tab.get_by_role("button", name="Save the policy").click()
    expect(tab.locator("#save-status")).to_contain_text("Saved as")
    found = {built: str(tab.get_attribute("#save-status", "data-policy-id"))}
    assert client.get(f"/api/v1/policies/{found[built]}").json()["data"] == stored
    answer = client.post("/api/v1/policies", json={"name": other, "data": data})
    assert answer.status_code in (200, 201), answer.text
    found[other] = answer.json()["id"]
    return found


@pytest.fixture(scope="module")
def runs(page: Page, policies: dict[str, str]) -> dict[str, str]:
    """A small dataset generated from the page and both reforms run on it: policy name →
    simulation id."""
    from playwright.sync_api import expect

    tab = page.tab
    page.section("Run a simulation", "run")
    tab.locator("#dataset-tools summary").click()
    tab.get_by_label("Dataset name", exact=True).fill("Page population")
    tab.get_by_label("Households", exact=True).fill(str(HOUSEHOLDS))
    tab.get_by_label("Seed", exact=True).fill("101")
    tab.get_by_label("Dataset year", exact=True).fill(YEAR)
    tab.get_by_role("button", name="Generate").click()
    expect(tab.locator("#dataset-status")).to_contain_text("Registered", timeout=120_000)
    simulations = {}
    for name, policy_id in policies.items():
        fill_run(page, policy_id)
        simulations[name] = submit(page)
    assert len(set(simulations.values())) == len(REFORMS)
    for simulation in simulations.values():
        row = tab.locator(f"#runs tr[data-simulation='{simulation}']")
        expect(row).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    return simulations


def fill_run(page: Page, policy_id: str, last_year: str = "") -> None:
    """The run form: this reform on the chosen dataset from YEAR, to `last_year` if given."""
    page.tab.get_by_label("Reform", exact=True).select_option(policy_id)
    page.tab.get_by_label("Year (the first, for a budget window)").fill(YEAR)
    page.tab.get_by_label("Last year of a budget window (empty: one year)").fill(last_year)


def submit(page: Page) -> str:
    """Presses Run and answers the id of the simulation the page submitted."""
    from playwright.sync_api import expect

    status = page.tab.locator("#runs-status")
    before = status.get_attribute("data-simulation") or ""
    page.tab.get_by_role("button", name="Run", exact=True).click()
    expect(status).to_have_attribute("data-simulation", re.compile(f"^(?!{before}$).+"))
    return str(status.get_attribute("data-simulation"))


def at(answer: Any, path: list[Any]) -> Any:
    for key in path:
        answer = answer[key]
    return answer


def shown_cells(page: Page) -> list[dict[str, Any]]:
    return list(
        page.tab.eval_on_selector_all(
            "#impact-views td[data-path]",
            """cells => cells.map(c => ({value: c.dataset.value, path: JSON.parse(c.dataset.path),
                minus: c.dataset.minus ? JSON.parse(c.dataset.minus) : null,
                simulation: c.dataset.simulation, text: c.textContent}))""",
        )
    )


def assert_cells_equal_reports(page: Page, client: httpx.Client, simulations: set[str]) -> int:
    """Every number in the impact tables is the report's, at the place its cell names."""
    reports = {
        simulation: client.get(f"/api/v1/simulations/{simulation}/report").json()
        for simulation in simulations
    }
    cells = shown_cells(page)
    assert {cell["simulation"] for cell in cells} == simulations
    for cell in cells:
        expected = at(reports[cell["simulation"]], cell["path"])
        if cell["minus"] is not None:
            expected = expected - at(reports[cell["simulation"]], cell["minus"])
        shown = None if cell["value"] == "" else float(cell["value"])
        assert shown == expected, cell
        assert (cell["text"] == "—") == (shown is None), cell
    return len(cells)


def test_runs_are_followed_by_their_events_to_the_end(
    page: Page, runs: dict[str, str], client: httpx.Client
) -> None:
    for simulation in runs.values():
        assert ("GET", f"/api/v1/simulations/{simulation}/events", None) in page.calls
        bar = page.tab.locator(f"#progress-{simulation}")
        answer = client.get(f"/api/v1/simulations/{simulation}").json()
        progress = answer["progress"]
        assert progress["households_total"] == HOUSEHOLDS
        assert bar.get_attribute("data-partitions-done") == str(progress["partitions_total"])
        assert bar.get_attribute("data-households-done") == str(HOUSEHOLDS)
        text = page.tab.inner_text(f"#runs tr[data-simulation='{simulation}'] .progress-text")
        assert f"{HOUSEHOLDS} of {HOUSEHOLDS} households" in text
    (body, *_) = page.bodies("/api/v1/simulations")
    assert body["year"] == int(YEAR) and body["region"] == "us"
    assert page.violations() == []
    page.screenshot("run")
    assert page.fits(375)
    page.tab.set_viewport_size({"width": 1280, "height": 900})


def test_the_impact_of_one_run_shows_the_apis_report(
    page: Page, runs: dict[str, str], client: httpx.Client, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    tab = page.tab
    simulation = runs["CTC of $3,000 (page runs)"]
    tab.locator(f"#runs tr[data-simulation='{simulation}']").get_by_role(
        "button", name="Show the impact"
    ).click()
    expect(tab.locator("#impact-status")).to_contain_text("The impact of", timeout=120_000)
    figures = set(tab.eval_on_selector_all("#impact-views figure", "fs => fs.map(f => f.id)"))
    expected = {f"view-{view}" for view in VIEWS | {"winners-by-decile", "histogram"}}
    assert expected <= figures
    assert assert_cells_equal_reports(page, client, {simulation}) > 150
    assert tab.locator("#view-budget svg rect[fill='#2C6496']").count() >= 1
    budget = tab.inner_text("#view-budget tbody tr:first-child td")
    assert budget.startswith(("$", "-$"))

    # The results, as the API streams them, checked by the page against their SHA-256.
    with tab.expect_download() as started:
        name = f"Download the results of CTC of $3,000 (page runs), {YEAR} (Parquet)"
        tab.get_by_role("button", name=name).click()
    saved = tmp_path / "results.parquet"
    started.value.save_as(saved)
    direct = client.get(f"/api/v1/simulations/{simulation}/results", params={"year": YEAR})
    assert saved.read_bytes() == direct.content
    assert hashlib.sha256(direct.content).hexdigest() == direct.headers["x-content-sha256"]
    expect(tab.locator("#impact-status")).to_contain_text("SHA-256 checked")
    with tab.expect_download() as started:
        tab.get_by_role("link", name="Download the chart “Budget impact” (SVG)").click()
    chart = tmp_path / "budget.svg"
    started.value.save_as(chart)
    drawn = chart.read_text()
    assert drawn.startswith("<svg") and "<title>Budget impact</title>" in drawn
    assert page.violations() == []
    page.screenshot("impact")
    assert page.fits(375)
    page.screenshot("impact-phone")
    page.tab.set_viewport_size({"width": 1280, "height": 900})


def test_two_reforms_side_by_side(page: Page, runs: dict[str, str], client: httpx.Client) -> None:
    from playwright.sync_api import expect

    tab = page.tab
    page.section("Impact", "impact")
    dataset = client.get(f"/api/v1/simulations/{runs['CTC of $3,000 (page runs)']}").json()
    tab.get_by_label("Dataset of the simulations", exact=True).select_option(dataset["dataset_id"])
    for name in runs:
        tab.get_by_label(f"{name} against current law, US, {YEAR}", exact=True).check()
    tab.get_by_label("Year shown", exact=True).select_option(YEAR)
    tab.get_by_role("button", name="Show the impact").click()
    expect(tab.locator("#impact-status")).to_contain_text(" in 2026.")
    headers = tab.eval_on_selector_all(
        "#view-budget thead th", "ths => ths.map(th => th.textContent)"
    )
    assert headers[0] == "Measure" and sorted(headers[1:]) == sorted(runs)
    assert assert_cells_equal_reports(page, client, set(runs.values())) > 150
    # Charts of several reforms carry a legend naming each.
    legend = tab.text_content("#view-decile-average svg") or ""
    assert all(name[:27] in legend for name in runs)
    assert page.violations() == []
    page.screenshot("compare")


def test_a_budget_window_shows_each_year_and_the_window(
    page: Page, runs: dict[str, str], client: httpx.Client, policies: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    tab = page.tab
    page.section("Run a simulation", "run")
    fill_run(page, policies["CTC of $3,000 (page runs)"], "2028")
    simulation = submit(page)
    assert page.bodies("/api/v1/simulations")[-1]["years"] == [2026, 2027, 2028]
    row = tab.locator(f"#runs tr[data-simulation='{simulation}']")
    expect(row).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    assert page.tab.get_attribute(f"#progress-{simulation}", "data-partitions-total") == "3"
    row.get_by_role("button", name="Show the impact").click()
    # The run alone (the two compared before are no longer chosen), in its first year.
    expect(tab.locator("#impact-status")).to_have_text(
        f"The impact of CTC of $3,000 (page runs) in {YEAR}.", timeout=120_000
    )
    tab.get_by_label("Year shown", exact=True).select_option("2027")
    tab.get_by_role("button", name="Show the impact").click()
    expect(tab.locator("#impact-status")).to_contain_text("in 2027.")
    assert tab.locator("#view-window tbody tr").count() == 4  # three years and the total
    assert assert_cells_equal_reports(page, client, {simulation}) > 150
    paths = [cell["path"][:2] for cell in shown_cells(page)]
    assert ["budget_window", "total"] in paths and ["reports_by_year", "2027"] in paths
    assert ["report", "budget"] not in paths
    page.screenshot("window")


def test_a_run_is_cancelled_a_refusal_shown_and_a_file_uploaded(
    page: Page, runs: dict[str, str], client: httpx.Client, policies: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    tab = page.tab
    page.section("Run a simulation", "run")
    # A last year before the first: the API's refusal, with the field it names.
    fill_run(page, policies["CTC of $2,500 (page runs)"], "2025")
    tab.get_by_role("button", name="Run", exact=True).click()
    expect(tab.locator("#run-error")).to_contain_text("years")
    refused = client.post("/api/v1/simulations", json=page.bodies("/api/v1/simulations")[-1])
    assert refused.status_code == 422
    for error in refused.json()["errors"]:
        expect(tab.locator("#run-error")).to_contain_text(error["message"])

    # A three-year window, cancelled as soon as it shows.
    tab.get_by_label("Last year of a budget window (empty: one year)").fill("2028")
    simulation = submit(page)
    row = tab.locator(f"#runs tr[data-simulation='{simulation}']")
    assert simulation not in runs.values()
    assert page.bodies("/api/v1/simulations")[-1]["years"] == [2026, 2027, 2028]
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_attribute("data-status", "cancelled", timeout=60_000)
    assert client.get(f"/api/v1/simulations/{simulation}").json()["status"] == "cancelled"
    expect(row.get_by_role("button", name="Cancel")).to_be_hidden()

    # An uploaded population: registered, then offered as the dataset to run.
    population = parquet_zip(generate_population(12, seed=3, year=int(YEAR)))
    tab.set_input_files(
        "#upload-file",
        files=[{"name": "population.zip", "mimeType": "application/zip", "buffer": population}],
    )
    tab.get_by_label("Uploaded dataset's name", exact=True).fill("Uploaded on the page")
    tab.get_by_role("button", name="Upload", exact=True).click()
    expect(tab.locator("#dataset-status")).to_contain_text("Registered “Uploaded on the page”")
    chosen = tab.get_by_label("Dataset", exact=True).input_value()
    dataset = client.get(f"/api/v1/datasets/{chosen}").json()
    assert dataset["name"] == "Uploaded on the page" and dataset["households"] == 12
    assert [e for e in page.errors if "422" not in e] == []
