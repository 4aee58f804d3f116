"""The page (services/gateway/web) in a real browser: Debian's Chromium driven by
Playwright against the whole stack.

What a user sees must be what the API answers: the household calculator's numbers are
compared with `POST /api/v1/households/calculate` replayed with the very body the page
sent. The page must pass axe-core's checks, work by keyboard and at phone width, keep
the key out of addresses and logs, and load under its strict Content-Security-Policy
with no violation. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.browser import ROOT, Page
from tests.reforms import CTC_REFORM
from tests.stack import RunningStack

pytestmark = pytest.mark.slow

CALCULATE = "/api/v1/households/calculate"
WEB = ROOT / "services" / "gateway" / "web"


@pytest.fixture(scope="module")
def policy(stack: RunningStack, user_key: str) -> dict[str, Any]:
    stored = httpx.post(
        f"{stack.gateway_url}/api/v1/policies",
        json={"name": "CTC of $3,000 (web page)", "data": CTC_REFORM},
        headers={"Authorization": f"Bearer {user_key}"},
    )
    assert stored.status_code in (200, 201), stored.text
    found: dict[str, Any] = stored.json()
    return found


def test_the_page_is_served_small_and_under_a_strict_policy(stack: RunningStack) -> None:
    with httpx.Client(base_url=stack.gateway_url) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe" not in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        assets = sorted(path.name for path in WEB.iterdir() if path.name != "index.html")
        assert {"app.js", "run.js", "impact.js", "app.css"} <= set(assets)
        sizes = [len(page.content)]
        for name in assets:
            answer = client.get(f"/web/{name}")
            assert answer.status_code == 200, name
            assert answer.headers["content-security-policy"] == policy
            sizes.append(len(answer.content))
        assert sum(sizes) < 200_000
        for missing in ("/web/nothing.js", "/web/..%2Fapi%2Fweb.py", "/web/index.html"):
            refused = client.get(missing)
            assert refused.status_code == 404, missing
            assert refused.headers["content-type"].startswith("application/problem+json")


def test_a_wrong_key_is_refused_and_the_right_one_kept_for_the_tab(
    stack: RunningStack, browser: Any, user_key: str
) -> None:
    page = Page(browser, stack)
    assert page.violations() == []
    page.screenshot("key")
    page.tab.get_by_label("API key", exact=True).fill("fk_not_a_key")
    page.tab.get_by_role("button", name="Continue").click()
    page.tab.wait_for_selector("#key-error:has-text('does not know')")
    assert page.tab.is_hidden("#household")

    page.enter_key(user_key)
    assert user_key not in page.tab.url
    stored = page.tab.evaluate("sessionStorage.getItem('fiscus.apiKey')")
    assert stored == user_key
    assert page.tab.evaluate("localStorage.length") == 0
    page.tab.reload()
    page.tab.wait_for_selector("#household:not([hidden])")
    page.tab.get_by_role("button", name="Forget the API key").click()
    assert page.tab.is_visible("#key-section")
    assert page.tab.evaluate("sessionStorage.getItem('fiscus.apiKey')") is None
    assert page.errors == [] or all("401" in e for e in page.errors), page.errors
    assert user_key not in stack.log("gateway")


def test_the_household_calculator_shows_what_the_api_answers(
    stack: RunningStack, browser: Any, user_key: str, policy: dict[str, Any]
) -> None:
    page = Page(browser, stack)
    page.enter_key(user_key)
    tab = page.tab
    tab.wait_for_selector(f"#policy option[value='{policy['id']}']", state="attached")
    tab.get_by_label("State", exact=True).select_option("TX")
    tab.get_by_label("Filing status", exact=True).select_option("JOINT")
    tab.get_by_label("Your employment income ($ a year)", exact=True).fill("40000")
    tab.get_by_label("Spouse's age", exact=True).fill("33")
    tab.get_by_label("Spouse's employment income ($ a year)", exact=True).fill("12000")
    tab.get_by_label("Number of children", exact=True).select_option("2")
    tab.get_by_label("Child 1's age", exact=True).fill("4")
    tab.get_by_label("Child 2's age", exact=True).fill("9")
    tab.get_by_label("Compare current law with", exact=True).select_option(policy["id"])
    # By keyboard: focus the button and press Enter.
    tab.get_by_role("button", name="Calculate").focus()
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#household-status:text-is('Calculated.')", timeout=120_000)
    assert page.errors == []

    # The page's first two calls: current law, then the reform, for the household asked.
    baseline_body, reform_body = page.bodies(CALCULATE)[:2]
    household = baseline_body["household"]
    assert reform_body == {"household": household, "policy_id": policy["id"]}
    assert household["tax_units"]["tax_unit"]["filing_status"] == {"2026": "JOINT"}
    assert household["households"]["household"]["state_code"] == {"2026": "TX"}
    assert len(household["people"]) == 4
    headers = {"Authorization": f"Bearer {user_key}"}
    with httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=60) as client:
        answers = {
            "baseline": client.post(CALCULATE, json=baseline_body).json()["household"],
            "reform": client.post(CALCULATE, json=reform_body).json()["household"],
        }
    rows = tab.eval_on_selector_all(
        "#household-results tbody tr",
        """rows => rows.map(row => ({variable: row.dataset.variable,
            cells: [...row.querySelectorAll('td')].map(c => ({policy: c.dataset.policy,
            value: Number(c.dataset.value), text: c.textContent}))}))""",
    )
    assert len(rows) >= 10
    for row in rows:
        variable = row["variable"]
        shown = {cell["policy"]: cell for cell in row["cells"]}
        for policy_name in ("baseline", "reform"):
            expected = value_of(answers[policy_name], variable)
            assert shown[policy_name]["value"] == expected, (variable, policy_name)
        assert shown["baseline"]["text"].startswith(("$", "-$")), shown
    ctc = next(row for row in rows if row["variable"] == "ctc")
    change = next(cell for cell in ctc["cells"] if cell["policy"] == "change")
    assert change["value"] > 0  # the reform raises the child tax credit

    # The chart: net income along the first adult's earnings, one line per policy.
    lines = tab.eval_on_selector_all(
        "#household-chart polyline", "lines => lines.map(l => l.getAttribute('points'))"
    )
    assert len(lines) == 2 and all(len(points.split()) == 41 for points in lines)
    axis_body = page.bodies(CALCULATE)[2]
    assert axis_body["household"]["axes"][0][0]["name"] == "employment_income"
    assert tab.get_attribute("#household-chart-download", "href").startswith("blob:")
    assert page.violations() == []
    page.screenshot("household")

    assert page.fits(375)
    page.screenshot("household-phone")


def value_of(household: dict[str, Any], variable: str) -> Any:
    """`variable`'s 2026 value in the household: its one group instance's, or the sum over
    the people for a person's variable (as the page shows it)."""
    found = {
        plural: [
            instance[variable]["2026"]
            for instance in instances.values()
            if isinstance(instance, dict) and "2026" in instance.get(variable, {})
        ]
        for plural, instances in household.items()
        if isinstance(instances, dict)
    }
    if found.get("people"):
        return sum(found["people"])
    (value,) = [value for values in found.values() for value in values]
    return value


CTC_BASE = "gov.irs.credits.ctc.amount.base[0].amount"


def test_the_reform_builder_saves_the_reform_it_shows(
    stack: RunningStack, browser: Any, user_key: str
) -> None:
    page = Page(browser, stack)
    page.enter_key(user_key)
    tab = page.tab
    from playwright.sync_api import expect

    tab.get_by_role("link", name="Reform builder").click()
    tab.wait_for_selector("#reform:not([hidden])")
    tab.get_by_label("Search parameters", exact=True).fill("ctc.amount.base")
    tab.keyboard.press("Enter")
    tab.locator(f"#parameter-results button[data-parameter='{CTC_BASE}']").click()
    tab.wait_for_selector("#parameter-detail:not([hidden])")
    headers = {"Authorization": f"Bearer {user_key}"}
    client = httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=60)
    detail = client.get(f"/api/v1/parameters/{CTC_BASE}").json()
    shown = tab.eval_on_selector_all(
        "#parameter-values tbody tr", "rows => rows.map(r => r.innerText.split('\\t'))"
    )
    assert [[start, json.loads(value)] for start, value in shown] == [
        [v["start"], v["value"]] for v in detail["values"]
    ]
    assert tab.inner_text("#parameter-label") == detail["label"]

    # A good change, then one the API refuses: its message shows beside that change.
    tab.get_by_label("From", exact=True).fill("2026-01-01")
    tab.get_by_label("Value (a number, true or false)", exact=True).fill("3,500")
    tab.get_by_role("button", name="Add to the reform").click()
    tab.get_by_label("From", exact=True).fill("2027-01-01")
    tab.get_by_label("Value (a number, true or false)", exact=True).fill("lots")
    tab.get_by_role("button", name="Add to the reform").click()
    tab.get_by_label("Name", exact=True).fill("CTC of $3,500 (reform builder)")
    tab.get_by_role("button", name="Save the policy").click()
    tab.wait_for_selector("#reform-changes li[data-refused]")
    bad = {CTC_BASE: {"2026-01-01.2100-12-31": 3500, "2027-01-01.2100-12-31": "lots"}}
    refused = client.post("/api/v1/policies", json={"name": "x", "data": bad})
    assert refused.status_code == 422
    (message,) = [e["message"] for e in refused.json()["errors"] if "2027" in e["field"]]
    refusal = tab.inner_text("#reform-changes li[data-refused] .error")
    assert refusal == message
    assert tab.locator("#reform-changes li[data-refused]").count() == 1

    tab.get_by_role("button", name=f"Remove {CTC_BASE} for 2027-01-01.2100-12-31").click()
    shown_json = json.loads(tab.text_content("#reform-json") or "")
    assert shown_json == {CTC_BASE: {"2026-01-01.2100-12-31": 3500}}
    tab.get_by_role("button", name="Save the policy").click()
    tab.wait_for_selector("#save-status:has-text('Saved as')")
    policy_id = tab.get_attribute("#save-status", "data-policy-id")
    stored = client.get(f"/api/v1/policies/{policy_id}").json()
    assert stored["data"] == shown_json
    assert stored["name"] == "CTC of $3,500 (reform builder)"
    assert page.violations() == []
    page.screenshot("reform")

    # An existing policy opens as a copy: the same reform, saved under a new name.
    tab.wait_for_selector(f"#open-policy option[value='{policy_id}']", state="attached")
    tab.get_by_label("Start from a copy of", exact=True).select_option(policy_id)
    tab.get_by_role("button", name="Open a copy").click()
    # (Playwright's expect, not wait_for_function: the page's policy forbids eval.)
    expect(tab.get_by_label("Name", exact=True)).to_have_value(
        "Copy of CTC of $3,500 (reform builder)"
    )
    assert json.loads(tab.text_content("#reform-json") or "") == shown_json
    assert page.fits(375)
    # The browser logs the refused save's answer; nothing else went wrong.
    assert [e for e in page.errors if "422" not in e] == []
    client.close()
