"""The impact in each congressional district, when households carry the district's GEOID.

v1 names a district `<state>-<number>` (`CA-05`; an at-large district is `-01`). With
w, b, r and Δ as in `domain.report`, per district present (GEOID 0, no district, left
out), in GEOID order:

    households                         Σw
    average_household_income_change    Σw·Δ / Σw
    relative_household_income_change   Σw·r / Σw·b - 1
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from contracts.results.v1 import DISTRICT_INPUT
from services.aggregation.domain.columns import floats, net_income, number, ratio
from shared.states import POSTAL_CODE_BY_FIPS


def district_name(geoid: int) -> str:
    """v1's name of the district `geoid` (state FIPS x 100 + district number)."""
    state, number_in_state = divmod(geoid, 100)
    code = POSTAL_CODE_BY_FIPS.get(state, f"{state:02d}")
    return f"{code}-{max(number_in_state, 1):02d}"


def congressional_district_impact(households: pd.DataFrame) -> dict[str, Any] | None:
    """v1's `congressional_district_impact` ({"districts": [...]}), or None without GEOIDs."""
    if DISTRICT_INPUT not in households.columns:
        return None
    geoid = households[DISTRICT_INPUT].to_numpy(dtype=np.int64)
    weight = floats(households["household_weight"])
    baseline, reform = net_income(households, "baseline"), net_income(households, "reform")
    districts = []
    for value in np.unique(geoid[geoid > 0]).tolist():
        members = geoid == value
        w = weight[members]
        gained = float((w * (reform[members] - baseline[members])).sum())
        before = float((w * baseline[members]).sum())
        after = float((w * reform[members]).sum())
        relative = ratio(after, before)
        districts.append(
            {
                "district": district_name(value),
                "district_geoid": value,
                "households": number(float(w.sum())),
                "average_household_income_change": ratio(gained, float(w.sum())),
                "relative_household_income_change": None if relative is None else relative - 1,
            }
        )
    return {"districts": districts}
