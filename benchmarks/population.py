"""Benchmark: a society-wide simulation on Fiscus's engine against policyengine-us by hand.

Both arms compute the same results (every variable of contracts.results.v1, baseline
and CTC reform) on the same synthetic population, in one process:

- direct: what a user does by hand: two `Microsimulation`s (baseline, reform), the
  reform's tax-benefit system built for the run;
- fiscus cold: a worker's first run of a new policy (its reformed system is built);
- fiscus warm: the same policy again (the system comes from the worker's LRU).

Prints times, ratios against direct and peak memory. Run: `make bench`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

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

CTC = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3000}}


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

    started = time.perf_counter()
    direct = direct_simulations(population, args.year, CTC)
    for policy in POLICIES:
        for variable in HOUSEHOLD_VARIABLES:
            calculated(direct[policy], variable, args.year, map_to="household")
        for variable in PERSON_VARIABLES:
            calculated(direct[policy], variable, args.year, map_to="person")
    direct_seconds = time.perf_counter() - started
    print(f"direct policyengine-us:   {direct_seconds:7.1f} s")
    del direct

    from services.simulation.domain.engine import PopulationEngine

    engine = PopulationEngine()
    started = time.perf_counter()
    engine.warm(args.year)
    print(f"fiscus worker warm-up:    {time.perf_counter() - started:7.1f} s (once per worker)")
    timings = {}
    for arm in ("cold", "warm"):
        started = time.perf_counter()
        engine.run(population, args.year, CTC)
        timings[arm] = time.perf_counter() - started
        ratio = direct_seconds / timings[arm]
        print(f"fiscus {arm} policy:        {timings[arm]:7.1f} s   {ratio:5.2f}x direct")
    print(f"peak RSS: {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
