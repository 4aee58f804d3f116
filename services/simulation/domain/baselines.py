"""A baseline run kept for reuse: its dependency record and every value it calculated.

A simulation's baseline depends only on the population, the year, the baseline policy
and the model, so a worker that has calculated it once for a dataset (or one of its
partitions) keeps it under `baseline_key(...)`. A later run on the same population
gives a fresh baseline simulation those values instead of calculating them (its
outputs then cost nothing), and plans its reform arm from the record.

Most of a run's values are constant arrays (a program of another state, a credit
nobody in the population claims) and many others repeat (a monthly value that is the
same every month), so a snapshot keeps each distinct array once and a constant as its
value: 1,000 households give about 22,700 values, 100 MB as calculated, 12 MB kept
and 1.5 MB compressed on storage. Kept arrays are read-only, so a formula that wrote
into a value it read would fail instead of changing another run's baseline.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from services.simulation.domain.dependencies import DependencyRecord

FORMAT = 1


def baseline_key(
    dataset_sha256: str, year: int, part: str, baseline_hash: str, model_version: str
) -> str:
    """The content address of a baseline run: `<dataset SHA-256>/<SHA-256 over what
    determines its values>`, so a dataset's baselines can be found (and removed) together.

    `part` names the population within the dataset: `all`, or its partition's states.
    """
    text = json.dumps(
        [FORMAT, dataset_sha256, year, part, baseline_hash, model_version], separators=(",", ":")
    )
    return f"{dataset_sha256}/{hashlib.sha256(text.encode()).hexdigest()}"


@dataclass(frozen=True)
class Constant:
    value: Any
    dtype: str
    size: int

    def array(self) -> np.ndarray:
        return np.full(self.size, self.value, dtype=np.dtype(self.dtype))


@dataclass(frozen=True)
class BaselineSnapshot:
    record: DependencyRecord
    # (variable, period as text) -> index into `arrays`, or a Constant.
    values: Mapping[tuple[str, str], int | Constant]
    arrays: tuple[np.ndarray, ...]

    @property
    def nbytes(self) -> int:
        return sum(array.nbytes for array in self.arrays)

    def items(self) -> Iterator[tuple[str, Any, np.ndarray]]:
        """(variable, period, values) of every value kept, in calculation order."""
        for name, period in self.record.calculated:
            kept = self.values.get((name, str(period)))
            if kept is None:
                continue
            yield name, period, kept.array() if isinstance(kept, Constant) else self.arrays[kept]


class BaselineStore(Protocol):
    """Where a worker keeps baseline snapshots (`services.simulation.adapters.baselines`)."""

    def get(self, key: str) -> tuple[BaselineSnapshot, str] | None:
        """The snapshot and where it came from (`memory` or `storage`), or None."""

    def put(self, key: str, snapshot: BaselineSnapshot) -> None: ...


def take(record: DependencyRecord, simulation: Any) -> BaselineSnapshot:
    """Every value `simulation` calculated (its inputs aside), as `record` lists them."""
    inputs = set(simulation.input_variables)
    values: dict[tuple[str, str], int | Constant] = {}
    arrays: list[np.ndarray] = []
    seen: dict[tuple[str, bytes], int] = {}
    for name, period in record.calculated:
        if name in inputs:
            continue
        raw = simulation.get_holder(name).get_array(period)
        if raw is None:
            continue
        array = np.asarray(raw)
        if array.dtype == object:
            array = array.astype(str)
        if array.dtype.kind in "biufU" and array.size and (array == array.flat[0]).all():
            constant = Constant(array.flat[0].item(), array.dtype.str, array.size)
            values[(name, str(period))] = constant
            continue
        digest = (array.dtype.str, hashlib.sha256(array.tobytes()).digest())
        index = seen.get(digest)
        if index is None:
            index = seen[digest] = len(arrays)
            kept = array.copy()
            kept.flags.writeable = False
            arrays.append(kept)
        values[(name, str(period))] = index
    return BaselineSnapshot(record, values, tuple(arrays))


def restore(snapshot: BaselineSnapshot, simulation: Any) -> None:
    """Give `simulation` every kept value, as calculated values."""
    from policyengine_core.enums import EnumArray

    variables = simulation.tax_benefit_system.variables
    for name, period, array in snapshot.items():
        variable = variables.get(name)
        if variable is None:
            continue
        values: Any = array
        if variable.value_type is not None and getattr(variable, "possible_values", None):
            values = EnumArray(array, variable.possible_values)
        elif array.dtype.kind == "U":
            values = array.astype(object)
        simulation.get_holder(name).put_in_cache(values, period, derived=True)


def to_bytes(snapshot: BaselineSnapshot) -> bytes:
    record = snapshot.record
    index = {
        "format": FORMAT,
        "variable_reads": {k: sorted(v) for k, v in record.variable_reads.items()},
        "parameter_reads": {k: sorted(v) for k, v in record.parameter_reads.items()},
        "calculated": [[name, str(period)] for name, period in record.calculated],
        "values": [
            [name, period, kept if isinstance(kept, int) else [kept.value, kept.dtype, kept.size]]
            for (name, period), kept in snapshot.values.items()
        ],
    }
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {f"a{i}": array for i, array in enumerate(snapshot.arrays)}
    arrays["index"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def from_bytes(data: bytes) -> BaselineSnapshot:
    from policyengine_core.periods import period as parse_period

    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        index = json.loads(stored["index"].tobytes())
        if index["format"] != FORMAT:
            raise ValueError(f"baseline snapshot format {index['format']} is not {FORMAT}")
        arrays = tuple(stored[f"a{i}"] for i in range(len(stored.files) - 1))
    for array in arrays:
        array.flags.writeable = False
    calculated = index["calculated"]
    record = DependencyRecord(
        variable_reads={k: frozenset(v) for k, v in index["variable_reads"].items()},
        parameter_reads={k: frozenset(v) for k, v in index["parameter_reads"].items()},
        calculated=tuple((name, parse_period(period)) for name, period in calculated),
    )
    values: dict[tuple[str, str], int | Constant] = {
        (name, period): kept if isinstance(kept, int) else Constant(*kept)
        for name, period, kept in index["values"]
    }
    return BaselineSnapshot(record, values, arrays)
