"""Benchmark: a society-wide simulation on Fiscus's engine against policyengine-us by hand.

Every arm computes the same results (every variable of contracts.results.v1, baseline
and reform) on the same synthetic population, in one process:

- direct: what a user does by hand: two `Microsimulation`s (baseline, CTC reform), the
  reform's tax-benefit system built for the run;
- fiscus full: the engine calculating every variable of both arms (its behaviour
  before reduced reform arms), the reform's system built in full;
- fiscus new dataset: a worker's first run of a new policy on a new dataset: a
  parametric system, the baseline calculated (and kept), the reform arm reduced to
  what the reform changes;
- fiscus dataset seen: another new policy on the same dataset: the baseline's values
  come from the worker's memory;
- fiscus new worker: a third policy on a worker that has just started: the baseline
  comes from object storage.

Prints times, ratios against direct and peak memory. Run: `make bench`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contracts.results.v1 import HOUSEHOLD_VARIABLES, PERSON_VARIABLES, POLICIES  # noqa: E402
from services.dataset.domain.synthetic import generate_population  # noqa: E402
from shared.population import (  # noqa: E402
    ENTITIES,
    read_population,
    to_parquet_bytes,
    write_population,
)
from tests.direct_policyengine import calculated, direct_simulations  # noqa: E402

Reform = dict[str, dict[str, Any]]
CTC: Reform = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3000}}
RATE: Reform = {"gov.irs.income.bracket.rates.2": {"2025-01-01.2100-12-31": 0.15}}
SNAP: Reform = {"gov.usda.snap.income.deductions.earned_income": {"2025-01-01.2100-12-31": 0.3}}


def direct_run(population: Any, year: int, reform: Reform) -> float:
    """Seconds of what a user does by hand: two `Microsimulation`s, every result column."""
    started = time.perf_counter()
    direct = direct_simulations(population, year, reform)
    for policy in POLICIES:
        for variable in HOUSEHOLD_VARIABLES:
            calculated(direct[policy], variable, year, map_to="household")
        for variable in PERSON_VARIABLES:
            calculated(direct[policy], variable, year, map_to="person")
    return time.perf_counter() - started


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        generated = generate_population(args.households, seed=0, year=args.year)
        root = f"file://{folder}/population"
        write_population(root, {e: to_parquet_bytes(generated[e]) for e in ENTITIES})
        population = read_population(root)

    started = time.perf_counter()
    import policyengine_us  # noqa: F401

    imported = time.perf_counter() - started
    print(f"households {args.households}, people {len(population['person'])}, year {args.year}")
    print(f"import policyengine_us: {imported:.1f} s (paid once per process by both)")

    direct_seconds = direct_run(population, args.year, CTC)
    print(f"direct policyengine-us:   {direct_seconds:7.1f} s")

    from services.simulation.adapters.baselines import StoredBaselines
    from services.simulation.domain.baselines import baseline_key
    from services.simulation.domain.engine import PopulationEngine

    full = PopulationEngine(reduce_reform_arm=False, parametric_systems=False)
    started = time.perf_counter()
    full.warm(args.year)
    print(f"fiscus worker warm-up:    {time.perf_counter() - started:7.1f} s (once per worker)")

    def report(arm: str, seconds: float, note: str) -> None:
        ratio = direct_seconds / seconds
        print(f"fiscus {arm:<18} {seconds:7.1f} s   {ratio:6.2f}x direct   {note}")

    started = time.perf_counter()
    full.run(population, args.year, CTC)
    report("full", time.perf_counter() - started, "every variable, system built")
    del full

    with tempfile.TemporaryDirectory() as folder:
        store = StoredBaselines(f"file://{folder}", 2**30)
        engine = PopulationEngine(baseline_store=store)
        key = baseline_key("benchmark", args.year, "all", "current-law", engine.model_version)
        for arm, reform in (("new dataset", CTC), ("dataset seen", RATE)):
            started = time.perf_counter()
            results = engine.run(population, args.year, reform, baseline_key=key)
            note = f"baseline {results.baseline_source}, reform arm {results.reform_arm.path}"
            report(arm, time.perf_counter() - started, note)
        restarted = PopulationEngine(baseline_store=StoredBaselines(f"file://{folder}", 2**30))
        started = time.perf_counter()
        results = restarted.run(population, args.year, SNAP, baseline_key=key)
        note = f"baseline {results.baseline_source}, reform arm {results.reform_arm.path}"
        report("new worker", time.perf_counter() - started, note)
    print(f"peak RSS: {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
