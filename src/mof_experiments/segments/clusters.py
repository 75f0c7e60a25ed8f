"""Unsupervised clusters of companies from their behavior, with a profile an analyst can name.

:func:`cluster_companies` fits a scikit-learn ``Pipeline`` for each ``k`` in ``k_range``::

    FunctionTransformer(cluster_features) -> StandardScaler -> KMeans(k, n_init=4, random_state)

and keeps the ``k`` with the highest silhouette score (computed on a seeded sample of at most
``silhouette_sample`` companies). The model space (:data:`CLUSTER_FEATURES`) uses logs of the
heavy-tailed counts so that a few huge accounts do not dominate:

- ``log_calls`` = log(1 + calls)
- ``log_sandbox_calls_per_day`` = log(1 + sandbox_calls_per_day)
- ``log_production_calls_per_day`` = log(1 + production_calls_per_day)
- ``sandbox_error_rate``, ``endpoint_share``
- ``active_day_share`` = active_days / max(days_observed, 1)
- ``log_days_since_last_call`` = log(1 + days_since_last_call)
- ``called`` = 1 if the company made any call, else 0 (separates "never called" from "a few calls")

Clusters are numbered 0, 1, ... by decreasing size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.errors import MofInputError
from mof_experiments.segments.behavior import FEATURES
from mof_experiments.stats import LOW_DATA_N

CLUSTER_FEATURES = ("log_calls", "log_sandbox_calls_per_day", "log_production_calls_per_day",
                    "sandbox_error_rate", "endpoint_share", "active_day_share", "log_days_since_last_call",
                    "called")
_NEEDED = ("calls", "sandbox_calls_per_day", "production_calls_per_day", "sandbox_error_rate", "endpoint_share",
           "active_days", "days_observed", "days_since_last_call")
#: KMeans restarts per k (the best of N_INIT seeded runs is kept).
N_INIT = 4
# Clusters with fewer than LOW_DATA_N companies (the package's low-data rule) are flagged ``low_data``.


def cluster_features(behavior: pd.DataFrame) -> np.ndarray:
    """The model matrix (columns :data:`CLUSTER_FEATURES`) from behavior columns."""
    b = behavior
    return np.column_stack([
        np.log1p(b["calls"].to_numpy(float)),
        np.log1p(b["sandbox_calls_per_day"].to_numpy(float)),
        np.log1p(b["production_calls_per_day"].to_numpy(float)),
        b["sandbox_error_rate"].to_numpy(float),
        b["endpoint_share"].to_numpy(float),
        b["active_days"].to_numpy(float) / np.maximum(b["days_observed"].to_numpy(float), 1.0),
        np.log1p(b["days_since_last_call"].to_numpy(float)),
        (b["calls"].to_numpy(float) > 0).astype(float),
    ])


def make_pipeline(k: int, random_state: int = 0):
    """The unfitted clustering pipeline for ``k`` clusters."""
    from sklearn.cluster import KMeans
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return Pipeline([
        ("features", FunctionTransformer(cluster_features)),
        ("scale", StandardScaler()),
        ("kmeans", KMeans(n_clusters=k, n_init=N_INIT, random_state=random_state)),
    ])


@dataclass(frozen=True)
class ClusterResult:
    """Fitted clusters.

    Attributes
    ----------
    k : the chosen number of clusters.
    labels : DataFrame ``company_id``, ``cluster`` (the ``clusters`` table).
    profile : one row per cluster (see :func:`cluster_profile`).
    scores : DataFrame ``k``, ``silhouette`` for every k tried, ``chosen`` marks the pick.
    pipeline : the fitted scikit-learn Pipeline of the chosen k (its KMeans labels are
        renumbered by size in ``labels``; use :meth:`predict` for new rows).
    random_state : seed of KMeans and of the silhouette sample.
    """

    k: int
    labels: pd.DataFrame
    profile: pd.DataFrame
    scores: pd.DataFrame
    pipeline: object
    random_state: int
    _relabel: tuple = ()

    @property
    def summary(self) -> pd.DataFrame:
        return self.profile

    def predict(self, behavior: pd.DataFrame) -> np.ndarray:
        """Cluster numbers (as in ``labels``) for behavior rows."""
        raw = self.pipeline.predict(behavior)
        return np.asarray(self._relabel)[raw]

    def _repr_html_(self) -> str:
        head = (f"<p><b>{self.k} clusters</b> (KMeans, k chosen by silhouette among "
                f"{', '.join(map(str, self.scores['k']))}; random_state={self.random_state})</p>")
        return head + self.profile.to_html(index=False, float_format=lambda x: f"{x:.3g}")

    def __str__(self) -> str:
        return f"{self.k} clusters\n" + self.profile.to_string(index=False)


def cluster_companies(behavior: pd.DataFrame, *, k_range=range(3, 9), random_state: int = 0,
                      silhouette_sample: int = 3000) -> ClusterResult:
    """Cluster companies on their behavior; pick k by silhouette.

    Parameters
    ----------
    behavior : the behavior table (:func:`~.behavior.behavior`), one row per company.
    k_range : candidate numbers of clusters (each at least 2).
    random_state : seed of KMeans and of the silhouette sample.
    silhouette_sample : companies sampled (seeded) to compute the silhouette score.
    """
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    require_columns(behavior, ["company_id", *_NEEDED], "behavior")
    ks = sorted({int(k) for k in k_range})
    if not ks or ks[0] < 2:
        raise MofInputError(f"k_range must hold numbers >= 2, got {list(k_range)}")
    n = len(behavior)
    ks = [k for k in ks if k < n]
    if not ks:
        raise MofInputError(f"too few companies ({n}) for {min(k_range)} clusters")
    rows, fitted = [], {}
    size, X, sample, distances = min(silhouette_sample, n), None, None, None
    # One OpenMP thread: on a busy 2-core machine KMeans' threads wait on each other (13 s
    # instead of 2.5 s for 87k companies, benchmarks/README.md); the labels are the same.
    with threadpool_limits(limits=1):
        for k in ks:
            pipe = make_pipeline(k, random_state).fit(behavior)
            labels = pipe.named_steps["kmeans"].labels_
            if len(set(labels)) < 2:
                score = np.nan
            else:
                if X is None:                  # the scaled features do not depend on k
                    X = pipe[:-1].transform(behavior)
                    if _one_chunk(size):
                        sample, distances = _silhouette_distances(X, size, random_state)
                score = float(silhouette_score(distances, labels[sample], metric="precomputed")
                              if distances is not None else
                              silhouette_score(X, labels, sample_size=size, random_state=random_state))
            rows.append((k, score))
            fitted[k] = pipe
    scores = pd.DataFrame(rows, columns=["k", "silhouette"])
    if scores["silhouette"].isna().all():
        raise MofInputError("companies' behavior does not separate into clusters (all identical)")
    best = int(scores.loc[scores["silhouette"].idxmax(), "k"])
    scores["chosen"] = scores["k"] == best
    pipe = fitted[best]
    raw = pipe.named_steps["kmeans"].labels_
    sizes = np.bincount(raw, minlength=best)
    order = np.lexsort((np.arange(best), -sizes))          # largest first, ties by KMeans number
    relabel = np.empty(best, dtype=int)
    relabel[order] = np.arange(best)
    labels = pd.DataFrame({"company_id": behavior["company_id"].astype("str").to_numpy(),
                           "cluster": relabel[raw].astype("int64")})
    profile = cluster_profile(behavior, labels)
    return ClusterResult(best, labels, profile, scores, pipe, random_state, tuple(int(x) for x in relabel))


def _one_chunk(sample_size: int) -> bool:
    """Whether scikit-learn's chunked distances of ``sample_size`` rows come in one chunk: its
    rows per chunk are ``working_memory`` (MiB) // the bytes of one row of distances."""
    import sklearn

    return int(sklearn.get_config()["working_memory"] * 2**20 // (8 * sample_size)) >= sample_size


def _silhouette_distances(X: np.ndarray, sample_size: int, random_state: int):
    """The silhouette sample and its distance matrix, computed once for every k.

    ``silhouette_score(X, labels, sample_size=s, random_state=r)`` draws the same rows for every
    k (the scaled features do not depend on k) and computes their 3,000 x 3,000 distances each
    time; this draws them as it does (``check_random_state(r).permutation(n)[:s]``) and computes
    the matrix as its chunk does (``pairwise_distances(Xs, Xs)``, zero diagonal), so
    ``silhouette_score(D, labels[rows], metric="precomputed")`` is the same number, bit for bit
    (test), for a sixth of the work at six candidate k. Used when scikit-learn computes the
    sample's distances in one chunk (:func:`_one_chunk`; 3,000 rows do), so the matrix is the
    one it would build and fits its working memory.
    """
    from sklearn.metrics import pairwise_distances
    from sklearn.utils import check_random_state

    rows = check_random_state(random_state).permutation(X.shape[0])[:sample_size]
    Xs = X[rows]
    D = pairwise_distances(Xs, Xs)
    D.flat[::len(rows) + 1] = 0
    return rows, D


def cluster_profile(behavior: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster: size, feature medians and conversion so far with a 95% CI.

    Returns
    -------
    DataFrame: ``cluster``, ``companies``, ``share`` (of all companies), ``median_<feature>``
    for every behavior feature except ``in_production``, ``converted`` (companies with
    ``in_production == 1``), ``conversion_rate`` (= converted / companies),
    ``conversion_ci_low``, ``conversion_ci_high`` (Wilson 95%, statsmodels), ``low_data``
    (fewer than :data:`LOW_DATA_N` companies).
    """
    from statsmodels.stats.proportion import proportion_confint

    df = behavior.merge(labels, on="company_id", how="inner", validate="one_to_one")
    g = df.groupby("cluster")
    med = g[[c for c in FEATURES if c != "in_production"]].median().add_prefix("median_")
    out = pd.DataFrame({"companies": g.size(), "converted": g["in_production"].sum().astype("int64")})
    out["share"] = out["companies"] / len(df)
    out = out.join(med)
    lo, hi = proportion_confint(out["converted"], out["companies"], alpha=0.05, method="wilson")
    out["conversion_rate"] = out["converted"] / out["companies"]
    # Wilson bounds at 0/n and n/n are exact in theory; guard against rounding (0.9999999 < 1)
    out["conversion_ci_low"] = np.minimum(np.asarray(lo, dtype=float), out["conversion_rate"])
    out["conversion_ci_high"] = np.maximum(np.asarray(hi, dtype=float), out["conversion_rate"])
    out["low_data"] = out["companies"] < LOW_DATA_N
    out = out.reset_index()
    cols = ["cluster", "companies", "share", *med.columns, "converted", "conversion_rate", "conversion_ci_low",
            "conversion_ci_high", "low_data"]
    return out[cols]
