"""What a dataset may be: its source, name, year and synthetic size.

The bodies the API reads and answers are built on these in api/schemas.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

Source = Literal["synthetic", "upload"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Years PolicyEngine US has parameters for, generously: a sanity bound, not a model limit.
Year = Annotated[int, Field(ge=2000, le=2100)]
DEFAULT_YEAR = 2025
MAX_SYNTHETIC_HOUSEHOLDS = 200_000
# The bundled population's default size: what `make demo` generates.
DEFAULT_SYNTHETIC_HOUSEHOLDS = 3000
