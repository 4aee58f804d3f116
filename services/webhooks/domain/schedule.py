"""When a delivery's next attempt is due."""

from __future__ import annotations

import random
from collections.abc import Sequence


def retry_delay(
    attempts_made: int,
    schedule: Sequence[float],
    jitter: float,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones; None when the
    schedule is exhausted and the delivery has failed for good.

    `schedule[0]` is the delay of the first attempt, `schedule[k]` the delay after the
    k-th failure. Each delay is spread by up to +/- `jitter` of itself so that the
    retries of many deliveries that failed together do not arrive together.
    """
    if attempts_made < 0:
        raise ValueError("attempts_made must not be negative")
    if attempts_made >= len(schedule):
        return None
    delay = schedule[attempts_made]
    spread = delay * jitter * (2 * (rng or random).random() - 1)
    return max(0.0, delay + spread)
