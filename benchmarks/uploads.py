"""Benchmark: registering a population from each upload format, against reading it by hand.

Starts its own gateway and dataset service (ports from FISCUS_BENCH_PORT_BASE, default
18350; database `fiscus_bench`, RabbitMQ vhost `fiscus-bench`, both made afresh), writes
one synthetic population in each format a PolicyEngine user has (a zip of Parquet files,
a zip of CSV files, `USSingleYearDataset.save()`'s entity tables, policyengine-us-data's
variable arrays), and times `POST /api/v1/datasets` of each through the gateway (the
upload read, checked against policyengine-us's variables, converted to Parquet, stored
with its original, registered): the median of `--rounds`. The direct arm, in this
process: `USSingleYearDataset(file_path=...)` reading the entity-table file, which is
all policyengine-us does with it before a simulation, with no checks.

Prints each format's median and its ratio to the direct read. Run: `make bench`.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.stack import bench_stack
from services.dataset.domain.synthetic import generate_population
from shared.population import Population
from tests.population_files import csv_zip, parquet_zip, variable_arrays_h5

STACK = {
    "gateway": ["services.gateway.main"],
    "dataset": ["services.dataset.main"],
}
DATASET_PORT_OFFSET = 1


def write_files(population: Population, folder: Path) -> dict[str, Path]:
    from policyengine_us.data.dataset_schema import USSingleYearDataset

    files = {
        "parquet-zip": folder / "population.zip",
        "csv-zip": folder / "population_csv.zip",
        "h5-entity-tables": folder / "tables.h5",
        "h5-variable-arrays": folder / "arrays.h5",
    }
    files["parquet-zip"].write_bytes(parquet_zip(population))
    files["csv-zip"].write_bytes(csv_zip(population))
    USSingleYearDataset(**population, time_period=2025).save(str(files["h5-entity-tables"]))
    variable_arrays_h5(population, files["h5-variable-arrays"])
    return files


def upload_seconds(client: httpx.Client, path: Path, rounds: int) -> list[float]:
    times = []
    for number in range(rounds):
        content = path.read_bytes()
        started = time.perf_counter()
        answer = client.post(
            "/api/v1/datasets",
            data={"name": f"{path.name} {number}"},
            files={"file": (path.name, io.BytesIO(content), "application/octet-stream")},
        )
        times.append(time.perf_counter() - started)
        answer.raise_for_status()
    return times


def direct_seconds(path: Path, rounds: int) -> list[float]:
    from policyengine_us.data.dataset_schema import USSingleYearDataset

    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        USSingleYearDataset(file_path=str(path))
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port_base = int(os.environ.get("FISCUS_BENCH_PORT_BASE", "18350"))
    population = generate_population(args.households, seed=5, year=2025)
    people = len(population["person"])
    with tempfile.TemporaryDirectory() as folder, bench_stack(STACK, port_base) as stack:
        files = write_files(population, Path(folder))
        stack.wait((DATASET_PORT_OFFSET,), timeout=120)
        direct = statistics.median(direct_seconds(files["h5-entity-tables"], args.rounds))
        print(f"{args.households} households, {people} people, median of {args.rounds}")
        print(f"direct USSingleYearDataset(file_path=...) read: {direct:.2f} s")
        headers = {"Authorization": f"Bearer {stack.key}"}
        with httpx.Client(base_url=stack.gateway, headers=headers, timeout=600) as client:
            for kind, path in files.items():
                seconds = statistics.median(upload_seconds(client, path, args.rounds))
                size = path.stat().st_size / 1e6
                print(
                    f"{kind:>20}: {size:6.1f} MB uploaded and registered in {seconds:.2f} s, "
                    f"{seconds / direct:.2f}x the direct read"
                )


if __name__ == "__main__":
    main()
