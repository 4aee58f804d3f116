"""Incomes and race of the synthetic population's people, drawn in BASE_YEAR (2024) dollars.

Earnings are lognormal with a Pareto top tail (about 1.5% of working-age earners), so
the sample reaches the top AGI bands that carry most of the income tax. Capital
income (interest and ordinary dividends, qualified dividends, long-term gains) is
drawn more often and larger for older people and top earners, then scaled so that its
national totals under the initial weights equal CBO's for 2024
(us_totals.INCOME_BY_SOURCE_2024); the weight calibration then meets them again.

Race is drawn per household (everyone in it shares the head's), with Census shares
tilted by household income so that, as in the Census income tables, lower-income
households are more often Black or Hispanic.
"""

from __future__ import annotations

import numpy as np

from services.dataset.domain.us_totals import (
    BUSINESS_INCOME_2024,
    INCOME_BY_SOURCE_2024,
    MEDIAN_HOUSEHOLD_INCOME_2023,
    RACE_SHARES_2023,
)

RACES = tuple(RACE_SHARES_2023)
# policyengine-us computes `race` from the CPS race code (PRDTRACE: 1 White only,
# 2 Black only, 4 Asian only) and `is_hispanic`.
CPS_RACE_CODE = {"WHITE": 1, "BLACK": 2, "HISPANIC": 1, "OTHER": 4}
# Spread of log household income around each race's median, for the race tilt.
INCOME_LOG_SPREAD = 0.9


def chance(rng: np.random.Generator, probability: np.ndarray) -> np.ndarray:
    return rng.random(len(probability)) < probability


def by_age(age: np.ndarray, bands: tuple[int, ...], values: tuple[float, ...]) -> np.ndarray:
    """values[i] for ages in [bands[i], bands[i + 1]); the last value above the last band."""
    return np.asarray(values)[np.searchsorted(bands, age, side="right") - 1]


def draw_earnings(rng: np.random.Generator, age: np.ndarray) -> dict[str, np.ndarray]:
    """Person earnings and pensions in 2024 dollars; `top` marks the Pareto tail."""
    n = len(age)
    adult = age >= 18
    bands = (0, 16, 18, 25, 35, 55, 62, 67, 75)
    works = chance(rng, by_age(age, bands, (0, 0.25, 0.65, 0.80, 0.80, 0.68, 0.45, 0.22, 0.06)))
    earning_level = by_age(age, bands, (0, 0.08, 0.45, 0.85, 1.1, 1.0, 0.8, 0.6, 0.5))
    body = earning_level * rng.lognormal(np.log(48_000), 0.85, n)
    top_odds = by_age(age, (0, 25, 35, 55, 67), (0, 0.006, 0.02, 0.025, 0.01))
    top = works & chance(rng, top_odds)
    tail = 250_000 * (1 + rng.pareto(1.5, n))
    wages = works * np.where(top, tail, body)
    self_employed = adult & chance(rng, np.full(n, 0.09))
    loss = chance(rng, np.full(n, 0.15))
    profit = rng.lognormal(np.log(22_000), 1.0, n)
    self_employment = np.where(self_employed, np.where(loss, -0.25 * profit, profit), 0.0)
    pension_odds = by_age(age, (0, 55, 62, 67), (0, 0.08, 0.25, 0.45))
    pension = chance(rng, pension_odds) * rng.lognormal(np.log(18_000), 0.8, n)
    retired = chance(rng, by_age(age, (0, 62, 67), (0, 0.35, 0.92)))
    retirement = retired * np.clip(rng.normal(23_000, 6_000, n), 4_000, 50_000)
    disabled = ~retired & chance(rng, by_age(age, (0, 25, 50, 62), (0, 0.02, 0.05, 0.0)))
    disability = disabled * np.clip(rng.normal(16_000, 4_000, n), 3_000, 40_000)
    return {
        "employment_income": wages,
        "self_employment_income": self_employment,
        "taxable_private_pension_income": pension,
        "social_security_retirement": retirement,
        "social_security_disability": disability,
        "top": top.astype(np.float64),
    }


def draw_capital_income(
    rng: np.random.Generator, age: np.ndarray, earnings: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Unscaled capital and partnership income in 2024 dollars: more often, and more, for the
    old and the top."""
    n = len(age)
    adult = age >= 18
    senior = age >= 65
    top = earnings["top"] > 0
    wages = earnings["employment_income"]
    holds = {
        # (chance for adults, extra for seniors, extra for top earners,
        #  typical amount, share of the top earners' wages)
        "taxable_interest_income": (0.30, 0.30, 0.60, 2_000.0, 0.02),
        "qualified_dividend_income": (0.15, 0.20, 0.70, 3_000.0, 0.06),
        "long_term_capital_gains": (0.06, 0.08, 0.60, 8_000.0, 0.45),
        "partnership_income": (0.02, 0.01, 0.50, 15_000.0, 0.40),
    }
    amounts = {}
    for source, (base, old, rich, typical, of_wages) in holds.items():
        odds = adult * (base + old * senior + rich * top)
        has = chance(rng, np.minimum(odds, 0.95))
        amounts[source] = has * (rng.lognormal(np.log(typical), 1.5, n) + of_wages * top * wages)
    return amounts


def scale_to_totals(
    amounts: dict[str, np.ndarray], person_weight: np.ndarray
) -> dict[str, np.ndarray]:
    """Amounts with pensions, capital and partnership income scaled so that their weighted
    totals are CBO's 2024 ones (wages and sole proprietors' profits are left as drawn)."""

    def total(source: str) -> float:
        return float(amounts[source] @ person_weight)

    wanted = {
        **{source: t for source, t in INCOME_BY_SOURCE_2024.items() if source in amounts},
        "partnership_income": BUSINESS_INCOME_2024 - total("self_employment_income"),
    }
    wanted.pop("employment_income")
    scaled = dict(amounts)
    for source, target in wanted.items():
        drawn = total(source)
        scaled[source] = amounts[source] * (target / drawn if drawn > 0 else 1.0)
    return scaled


def draw_race(rng: np.random.Generator, household_income: np.ndarray) -> np.ndarray:
    """A race per household (policyengine-us `race` names), tilted by household income.

    P(race | income) ∝ share(race) * N(log income; log median(race), spread).
    """
    log_income = np.log(np.maximum(household_income, 1_000.0))
    shares = np.array([RACE_SHARES_2023[r] for r in RACES])
    medians = np.log(np.array([MEDIAN_HOUSEHOLD_INCOME_2023[r] for r in RACES]))
    likelihood = np.exp(-0.5 * ((log_income[:, None] - medians) / INCOME_LOG_SPREAD) ** 2)
    odds = shares * likelihood
    cumulative = np.cumsum(odds / odds.sum(axis=1, keepdims=True), axis=1)
    drawn = (rng.random(len(household_income))[:, None] > cumulative).sum(axis=1)
    races: np.ndarray = np.asarray(RACES, dtype=object)[np.minimum(drawn, len(RACES) - 1)]
    return races
