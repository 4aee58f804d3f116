"""Benchmark: the fixed and per-household cost of a partition run, for the partition plan.

Runs what a worker does for one partition of a new dataset under a new policy (read
the population, baseline calculated and kept, reform arm reduced) on synthetic
populations of several sizes, each size a new dataset, in one warm process after a
first run it does not count, and fits
`seconds = fixed + households x per_household` by least squares. Prints the runs, the
fit and what to set (`FISCUS_PARTITION_FIXED_SECONDS`,
`FISCUS_PARTITION_HOUSEHOLD_SECONDS`; domain/partitions.py says how the plan uses
them). Also times direct policyengine-us (two `Microsimulation`s, the same result
columns) on the smallest size.

Run: `python -m benchmarks.partition_costs --sizes 100 1000 2000`.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from benchmarks.population import CTC, direct_run, peak_rss_gb
from services.dataset.domain.synthetic import generate_population
from shared.population import ENTITIES, read_population, to_parquet_bytes, write_population


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 2000])
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()

    from services.simulation.adapters.baselines import StoredBaselines
    from services.simulation.domain.baselines import baseline_key
    from services.simulation.domain.engine import PopulationEngine

    with tempfile.TemporaryDirectory() as folder:
        engine = PopulationEngine(baseline_store=StoredBaselines(f"file://{folder}", 2**30))
        started = time.perf_counter()
        engine.warm(args.year)
        print(f"worker warm-up: {time.perf_counter() - started:.1f} s (once per worker)")
        # A first run pays once-per-worker costs that warm() leaves (about 40 s here):
        # a worker pays them on its first partition, not on every one.
        first = generate_population(20, seed=99, year=args.year)
        write_population(
            f"file://{folder}/first", {e: to_parquet_bytes(first[e]) for e in ENTITIES}
        )
        started = time.perf_counter()
        engine.run(read_population(f"file://{folder}/first"), args.year, CTC, baseline_key="first")
        print(f"first run, 20 households: {time.perf_counter() - started:.1f} s (not counted)")
        measured: list[tuple[int, float]] = []
        for seed, size in enumerate(args.sizes):
            root = f"file://{folder}/population-{size}"
            generated = generate_population(size, seed=seed, year=args.year)
            write_population(root, {e: to_parquet_bytes(generated[e]) for e in ENTITIES})
            started = time.perf_counter()
            population = read_population(root)
            key = baseline_key(f"dataset-{size}", args.year, "all", "current-law", "bench")
            results = engine.run(population, args.year, CTC, baseline_key=key)
            seconds = time.perf_counter() - started
            measured.append((size, seconds))
            print(
                f"{size:6d} households: {seconds:6.1f} s (baseline {results.baseline_source}, "
                f"reform arm {results.reform_arm.path})"
            )
            if size == min(args.sizes):
                direct = direct_run(population, args.year, CTC)
                print(f"        direct policyengine-us, same households: {direct:6.1f} s")
    sizes = np.array([size for size, _ in measured], dtype=float)
    durations = np.array([s for _, s in measured])
    per_household, fixed = np.polyfit(sizes, durations, 1)
    print(f"fit: {fixed:.1f} s fixed + {per_household:.4f} s per household")
    print(
        f"set FISCUS_PARTITION_FIXED_SECONDS={fixed:.1f} "
        f"FISCUS_PARTITION_HOUSEHOLD_SECONDS={per_household:.4f}"
    )
    print(f"peak RSS: {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
