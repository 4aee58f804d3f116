"""Published US totals the synthetic population is calibrated to, and the ones it is checked on.

Every figure names its publisher, table and year. Amounts are nominal dollars of their
year; the generator draws in BASE_YEAR (2024) dollars.
"""

from __future__ import annotations

# Census Bureau, Current Population Survey ASEC 2023, "America's Families and Living
# Arrangements: 2023", table HH-1 (households, 2023).
US_HOUSEHOLDS = 131_434_000

# Census Bureau, Vintage 2023 population estimates, NST-EST2023-POP: resident population
# of the 50 states and DC on July 1, 2023. They sum to the national 334,914,895.
STATE_POPULATIONS_2023: dict[str, int] = {
    "AL": 5_108_468, "AK": 733_406, "AZ": 7_431_344, "AR": 3_067_732, "CA": 38_965_193,
    "CO": 5_877_610, "CT": 3_617_176, "DE": 1_031_890, "DC": 678_972, "FL": 22_610_726,
    "GA": 11_029_227, "HI": 1_435_138, "ID": 1_964_726, "IL": 12_549_689, "IN": 6_862_199,
    "IA": 3_207_004, "KS": 2_940_546, "KY": 4_526_154, "LA": 4_573_749, "ME": 1_395_722,
    "MD": 6_180_253, "MA": 7_001_399, "MI": 10_037_261, "MN": 5_737_915, "MS": 2_939_690,
    "MO": 6_196_156, "MT": 1_132_812, "NE": 1_978_379, "NV": 3_194_176, "NH": 1_402_054,
    "NJ": 9_290_841, "NM": 2_114_371, "NY": 19_571_216, "NC": 10_835_491, "ND": 783_926,
    "OH": 11_785_935, "OK": 4_053_824, "OR": 4_233_358, "PA": 12_961_683, "RI": 1_095_962,
    "SC": 5_373_555, "SD": 919_318, "TN": 7_126_489, "TX": 30_503_301, "UT": 3_417_734,
    "VT": 647_464, "VA": 8_715_698, "WA": 7_812_880, "WV": 1_770_071, "WI": 5_910_955,
    "WY": 584_057,
}  # fmt: skip
US_POPULATION = sum(STATE_POPULATIONS_2023.values())  # 334,914,895

# Census Bureau, Vintage 2023 national population by age (press release CB24-86,
# June 2024): 73.1 million under 18 and 59.2 million aged 65 and over, July 1, 2023.
AGE_BANDS_2023: dict[tuple[int, int], int] = {
    (0, 18): 73_100_000,
    (65, 200): 59_200_000,
}

# Race and Hispanic origin, share of the resident population, Census Bureau QuickFacts,
# Vintage 2023 (July 1, 2023): Hispanic or Latino 19.5%, White alone not Hispanic 58.4%,
# Black alone 13.7%, of whom about 1.6 points are Hispanic (so 12.1% Black alone not
# Hispanic, an approximation); the rest (Asian, two or more races, ...) is "Other".
# Keys are policyengine-us `race` values.
RACE_SHARES_2023: dict[str, float] = {
    "WHITE": 0.584,
    "BLACK": 0.121,
    "HISPANIC": 0.195,
    "OTHER": 0.100,
}
# Census Bureau, "Income in the United States: 2023" (P60-282), table A-2: median
# household income in 2023 by race and Hispanic origin of the householder; the
# generator uses them only to tilt who is drawn with which race, not as targets.
MEDIAN_HOUSEHOLD_INCOME_2023: dict[str, float] = {
    "WHITE": 89_050.0,
    "BLACK": 56_490.0,
    "HISPANIC": 65_540.0,
    "OTHER": 80_610.0,  # all households
}

# IRS Statistics of Income, Publication 1304, Table 1.1, tax year 2021: number of
# returns by size of adjusted gross income, for the bands from $50,000 (below that, many
# tax units do not file, so returns do not count tax units). Bands are in 2021 dollars.
RETURNS_BY_AGI_2021: dict[tuple[float, float], int] = {
    (50_000.0, 75_000.0): 22_653_934,
    (75_000.0, 100_000.0): 14_657_726,
    (100_000.0, 200_000.0): 24_044_481,
    (200_000.0, 500_000.0): 9_045_567,
    (500_000.0, 1_000_000.0): 1_617_144,
    (1_000_000.0, float("inf")): 875_527,  # 376,859 + 156,020 + 233,838 + 63,406 + 45,404
}
# CBO, Revenue Projections by Category (February 2026 baseline, sheet "Individual Income
# Tax Details"): total AGI in tax year 2021 ($14,791.3 B, actual) and 2024 ($16,685.9 B);
# their ratio brings 2024 incomes back to 2021 dollars to band them.
AGI_GROWTH_2021_TO_2024 = 16_685.9 / 14_791.339

# CBO, same table, tax year 2024, billions of dollars: income by source on tax returns,
# keyed by the policyengine-us inputs that carry it.
INCOME_BY_SOURCE_2024: dict[str, float] = {
    "employment_income": 10_832.7e9,
    "taxable_interest_income": 309.7e9,  # interest and ordinary (non-qualified) dividends
    "qualified_dividend_income": 354.3e9,
    "long_term_capital_gains": 1_290.9e9,  # net capital gain
    "taxable_private_pension_income": 1_522.5e9,  # taxable pensions and annuities
}
# CBO's net business income ($1,916.0 B in 2024) is carried by sole proprietors'
# `self_employment_income` and by `partnership_income`, which gets what the first leaves.
BUSINESS_INCOME_2024 = 1_916.0e9

# Census Bureau, Housing Vacancies and Homeownership (CPS/HVS), annual statistics 2023:
# homeownership rate 65.9% of occupied housing units (the rest rent). Not a calibration
# target: the generator draws tenure by the householder's age; tests check it lands near.
HOMEOWNERSHIP_RATE_2023 = 0.659

# What the calibrated population is checked on (outputs of policyengine-us, not inputs):
# CBO, Revenue Projections by Category (June 2024 / January 2025): individual income tax
# receipts, fiscal year 2024.
INCOME_TAX_FY2024 = 2_426.067e9
# USDA Food and Nutrition Service, SNAP Data Tables, National Level Annual Summary
# (Participation and Costs, 1969-2024): total benefits, fiscal year 2024.
SNAP_BENEFITS_FY2024 = 93.730_29e9
