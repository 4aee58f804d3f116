"""A key's daily quota of new simulations, kept on the rate limiter.

Checked before a request that may create simulations and counted after it by what it
created: `POST /api/v1/simulations` and batches (api/guard.py), and a v1 economy call
that submits one (api/policyengine_v1_economy.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from limits import RateLimitItem

from services.gateway.adapters.limiter import KeyLimiter, LimiterUnavailable
from services.gateway.domain.auth import Principal
from services.gateway.domain.rate_limits import WindowState, daily_quota
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationQuota:
    limiter: KeyLimiter
    item: RateLimitItem
    amount: int
    key_id: str

    @property
    def refusal(self) -> str:
        return f"this API key may submit {self.amount} simulations per 24 hours"

    async def state(self) -> WindowState:
        """Where the day's window stands; raises LimiterUnavailable."""
        return await self.limiter.peek(self.item, "simulations", self.key_id)

    async def count(self, accepted: int) -> None:
        """Count new simulations; a limiter outage then is logged, not the caller's error."""
        try:
            await self.limiter.hit(self.item, "simulations", self.key_id, cost=accepted)
        except LimiterUnavailable as exc:
            log.warning("simulations not counted against the quota: %s", exc)


def simulation_quota(
    limiter: KeyLimiter | None, principal: Principal, settings: Settings
) -> SimulationQuota | None:
    """The caller's quota: its key's, else the gateway's default; None when there is none."""
    amount = principal.daily_simulation_quota
    if amount is None:
        amount = settings.default_daily_simulation_quota
    if limiter is None or amount is None:
        return None
    return SimulationQuota(limiter, daily_quota(amount), amount, principal.key_id)
