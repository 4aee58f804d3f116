"""The reform the tests use wherever its amount does not matter.

One constant, so that a process builds one reformed tax-benefit system (about 18 s)
for all of them instead of one per distinct dictionary. Simulations that must be
distinct (content-addressed) differ by dataset or outputs, not by this amount.
"""

from __future__ import annotations

from typing import Any

CTC = "gov.irs.credits.ctc.amount.base[0].amount"
CTC_REFORM: dict[str, dict[str, Any]] = {CTC: {"2025-01-01.2100-12-31": 3000}}
