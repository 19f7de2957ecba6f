"""Summary statistics: mean ± t-based 95 % confidence interval, and paired comparisons.

Paired comparisons use the **Wilcoxon signed-rank test** (two-sided, scipy's default zero handling
``"wilcox"``: zero differences are dropped), because per-session differences of bounded scores are
often skewed and tied; the mean difference is reported with its t-based 95 % CI alongside.  p-values
across the comparisons of one report are adjusted with Holm's step-down method.

>>> summary = mean_ci([1.0, 2.0, 3.0])
>>> round(summary.mean, 3), round(summary.half_width, 3)
(2.0, 2.484)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["MeanCI", "PairedResult", "holm", "mean_ci", "paired_test"]


@dataclass(frozen=True)
class MeanCI:
    mean: float
    half_width: float  # the CI is mean ± half_width
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def format(self, digits: int = 3) -> str:
        if self.n == 0:
            return "–"
        if math.isnan(self.half_width):
            return f"{self.mean:.{digits}f} (n={self.n})"
        return f"{self.mean:.{digits}f} ± {self.half_width:.{digits}f}"


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> MeanCI:
    """Mean and half-width of the t-based confidence interval (NaN half-width for n < 2)."""
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n == 0:
        return MeanCI(float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n < 2:
        return MeanCI(mean, float("nan"), n)
    sem = float(x.std(ddof=1) / math.sqrt(n))
    return MeanCI(mean, float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sem), n)


@dataclass(frozen=True)
class PairedResult:
    difference: MeanCI  # of a − b
    wins: int  # pairs where a > b
    losses: int
    ties: int
    statistic: float
    p_value: float
    test: str = "Wilcoxon signed-rank (two-sided)"


def paired_test(a: Sequence[float], b: Sequence[float]) -> PairedResult:
    """Compare paired samples ``a`` and ``b`` (same scenarios and seeds, same order)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired samples must have the same length")
    d = x - y
    wins, losses = int(np.sum(d > 1e-12)), int(np.sum(d < -1e-12))
    ties = int(d.size - wins - losses)
    if wins + losses == 0:
        return PairedResult(mean_ci(d), wins, losses, ties, 0.0, 1.0)
    with warnings.catch_warnings():
        # scipy warns that exact p-values are unavailable with ties; it then uses the normal
        # approximation, which is what we want.
        warnings.simplefilter("ignore", UserWarning)
        result = stats.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided")
    return PairedResult(mean_ci(d), wins, losses, ties, float(result.statistic), float(result.pvalue))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given)."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()
