"""The tax-benefit systems of a process: current law, and each reform's, kept (LRU).

The current-law system is `policyengine_us.system.system`, the one importing
policyengine-us builds and shares with every simulation built without a reform.
A reform that only sets parameter values gets current law with those parameters
copied and changed (`domain.parametric`), in milliseconds; any other reform gets
`CountryTaxBenefitSystem(reform=...)`, exactly as `Microsimulation(reform=...)`
builds it, in about 18 s. Either is kept, keyed by `reform_hash`, with whether it is
structural: built in full because it changes which variables exist or how they
are calculated, not only parameter values.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from services.simulation.domain.parametric import parametric_system, structural_reform_names

Reform = dict[str, dict[str, Any]]


def reform_hash(data: Reform | None) -> str:
    """SHA-256 of the reform as compact JSON with sorted keys; None hashes as `null`."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class TaxBenefitSystems:
    """Not thread-safe: one per engine."""

    def __init__(
        self,
        max_kept: int = 8,
        parametric: bool = True,
        build: Callable[[Any], Any] | None = None,
    ) -> None:
        """`parametric=False` builds every reform's system in full; `build` replaces
        `CountryTaxBenefitSystem` (tests)."""
        if max_kept < 1:
            raise ValueError("max_reformed_systems must be at least 1")
        from policyengine_us.system import DEFAULT_START_DATE, CountryTaxBenefitSystem, system

        self.current_law: Any = system
        self._build = build or CountryTaxBenefitSystem
        self.start_instant = DEFAULT_START_DATE
        # The structural reforms current law switches on (policyengine-us's own choice).
        self.current_law_structure = structural_reform_names(system.parameters, DEFAULT_START_DATE)
        self._kept: OrderedDict[str, tuple[Any, bool]] = OrderedDict()
        self._max_kept = max_kept
        self._parametric = parametric

    def __len__(self) -> int:
        """Systems held: current law and the reforms kept."""
        return 1 + len(self._kept)

    def system_for(self, policy: Reform | None) -> Any:
        """The tax-benefit system of `policy`: made on first use, then kept (LRU)."""
        return self._system_and_structure(policy)[0]

    def is_structural(self, policy: Reform | None) -> bool:
        """Whether `policy`'s system was built in full (it switches a structural reform on
        or off), rather than as current law with other parameter values."""
        return self._system_and_structure(policy)[1]

    def _system_and_structure(self, policy: Reform | None) -> tuple[Any, bool]:
        if not policy:
            return self.current_law, False
        key = reform_hash(policy)
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept
        # A path that names no parameter fails a build only after the 18 s it takes;
        # look each up first, as applying the reform would, and fail with its error now.
        for path in policy:
            self.current_law.parameters.get_child(path)
        structure = self.current_law_structure
        system = (
            parametric_system(self.current_law, policy, self.start_instant, structure)
            if self._parametric
            else None
        )
        structural = system is None
        if system is None:
            from policyengine_core.reforms import Reform as CoreReform

            # Reform.from_dict keeps the dict it is given and reads it when applied.
            system = self._build(CoreReform.from_dict(copy.deepcopy(policy), country_id="us"))
            parameters = getattr(system, "parameters", None)
            structural = (
                structure is None
                or parameters is None
                or structural_reform_names(parameters, self.start_instant) != structure
            )
        kept = self._kept[key] = (system, structural)
        if len(self._kept) > self._max_kept:
            self._kept.popitem(last=False)
            # Frozen objects are never collected: thaw so the evicted tree's cycles go.
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        return kept
