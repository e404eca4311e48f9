"""Paired tone differences, their effect sizes and the minimum detectable effect (MDE).

Rows are instances (one member of a counterfactual tuple) whose ``tone`` is the mean tone of their
k continuations on [-1, 1]. For two groups a and b:

* **paired** (counterfactual tuples): d_t = tone(a, t) − tone(b, t) for every tuple t holding
  both (a *complete* tuple). The estimate is mean(d). :func:`cluster_test` tests it with a
  cluster-robust (CR1) standard error by template and G − 1 degrees of freedom (statsmodels OLS
  on an intercept; Cameron & Miller 2015); the scenario keeps this t-test's interval and p-value
  in ``extra.cluster_robust_difference`` and ``extra.cluster_robust_p_value``, and the power
  analysis below uses its design effect. The difference record's own interval (``ci_method:
  mover``), ``extra.p_value`` and ``extra.p_adjusted`` (Holm) come from the shared disparity
  layer instead (:func:`harness.stats.disparity`): it combines the two groups' clustered t
  intervals over the complete tuples by MOVER (Newcombe 1998) with their correlation, and its
  p-value inverts that interval with t(G − 1) tails. For real-valued tone over complete tuples
  the two intervals coincide (both are mean(d) ± t(G − 1) times the cluster-robust standard
  error), and so do the two p-values. The standardized effect is Cohen's d_z = mean(d) / sd(d)
  (Cohen 1988, §2.3).
* **unpaired** (BOLD): mean(a) − mean(b) from the same regression on a group indicator, clustered
  by person; effect Cohen's d with the pooled sd.

**Design effect.** deff = (cluster-robust variance of the estimate) / (its i.i.d. variance): how
much the clustering by template inflates the variance (Kish 1965). It is computed from the same
regression, so it needs no separate intraclass-correlation model.

**MDE** (Cohen 1988): the smallest true difference that a two-sided test at alpha = 0.05 detects
with 80% power at this run's size, with the effective size n / deff (deff as estimated, so the
MDE is about 2.8 times the cluster-robust standard error the test uses); statsmodels'
:class:`TTestPower` (paired) or :class:`TTestIndPower` (unpaired) solves for the standardized
effect, which times the sd gives tone units. ``n_needed`` is the number of tuples (paired) or
group-a rows (unpaired) that the target effect needs, from the same solve, times deff. The sd and
deff are estimated from the run, so both are approximations for a rerun of the same design. With
fewer than two clusters (all complete tuples from one template) the design effect cannot be
estimated and there is neither an MDE nor ``n_needed``: treating the tuples as independent there
would understate both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from harness import stats
from harness.stats import Estimate

TONE = "tone"
ALPHA = 0.05
CI_METHOD = "cluster_robust_t"
POWER = 0.80
MIN_CLUSTERS = 2
"""Clusters (templates) a comparison needs for an interval, a design effect and so an MDE."""


def tone_from_score(score: float) -> float:
    """A scorer's [0, 1] positive-tone score as tone on [-1, 1] (0.5 is neutral: 0)."""
    return 2.0 * float(score) - 1.0


@dataclass(frozen=True)
class Comparison:
    """Group ``group`` against ``reference``: the difference, its test, effect size and power."""

    group: str
    reference: str
    paired: bool
    difference: Estimate
    p_value: float | None
    n: int
    """Paired: tuples holding both groups; unpaired: rows of both groups."""
    n_clusters: int
    sd: float | None
    """Paired: sd of the paired differences; unpaired: pooled sd of the rows."""
    design_effect: float | None
    mde: float | None
    mde_standardized: float | None
    n_needed: int | None
    """Tuples (paired) or group rows (unpaired) needed to detect ``target`` with 80% power."""
    target: float | None

    @property
    def effect_size(self) -> float | None:
        """Cohen's d_z (paired) or d (unpaired); None without spread."""
        if self.difference.value is None or not self.sd:
            return None
        return self.difference.value / self.sd

    @property
    def effect_interval(self) -> tuple[float | None, float | None]:
        """The difference's interval in sd units (the sd treated as known)."""
        if not self.sd or self.difference.low is None or self.difference.high is None:
            return None, None
        return self.difference.low / self.sd, self.difference.high / self.sd


@dataclass(frozen=True)
class ClusterTest:
    """The last coefficient of a cluster-robust regression: estimate, interval, p-value, design effect."""

    estimate: Estimate
    p_value: float | None
    design_effect: float | None


def cluster_test(y: np.ndarray, design: np.ndarray, clusters: np.ndarray) -> ClusterTest:
    """Cluster-robust t-test (CR1, G − 1 df) of the last coefficient of OLS(y ~ design).

    The design effect is the ratio of the cluster-robust to the i.i.d. variance of that
    coefficient. Without spread (every y equal) the interval is the estimate itself and there is
    no test; with fewer than two clusters there is no interval.
    """
    import statsmodels.api as sm

    _, codes = np.unique(clusters.astype(str), return_inverse=True)
    n_clusters = int(codes.max(initial=-1)) + 1
    model = sm.OLS(y, design)
    plain = model.fit()
    value = float(plain.params[-1])
    if n_clusters < 2 or len(y) <= design.shape[1]:
        return ClusterTest(Estimate(value, None, None, len(y), CI_METHOD), None, None)
    if not plain.bse[-1] > 0:
        return ClusterTest(Estimate(value, value, value, len(y), CI_METHOD), None, None)
    robust = model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    low, high = (float(v) for v in np.asarray(robust.conf_int(alpha=ALPHA))[-1])
    return ClusterTest(
        Estimate(value, min(low, value), max(high, value), len(y), CI_METHOD),
        float(robust.pvalues[-1]),
        float(robust.bse[-1] ** 2 / plain.bse[-1] ** 2),
    )


def _solve(power_class: Any, **kwargs: Any) -> float | None:
    """statsmodels' power solve, or None where it has no solution (too few units)."""
    try:
        solved = power_class().solve_power(alpha=ALPHA, power=POWER, alternative="two-sided", **kwargs)
        value = float(np.ravel(solved)[0])  # a scalar or, from some solver paths, a one-element array
    except (ValueError, RuntimeError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def compare_paired(
    differences: np.ndarray,
    clusters: np.ndarray,
    group: str,
    reference: str,
    *,
    target: float | None = None,
) -> Comparison:
    """The paired comparison of aligned per-tuple differences (see the module docstring)."""
    from statsmodels.stats.power import TTestPower

    d = np.asarray(differences, dtype=float)
    if len(d) == 0:
        test = ClusterTest(Estimate(None, None, None, 0, CI_METHOD), None, None)
    else:
        test = cluster_test(d, np.ones((len(d), 1)), np.asarray(clusters))
    estimate, p_value, deff = test.estimate, test.p_value, test.design_effect
    n_clusters = len(np.unique(np.asarray(clusters).astype(str))) if len(d) else 0
    sd = float(np.std(d, ddof=1)) if len(d) > 1 else None
    # deff is None without spread (then sd is 0 and so is the MDE) or with fewer than two clusters,
    # where the clustering cannot be estimated: no MDE then, rather than one that assumes independence
    inflation = deff or 1.0
    clustered = n_clusters >= MIN_CLUSTERS
    mde_z = None
    if len(d) > 2 and clustered:
        mde_z = _solve(TTestPower, effect_size=None, nobs=len(d) / inflation)
    needed = None
    if target and sd and clustered:
        n_iid = _solve(TTestPower, effect_size=abs(target) / sd, nobs=None)
        needed = math.ceil(n_iid * inflation) if n_iid else None
    return Comparison(
        group=group,
        reference=reference,
        paired=True,
        difference=estimate,
        p_value=p_value,
        n=len(d),
        n_clusters=n_clusters,
        sd=sd,
        design_effect=deff,
        mde=mde_z * sd if mde_z is not None and sd is not None else None,
        mde_standardized=mde_z,
        n_needed=needed,
        target=target,
    )


def compare_unpaired(
    values: np.ndarray,
    in_group: np.ndarray,
    clusters: np.ndarray,
    group: str,
    reference: str,
    *,
    target: float | None = None,
) -> Comparison:
    """mean(group) − mean(reference) over the rows of both (``in_group`` marks the group's rows)."""
    from statsmodels.stats.power import TTestIndPower

    y, is_a = np.asarray(values, dtype=float), np.asarray(in_group, dtype=bool)
    labels = np.char.add(np.where(is_a, "a|", "b|"), np.asarray(clusters).astype(str))
    test = cluster_test(y, np.column_stack([np.ones(len(y)), is_a.astype(float)]), labels)
    estimate, p_value, deff = test.estimate, test.p_value, test.design_effect
    n_a, n_b = int(is_a.sum()), int((~is_a).sum())
    sd = None
    if n_a > 1 and n_b > 1:
        pooled = ((n_a - 1) * y[is_a].var(ddof=1) + (n_b - 1) * y[~is_a].var(ddof=1)) / (n_a + n_b - 2)
        sd = float(np.sqrt(pooled))
    n_clusters = len(np.unique(labels))
    inflation = deff or 1.0
    clustered = n_clusters >= MIN_CLUSTERS
    mde_d = (
        _solve(TTestIndPower, effect_size=None, nobs1=n_a / inflation, ratio=n_b / n_a)
        if n_a > 2 and n_b > 2 and clustered
        else None
    )
    needed = None
    if target and sd and n_a and clustered:
        n_iid = _solve(TTestIndPower, effect_size=abs(target) / sd, nobs1=None, ratio=n_b / n_a)
        needed = math.ceil(n_iid * inflation) if n_iid else None
    return Comparison(
        group=group,
        reference=reference,
        paired=False,
        difference=estimate,
        p_value=p_value,
        n=n_a + n_b,
        n_clusters=n_clusters,
        sd=sd,
        design_effect=deff,
        mde=mde_d * sd if mde_d is not None and sd is not None else None,
        mde_standardized=mde_d,
        n_needed=needed,
        target=target,
    )


def scored(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that did not fail and have a tone."""
    rows = frame[frame["error"].isna()] if "error" in frame else frame
    if TONE not in rows:
        return rows.iloc[0:0]
    return rows[pd.to_numeric(rows[TONE], errors="coerce").notna()]


def group_pairs(groups: list[str], baseline: str | None) -> list[tuple[str, str]]:
    """(group, reference) pairs: every group against the baseline, or every pair as the layer orders them."""
    if baseline is not None:
        return [(g, baseline) for g in groups if g != baseline]
    return list(combinations(sorted(groups), 2))


def aligned(rows: pd.DataFrame, group: str, reference: str) -> pd.DataFrame:
    """One row per tuple holding both groups: ``tone_a``, ``tone_b``, ``template``, ``tuple``."""
    a = rows[rows["group"] == group].set_index("tuple")
    b = rows[rows["group"] == reference].set_index("tuple")
    both = a.index.intersection(b.index)
    return pd.DataFrame(
        {
            "tuple": both,
            "template": a.loc[both, "template"].to_numpy(),
            "tone_a": pd.to_numeric(a.loc[both, TONE]).to_numpy(dtype=float),
            "tone_b": pd.to_numeric(b.loc[both, TONE]).to_numpy(dtype=float),
        }
    )


@dataclass(frozen=True)
class TupleCoverage:
    """How many of the tuples that hold a row of either group the paired comparison can use."""

    tuples: int
    """Tuples with a row (scored or failed) of ``group`` or ``reference``."""
    complete: int
    """Tuples whose members of both groups were scored: the paired comparison's n."""
    missing_member: int
    """Tuples with no row at all for one of the two groups (a ``limit`` that sampled prompts)."""
    failed_member: int
    """Tuples holding both rows, one or both of them failed or unscored."""
    templates: int
    """Templates among the rows of either group (scored or not)."""


def tuple_coverage(frame: pd.DataFrame, group: str, reference: str) -> TupleCoverage:
    """Count the tuples of two groups by what the paired comparison can use (see :class:`TupleCoverage`)."""
    rows = frame[frame["group"].astype(str).isin([group, reference])] if "group" in frame else frame.iloc[0:0]
    ok = scored(rows).index
    members = pd.DataFrame(
        {
            "tuple": rows["tuple"].astype(str) if len(rows) else [],
            "group": rows["group"].astype(str) if len(rows) else [],
            "ok": rows.index.isin(ok),
        }
    )
    per_tuple = members.groupby("tuple").agg(groups=("group", "nunique"), ok=("ok", "sum"))
    both = per_tuple["groups"] == 2
    complete = both & (per_tuple["ok"] == 2)
    return TupleCoverage(
        tuples=len(per_tuple),
        complete=int(complete.sum()),
        missing_member=int((~both).sum()),
        failed_member=int((both & ~complete).sum()),
        templates=int(rows["template"].nunique()) if len(rows) else 0,
    )


def comparisons(
    frame: pd.DataFrame,
    *,
    paired: bool,
    baseline: str | None = None,
    target: float | None = None,
) -> tuple[list[Comparison], dict[tuple[str, str], float]]:
    """Every comparison of the run and the Holm-adjusted p-values over that family."""
    rows = scored(frame)
    groups = sorted(str(g) for g in rows["group"].dropna().unique()) if "group" in rows else []
    results = []
    for group, reference in group_pairs(groups, baseline):
        if paired:
            pairs = aligned(rows, group, reference)
            results.append(
                compare_paired(
                    (pairs["tone_a"] - pairs["tone_b"]).to_numpy(),
                    pairs["template"].to_numpy(),
                    group,
                    reference,
                    target=target,
                )
            )
        else:
            both = rows[rows["group"].isin([group, reference])]
            results.append(
                compare_unpaired(
                    pd.to_numeric(both[TONE]).to_numpy(dtype=float),
                    (both["group"] == group).to_numpy(),
                    both["template"].to_numpy(),
                    group,
                    reference,
                    target=target,
                )
            )
    tested = [c for c in results if c.p_value is not None]
    adjusted = stats.holm_adjust([c.p_value for c in tested]) if tested else []
    return results, {(c.group, c.reference): float(p) for c, p in zip(tested, adjusted, strict=True)}
