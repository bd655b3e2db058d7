"""Significance tests behind the leaderboards: a paired test of each model against a dataset's best model over
matched (seed, fold) cells, and a Friedman test with Nemenyi post-hoc p-values over the models' ranks on datasets.

Only calls into SciPy (`wilcoxon`, `ttest_rel`, `friedmanchisquare`) and scikit-posthocs
(`posthoc_nemenyi_friedman`); nothing here re-derives a test statistic. The block design follows Demšar (2006),
"Statistical comparisons of classifiers over multiple data sets", JMLR 7: datasets are blocks, models are
treatments, and the value is a model's rank on a dataset (1 = best)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

#: Significance level of every test in the leaderboards.
ALPHA = 0.05
#: Fewest matched pairs for the Wilcoxon signed-rank test. With 5 pairs its smallest two-sided exact p-value is
#: 2 / 2**5 = 0.0625, so it could never reject at 0.05; below this the paired t-test is used.
MIN_WILCOXON_PAIRS = 6
#: Friedman/Nemenyi need at least this many models (treatments) and datasets (blocks).
MIN_FRIEDMAN_MODELS = 3
MIN_FRIEDMAN_DATASETS = 2

WILCOXON = "Wilcoxon signed-rank"
T_TEST = "paired t-test"
TEST_NAMES = {WILCOXON: "scipy.stats.wilcoxon", T_TEST: "scipy.stats.ttest_rel"}


@dataclass(frozen=True)
class PairedResult:
    """One model against the best one: which test, over how many matched pairs, and its two-sided p-value.

    `test` is "" and `p_value` NaN when fewer than two pairs match (nothing can be tested)."""

    test: str
    n_pairs: int
    statistic: float
    p_value: float

    @property
    def tested(self) -> bool:
        return bool(self.test) and not np.isnan(self.p_value)

    @property
    def significant(self) -> bool:
        """True when the difference from the best is significant at `ALPHA`."""
        return self.tested and self.p_value < ALPHA


def paired_test(candidate: pd.Series, best: pd.Series) -> PairedResult:
    """Two-sided paired test of `candidate` against `best` over the index values both have (their (seed, fold)).

    Wilcoxon signed-rank with at least `MIN_WILCOXON_PAIRS` pairs, else the paired t-test; when every paired
    difference is exactly zero the runs are identical and the p-value is 1 (SciPy's t-test would return NaN).
    """
    joined = pd.concat({"candidate": candidate, "best": best}, axis=1, join="inner").dropna()
    n = len(joined)
    if n < 2:
        return PairedResult("", n, float("nan"), float("nan"))
    a, b = joined["candidate"].to_numpy(float), joined["best"].to_numpy(float)
    test = WILCOXON if n >= MIN_WILCOXON_PAIRS else T_TEST
    if np.all(a == b):
        return PairedResult(test, n, 0.0, 1.0)
    with warnings.catch_warnings():  # constant differences: SciPy warns about precision and returns p = 0
        warnings.simplefilter("ignore", RuntimeWarning)
        result = scipy_stats.wilcoxon(a, b) if test == WILCOXON else scipy_stats.ttest_rel(a, b)
    return PairedResult(test, n, float(result.statistic), float(result.pvalue))


@dataclass
class FriedmanResult:
    """The Friedman test over a (datasets x models) rank matrix and the Nemenyi post-hoc p-values.

    When not `applicable`, `reason` says why and the numbers are NaN / empty."""

    applicable: bool
    reason: str
    n_models: int
    n_datasets: int
    statistic: float = float("nan")
    p_value: float = float("nan")
    mean_ranks: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    nemenyi: pd.DataFrame = field(default_factory=pd.DataFrame)
    excluded: tuple[str, ...] = ()

    def summary(self) -> str:
        """One sentence for table footnotes and the console."""
        dropped = (f" ({', '.join(self.excluded)} left out: not run on every dataset)" if self.excluded else "")
        if not self.applicable:
            return f"Friedman test not applicable: {self.reason}{dropped}."
        verdict = "ranks differ" if self.p_value < ALPHA else "no significant difference between ranks"
        return (f"Friedman test over {self.n_models} models x {self.n_datasets} datasets: "
                f"chi2 = {self.statistic:.3f}, p = {self.p_value:.3g} ({verdict} at {ALPHA}); "
                f"Nemenyi post-hoc p-values in the critical-difference diagram{dropped}.")


def friedman(ranks: pd.DataFrame) -> FriedmanResult:
    """Friedman test (scipy) and Nemenyi post-hoc (scikit-posthocs) on `ranks` (rows datasets, columns models,
    1 = best). Models missing from a dataset are left out (the design needs complete blocks)."""
    complete = ranks.dropna(axis=1, how="any")
    complete = complete.rank(axis=1, method="average")  # re-rank among the models that ran everywhere
    excluded = tuple(str(m) for m in ranks.columns if m not in complete.columns)
    k, n = complete.shape[1], complete.shape[0]
    if k < MIN_FRIEDMAN_MODELS or n < MIN_FRIEDMAN_DATASETS:
        reason = (f"it needs at least {MIN_FRIEDMAN_MODELS} models and {MIN_FRIEDMAN_DATASETS} datasets, "
                  f"got {k} model(s) on {n} dataset(s)")
        return FriedmanResult(False, reason, k, n, excluded=excluded)
    values = complete.to_numpy(float)
    if np.all(values == values[:, :1]):
        return FriedmanResult(False, "every model has the same rank on every dataset", k, n, excluded=excluded)
    import scikit_posthocs  # imported here: it pulls in statsmodels and seaborn

    result = scipy_stats.friedmanchisquare(*values.T)
    nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(complete.reset_index(drop=True))  # labelled by model
    return FriedmanResult(True, "", k, n, float(result.statistic), float(result.pvalue),
                          complete.mean(axis=0).sort_values(), nemenyi, excluded)


@dataclass(frozen=True)
class Concordance:
    """Kendall's coefficient of concordance W of several rankings of the same models (1 = identical rankings,
    0 = no agreement), with the number of rankings (`judges`) and of models ranked."""

    w: float
    judges: int
    models: int


def kendalls_w(scores: pd.DataFrame) -> Concordance:
    """Kendall's W of the rows of `scores` (rows: judges, e.g. seeds; columns: models; values: ranks or any score
    where lower is better), models with a missing value left out. With tie correction (Kendall & Babington Smith,
    "The problem of m rankings", Ann. Math. Stat. 10(3), 1939):

        W = 12 S / (m^2 (n^3 - n) - m sum_j T_j),  S = sum_i (R_i - mean R)^2,  T_j = sum over ties (t^3 - t)

    for m judges ranking n models, R_i the rank sum of model i. NaN with fewer than 2 judges or models, or when
    every judge ties every model."""
    complete = scores.dropna(axis=1, how="any")
    m, n = complete.shape
    if m < 2 or n < 2:
        return Concordance(float("nan"), m, n)
    ranks = complete.rank(axis=1, method="average").to_numpy(float)
    rank_sums = ranks.sum(axis=0)
    s = float(((rank_sums - rank_sums.mean()) ** 2).sum())
    ties = 0.0
    for row in complete.to_numpy(float):
        _, counts = np.unique(row, return_counts=True)
        ties += float((counts**3 - counts).sum())
    denominator = m**2 * (n**3 - n) - m * ties
    return Concordance(12 * s / denominator if denominator > 0 else float("nan"), m, n)
