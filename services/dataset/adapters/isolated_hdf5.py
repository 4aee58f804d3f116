"""HDF5 uploads read in a child process with a memory limit and a deadline.

The HDF5 library parses an untrusted file's headers in C: a damaged header can make it
allocate gigabytes before it notices (seen when fuzzing: one flipped byte, about 10 GB
for a B-tree node), and a bug in it would take the service down with it. So the file
is read by `python -m services.dataset.adapters.isolated_hdf5` under an address-space
limit and a timeout; the child hands back the frames as Parquet files in a temporary
folder, or the problems it found, and whatever goes wrong in it is a refused upload,
never a failed service.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

import pandas as pd

from services.dataset.domain.hdf5 import UPLOAD_FIELD, Hdf5Content, read_hdf5
from shared.population import ENTITIES
from shared.problems import FieldError

# What the child needs beside the data: Python, numpy, pandas, h5py and pyarrow take
# about 450 MB of address space; the data may be held about three times while frames are
# built and written.
BASE_MEMORY_BYTES = 1024**3
DATA_COPIES = 4
TIMEOUT_SECONDS = 300.0
RESULT = "result.json"
COPY_CHUNK = 1024 * 1024


def memory_limit(max_bytes: int) -> int:
    return BASE_MEMORY_BYTES + DATA_COPIES * max_bytes


def read_hdf5_isolated(
    upload: IO[bytes],
    *,
    year: int | None,
    max_bytes: int,
    memory_bytes: int | None = None,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> Hdf5Content:
    """`read_hdf5` of an upload, run in a child process; blocking."""
    limit = memory_bytes if memory_bytes is not None else memory_limit(max_bytes)
    with tempfile.TemporaryDirectory(prefix="fiscus-hdf5-") as folder:
        source, out = Path(folder) / "upload.h5", Path(folder) / "out"
        out.mkdir()
        upload.seek(0)
        with source.open("wb") as handle:
            shutil.copyfileobj(upload, handle, COPY_CHUNK)
        command = [
            sys.executable,
            "-m",
            __name__,
            str(source),
            str(out),
            str(max_bytes),
            str(year) if year is not None else "-",
            str(limit),
        ]
        try:
            finished = subprocess.run(
                command, capture_output=True, timeout=timeout_seconds, check=False
            )
        except subprocess.TimeoutExpired:
            return _refused(f"could not be read within {timeout_seconds:g} seconds")
        if finished.returncode != 0 or not (out / RESULT).exists():
            return _refused(
                f"could not be read within the reader's memory limit of {limit} bytes "
                f"(the reader stopped with exit status {finished.returncode})"
            )
        return _result(out)


def _refused(message: str) -> Hdf5Content:
    return Hdf5Content(errors=[FieldError(field=UPLOAD_FIELD, message=message)])


def _result(out: Path) -> Hdf5Content:
    """What the child wrote: its own output, so read as trusted."""
    result = json.loads((out / RESULT).read_text(encoding="utf-8"))
    errors = [FieldError(**error) for error in result["errors"]]
    if errors:
        return Hdf5Content(errors=errors)
    population = {
        entity: pd.read_parquet(out / f"{entity}.parquet", engine="pyarrow")
        for entity in result["entities"]
    }
    return Hdf5Content(population, result["layout"], result["year"], year_group=result["group"])


def _child(source: str, out: str, max_bytes: str, year: str, limit: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    with open(source, "rb") as handle:
        content = read_hdf5(
            handle, year=None if year == "-" else int(year), max_bytes=int(max_bytes)
        )
    for entity in ENTITIES:
        if entity in content.population:
            content.population[entity].to_parquet(
                Path(out) / f"{entity}.parquet", engine="pyarrow", index=False
            )
    result = {
        "errors": [error.model_dump() for error in content.errors],
        "entities": sorted(content.population),
        "layout": content.layout,
        "year": content.year,
        "group": content.year_group,
    }
    partial = Path(out) / f"{RESULT}.partial"
    partial.write_text(json.dumps(result), encoding="utf-8")
    partial.rename(Path(out) / RESULT)


if __name__ == "__main__":
    _child(*sys.argv[1:6])
