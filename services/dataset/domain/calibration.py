"""Survey-weight calibration: move initial weights as little as possible to hit known totals.

The distance is Deville and Särndal's raking (entropy) distance, so the result is what
iterative proportional fitting (raking) converges to when every target can be met,
and the weights stay positive. Targets are either hard (met exactly, as far as
floating point allows) or soft: a soft target's relative miss r costs r² / (2 s), so an
unreachable soft target (a state with no households in a tiny sample, a band nobody
falls in) is missed gracefully instead of sending weights to infinity.

Solved by Newton's method on the convex dual, in plain numpy:

    g_i = exp(b_i · λ),  b_ik = N x_ik / t_k,  N = Σ d_i
    h(λ) = Σ d_i g_i / N - Σ λ_k + (s / 2) Σ_soft λ_k²
    ∇h_k = Σ d_i g_i x_ik / t_k - 1 + s λ_k  (zero for hard k: the target is met)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

# A 1% miss of a soft target costs as much as moving 1/2 of the weight by a factor e.
SOFTNESS = 1e-4
MAX_ITERATIONS = 200
TOLERANCE = 1e-12
HARD_TOLERANCE = 1e-10
# Plain Newton steps at most, to land hard targets the line search left a hair short.
POLISHING_STEPS = 5


@dataclass(frozen=True)
class Target:
    """One known total: `values[i]` is household i's contribution, `total` the published sum."""

    name: str
    values: np.ndarray
    total: float
    hard: bool = False


class CalibrationError(ValueError):
    """The hard targets cannot all be met by positive weights."""


def calibrate(initial: np.ndarray, targets: list[Target], softness: float = SOFTNESS) -> np.ndarray:
    """Weights closest to `initial` (raking distance) meeting the hard targets exactly.

    Deterministic: the same inputs give the same weights, bit for bit. BLAS runs on one
    thread: its sums do not then depend on the thread count, and a multi-threaded
    OpenBLAS on a busy machine was ten times slower at these small products.
    """
    hard = [t for t in targets if t.hard]

    def missed(weights: np.ndarray) -> bool:
        misses = relative_misses(hard, weights).values()
        return any(abs(miss) > HARD_TOLERANCE for miss in misses)

    with threadpool_limits(limits=1, user_api="blas"):
        weights = newton(initial, targets, softness)
        # Where soft targets pull against each other (tiny samples) Newton can stall a
        # hair short of the hard ones: a last pass on those alone lands them.
        if missed(weights):
            weights = newton(weights, hard, softness)
        # The line search stops where the dual is flat to floating point, which can
        # still be a hair (1e-10) short: full Newton steps from there converge.
        for _ in range(POLISHING_STEPS):
            if not missed(weights):
                break
            weights = newton_step(weights, hard)
    if missed(weights):
        raise CalibrationError(unmet(targets, weights))
    return weights


def newton(initial: np.ndarray, targets: list[Target], softness: float) -> np.ndarray:
    """The weights at the dual's minimum, or where floating point stops improving it."""
    initial = np.asarray(initial, dtype=np.float64)
    if not targets:
        return initial.copy()
    design = design_matrix(initial, targets)
    soft = np.array([0.0 if t.hard else softness for t in targets])
    share = initial / float(initial.sum())

    def dual(multipliers: np.ndarray) -> tuple[float, np.ndarray]:
        ratio = np.exp(np.clip(design @ multipliers, -700.0, 700.0))
        value = float(share @ ratio) - float(multipliers.sum())
        return value + 0.5 * float(soft @ multipliers**2), ratio

    multipliers = np.zeros(len(targets))
    value, ratio = dual(multipliers)
    for _ in range(MAX_ITERATIONS):
        weighted = share * ratio
        gradient = design.T @ weighted - 1.0 + soft * multipliers
        if float(np.abs(gradient).max()) < TOLERANCE:
            break
        hessian = (design * weighted[:, None]).T @ design + np.diag(soft)
        # A tiny ridge keeps targets no household contributes to from making it singular.
        step = np.linalg.solve(hessian + 1e-12 * np.eye(len(targets)), gradient)
        improved = line_search(dual, multipliers, step, value, float(gradient @ step))
        if improved is None:
            break  # as close as floating point gets
        multipliers, value, ratio = improved
    weights: np.ndarray = initial * ratio
    return weights


def design_matrix(weights: np.ndarray, targets: list[Target]) -> np.ndarray:
    """Each household's contribution to each target, scaled so that a target met is 1
    per unit of total weight."""
    total = float(weights.sum())
    return np.column_stack([t.values.astype(np.float64) * (total / t.total) for t in targets])


def newton_step(weights: np.ndarray, targets: list[Target]) -> np.ndarray:
    """One full Newton step from `weights` towards the targets, without a line search."""
    design = design_matrix(weights, targets)
    share = weights / float(weights.sum())
    gradient = design.T @ share - 1.0
    hessian = (design * share[:, None]).T @ design
    step = np.linalg.solve(hessian + 1e-12 * np.eye(len(targets)), gradient)
    stepped: np.ndarray = weights * np.exp(-(design @ step))
    return stepped


def line_search(
    dual: Callable[[np.ndarray], tuple[float, np.ndarray]],
    multipliers: np.ndarray,
    step: np.ndarray,
    value: float,
    slope: float,
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """Backtracking (Armijo) along the Newton step; None when no step lowers the dual."""
    length = 1.0
    while length >= 1e-12:
        candidate = multipliers - length * step
        candidate_value, candidate_ratio = dual(candidate)
        if candidate_value <= value - 1e-4 * length * slope:
            return candidate, candidate_value, candidate_ratio
        length /= 2
    return None


def unmet(targets: list[Target], weights: np.ndarray) -> str:
    misses = [
        f"{t.name}: {float(t.values @ weights) / t.total - 1:+.2%}" for t in targets if t.hard
    ]
    return "hard targets not met: " + ", ".join(misses)


def relative_misses(targets: list[Target], weights: np.ndarray) -> dict[str, float]:
    """Each target's weighted total relative to the published one, minus 1."""
    return {t.name: float(t.values @ weights) / t.total - 1.0 for t in targets}
