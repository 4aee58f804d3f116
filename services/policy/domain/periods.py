"""The period keys of a reform, as `policyengine_core.reforms.Reform.from_dict` reads them.

`from_dict` classifies a key by its shape, in this order:

* `"ETERNITY"`: for all time;
* `"start.stop"` with two instants: from `start` to `stop`, both included;
* `"unit:base[:size]"` (`"year:2026:5"`, `"month:2026-01:3"`): that bounded period;
* a bare instant (`"2026"`, `"2026-01"`, `"2026-01-01"`): from that instant on, replacing
  every later scheduled value.

An instant is `YYYY`, `YYYY-MM` or `YYYY-MM-DD`. Fiscus accepts a subset of what
`from_dict` accepts: keys it would misread are refused, namely impossible dates, a
range whose start is after its end, a compound period of zero or negative size, and
(in validation.py) two periods of one parameter that start on the same day, whose
outcome would depend on the order of the keys.
"""

from __future__ import annotations

import re
from datetime import date

ETERNITY = "ETERNITY"
PERIOD_UNITS = ("day", "month", "year")

_INSTANT = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_SIZE = re.compile(r"^[1-9]\d{0,3}$")
ACCEPTED_FORMS = (
    '"YYYY-MM-DD.YYYY-MM-DD" (from one day to another, both included), '
    '"YYYY-MM-DD", "YYYY-MM" or "YYYY" (from then on), '
    '"year:YYYY:N", "month:YYYY-MM:N" or "day:YYYY-MM-DD:N" (N periods), or "ETERNITY"'
)


class PeriodKeyError(ValueError):
    """A reform period key that `Reform.from_dict` would refuse or misread."""


def instant_of(text: str) -> tuple[date, str]:
    """The first day an instant names, and its unit (`year`, `month` or `day`)."""
    match = _INSTANT.match(text)
    if match is None:
        raise PeriodKeyError(f'"{text}" is not a date: use YYYY-MM-DD, YYYY-MM or YYYY')
    year, month, day = match.groups()
    try:
        first_day = date(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        raise PeriodKeyError(f'"{text}" is not a date: {exc}') from None
    unit = "day" if day else "month" if month else "year"
    return first_day, unit


def period_start(key: str) -> date:
    """The day `key` starts on, as `from_dict` orders keys; PeriodKeyError unless accepted.

    `from_dict` applies a parameter's periods in order of this start (ETERNITY first,
    as 0001-01-01), so only periods sharing a start depend on the order they were
    written in.
    """
    if key == ETERNITY:
        return date.min
    if "." in key:
        return _range_start(key)
    if ":" in key:
        return _compound_start(key)
    if re.match(r"^\d{4}-", key) or _INSTANT.match(key):
        return instant_of(key)[0]
    raise PeriodKeyError(f'"{key}" is not a period: use {ACCEPTED_FORMS}')


def check_period_key(key: str) -> None:
    """Raise PeriodKeyError unless `key` is a period key Fiscus accepts."""
    period_start(key)


def _range_start(key: str) -> date:
    parts = key.split(".")
    if len(parts) != 2:
        raise PeriodKeyError(f'"{key}" is not a period: a range is "start.stop", one dot')
    start, _ = instant_of(parts[0])
    stop, _ = instant_of(parts[1])
    if start > stop:
        raise PeriodKeyError(f'"{key}": the start {parts[0]} is after the end {parts[1]}')
    if stop.year >= 9999:
        raise PeriodKeyError(f'"{key}": the end must be before 9999-12-31')
    return start


def _compound_start(key: str) -> date:
    parts = key.split(":")
    if len(parts) not in (2, 3) or parts[0] not in PERIOD_UNITS:
        raise PeriodKeyError(f'"{key}" is not a period: use {ACCEPTED_FORMS}')
    unit, base = parts[0], parts[1]
    start, base_unit = instant_of(base)
    # from_dict refuses a base coarser than the unit, such as "month:2026".
    if PERIOD_UNITS.index(base_unit) > PERIOD_UNITS.index(unit):
        raise PeriodKeyError(f'"{key}": a {unit} period starts on a {unit}, not on "{base}"')
    if len(parts) == 3 and _SIZE.match(parts[2]) is None:
        raise PeriodKeyError(f'"{key}": the number of {unit}s must be a whole number from 1')
    return start
