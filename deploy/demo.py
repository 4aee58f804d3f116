"""The demo: a society-wide reform simulation through the gateway, end to end.

Creates the bundled synthetic US population, a reform raising the CTC base amount to
$3,000, runs the 2025 simulation, waits for it and prints the impact report.
"""

from __future__ import annotations

import argparse
import os
import time

from fiscus_client import Fiscus, ImpactReport

CTC_REFORM = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3000}}


def money(value: float) -> str:
    sign = "-" if value < 0 else "+"
    magnitude = abs(value)
    for unit, size in (("tn", 1e12), ("bn", 1e9), ("m", 1e6)):
        if magnitude >= size:
            return f"{sign}${magnitude / size:,.2f}{unit}"
    return f"{sign}${magnitude:,.0f}"


def percent(value: float) -> str:
    return f"{value * 100:.2f}%"


def print_report(report: ImpactReport) -> None:
    budget = report.budget
    if budget is not None:
        print("\nBudget (positive = more money to government)")
        for key in (
            "budgetary_impact",
            "tax_revenue_impact",
            "state_tax_revenue_impact",
            "benefit_spending_impact",
        ):
            value = getattr(budget, key)
            if value is not None:
                print(f"  {key.replace('_', ' '):28} {money(value)}")
        if budget.households is not None:
            print(f"  {'households (weighted)':28} {budget.households / 1e6:,.1f} million")
    decile = report.decile
    if decile is not None and (decile.average or decile.relative):
        print("\nChange in household net income by income decile")
        print(f"  {'decile':>6} {'average':>12} {'relative':>10}")
        for key in sorted(decile.average, key=int):
            average = decile.average[key]
            relative = decile.relative.get(key) or 0.0
            if average is not None:
                print(f"  {key:>6} {money(average):>12} {percent(relative):>10}")
    poverty = report.poverty or {}
    for title, name in (("Poverty rate (SPM)", "poverty"), ("Deep poverty rate", "deep_poverty")):
        section = poverty.get(name, {})
        if section:
            print(f"\n{title}")
            print(f"  {'group':8} {'baseline':>10} {'reform':>10} {'change':>10}")
            for group in ("all", "child", "adult", "senior"):
                if group in section:
                    base, reform = section[group].baseline, section[group].reform
                    if base is None or reform is None:
                        continue
                    print(
                        f"  {group:8} {percent(base):>10} {percent(reform):>10}"
                        f" {(reform - base) * 100:>+9.2f}pp"
                    )
    inequality = report.inequality
    if inequality is not None:
        measures = {
            key: values
            for key in ("gini", "top_10_pct_share", "top_1_pct_share")
            if (values := getattr(inequality, key)) is not None
        }
        if measures:
            print("\nInequality")
        for key, values in measures.items():
            print(f"  {key:18} {values.baseline:.4f} -> {values.reform:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gateway", default=os.environ.get("FISCUS_GATEWAY", "http://127.0.0.1:8000")
    )
    parser.add_argument("--households", type=int, default=3000)
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()
    key = os.environ["FISCUS_ADMIN_API_KEY"]
    started = time.monotonic()
    with Fiscus(args.gateway, key) as fiscus:
        dataset = fiscus.create_synthetic_dataset(
            "Synthetic US population", args.households, seed=0, year=args.year
        )
        print(
            f"dataset   {dataset.id}: {dataset.households:,} households, "
            f"{dataset.people:,} people, sha256 {(dataset.sha256 or '')[:12]}…"
        )
        policy = fiscus.create_policy("CTC base amount $3,000", CTC_REFORM)
        print(f"policy    {policy.id}: {policy.name}")
        job = fiscus.simulate(dataset.id, policy.id, args.year)
        status = job.state.status if job.state is not None else "submitted"
        print(f"simulation {job.id}: {status}; waiting…")
        simulation = fiscus.wait_for_simulation(job.id)
        if simulation.status != "completed":
            raise SystemExit(f"simulation {simulation.status}: {simulation.error}")
        report = fiscus.wait_for_report(simulation.id)
    print(f"simulation completed in {time.monotonic() - started:.1f} s (wall clock, this demo)")
    print_report(report.report)
    print(
        f"\nThe page: {args.gateway}/ (sign in with FISCUS_ADMIN_API_KEY, which make keeps "
        "in var/admin-api-key, and its Impact section shows this simulation)"
    )


if __name__ == "__main__":
    main()
