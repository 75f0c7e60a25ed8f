"""Heavy tails: winsorize a continuous metric, and warn when one unit dominates an arm.

Winsorizing
-----------
``winsorize(values, q)`` caps every value above the ``q``-quantile at that quantile (and, with
``lower_q``, every value below the ``lower_q``-quantile at it). The quantile is computed
**once over all arms pooled** (a cap per arm would move the arms differently and bias the
comparison) and over the **non-zero** values only, as Statsig does: most units of an email
metric are 0, and a quantile over all units would cap every buyer at 0. For the same reason
the lower cap applies to non-zero values only (a zero stays 0). numpy's default
(linear) quantile. Default ``q`` = :data:`DEFAULT_WINSORIZE_Q` = 0.99: the top 1% of the
non-zero values are capped. Statsig's default is 0.999, made for millions of users; at our
sizes (hundreds to thousands of non-zero companies) it barely moves an outlier: among 45,000
companies with 846 buyers (spend lognormal, mostly 10-700) and one spend of 49,854, the 0.999
cap is 9,888, still 21% of its arm's total; the 0.99 cap is 698 (``tests/test_stats_tails.py``). Winsorizing changes the estimand
(the mean of the capped metric), so a readout must say when it was applied.

Dominance
---------
``dominance(data, arm=, outcome=)`` flags every arm in which one unit holds more than
``threshold`` (default 10%) of the arm's total: ``max |y| / sum |y|`` (absolute values, so a
metric with negative values cannot hide a unit behind a small net total), and more than twice
an equal share (``2 / n``): in an arm of fewer than 20 units some unit always holds over 10%,
which says the arm is small (the readout flags it LOW DATA), not that one unit dominates. It also reports the
arm's mean without that unit, which shows how far one unit moves the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError
from mof_experiments.checks import check_alpha, require_columns, finite_array, labels, numeric

#: Default upper quantile of :func:`winsorize` (of the non-zero values, all arms pooled).
DEFAULT_WINSORIZE_Q = 0.99
#: A unit holding more than this share of its arm's total is flagged by :func:`dominance`.
DOMINANCE_THRESHOLD = 0.10


@dataclass(frozen=True)
class Winsorized:
    """Values after winsorizing: ``values`` (a new array), the caps ``upper`` / ``lower`` (NaN
    when not applied), ``q`` / ``lower_q``, ``n_capped`` (values changed), ``n_nonzero`` (values
    the quantiles were computed from), ``mean_before``, ``mean_after``."""

    values: np.ndarray = field(repr=False)
    q: float
    lower_q: float | None
    upper: float
    lower: float
    n_capped: int
    n_nonzero: int
    mean_before: float
    mean_after: float

    def __str__(self) -> str:
        return (f"winsorized at the {self.q:.4g} quantile of {self.n_nonzero:,} non-zero values: cap {self.upper:,.6g}, "
                f"{self.n_capped:,} values changed, mean {self.mean_before:,.6g} -> {self.mean_after:,.6g}")

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>"


def winsorize(values, q: float = DEFAULT_WINSORIZE_Q, *, lower_q: float | None = None,
              name: str = "values") -> Winsorized:
    """Cap values above the ``q``-quantile (and below the ``lower_q``-quantile) of the non-zero values.

    Parameters
    ----------
    values : one number per unit, all arms together.
    q : upper quantile in (0, 1); default 0.99.
    lower_q : optional lower quantile in (0, q); raises non-zero values below it.

    Returns
    -------
    :class:`Winsorized`; ``values`` is a new array (the input is not changed). With no
    non-zero value there is nothing to cap.
    """
    q = check_alpha(q, "q")
    if lower_q is not None:
        lower_q = check_alpha(lower_q, "lower_q")
        if lower_q >= q:
            raise MofConfigError(f"lower_q ({lower_q:g}) must be below q ({q:g})")
    y = finite_array(values, name)
    nz = y[y != 0]
    out = y.copy()
    upper = lower = np.nan
    if len(nz):
        upper = float(np.quantile(nz, q))
        out = np.minimum(out, upper)
        if lower_q is not None:
            lower = float(np.quantile(nz, lower_q))
            out = np.where(out != 0, np.maximum(out, lower), out)
    return Winsorized(out, q, lower_q, upper, lower, int((out != y).sum()), len(nz),
                      float(y.mean()) if len(y) else np.nan, float(out.mean()) if len(out) else np.nan)


@dataclass(frozen=True)
class WinsorizedFrame:
    """A copy of the frame with some columns winsorized (``data``) and one ``summary`` row per
    column: column, q, lower_q, upper, lower, n_capped, n_nonzero, mean_before, mean_after."""

    data: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)

    def __str__(self) -> str:
        return "\n".join(f"{r.column}: cap {r.upper:,.6g} (q={r.q:g}), {r.n_capped:,} values changed, "
                         f"mean {r.mean_before:,.6g} -> {r.mean_after:,.6g}" for r in self.summary.itertuples())

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


def winsorize_columns(data: pd.DataFrame, columns: Sequence[str] | Mapping[str, float | None], *,
                      q: float = DEFAULT_WINSORIZE_Q, lower_q: float | None = None,
                      source: str | None = None) -> WinsorizedFrame:
    """Winsorize several columns of a frame, each at its own quantile, over all rows (all arms).

    ``columns``: names (each capped at ``q``), or ``{name: quantile}`` for a quantile per metric
    (``None`` for the default ``q``), e.g. ``{"revenue": 0.999, "calls": 0.99}``.
    Returns a :class:`WinsorizedFrame`; ``data`` is not changed.
    """
    if isinstance(columns, str):
        columns = [columns]
    spec = {str(k): v for k, v in columns.items()} if isinstance(columns, Mapping) else {str(c): None for c in columns}
    if not spec:
        raise MofConfigError("winsorize: name at least one column")
    require_columns(data, list(spec), source, nonempty=True)
    out = data.copy()
    rows = []
    for col, qq in spec.items():
        w = winsorize(numeric(data, col, source), q if qq is None else qq, lower_q=lower_q, name=col)
        out[col] = w.values
        rows.append({"column": col, "q": w.q, "lower_q": w.lower_q, "upper": w.upper, "lower": w.lower,
                     "n_capped": w.n_capped, "n_nonzero": w.n_nonzero, "mean_before": w.mean_before,
                     "mean_after": w.mean_after})
    cols = ["column", "q", "lower_q", "upper", "lower", "n_capped", "n_nonzero", "mean_before", "mean_after"]
    return WinsorizedFrame(out, pd.DataFrame(rows, columns=cols))


@dataclass(frozen=True)
class Dominance:
    """Which arms have one unit holding more than ``threshold`` of the arm's total.

    ``summary``: one row per arm. Columns: arm, n, total (sum of the values), top_unit (the
    unit's id, or its row number from 1 without ``unit``), top_value, top_share (``|top_value|
    / sum |y|``), mean, mean_without_top, dominated (top_share > threshold and > 2 / n).
    ``warnings``: one sentence per dominated arm.
    """

    outcome: str
    threshold: float
    dominated: tuple
    warnings: tuple
    summary: pd.DataFrame = field(repr=False)

    def __str__(self) -> str:
        if not self.warnings:
            return f"{self.outcome}: no unit holds more than {self.threshold:.0%} of an arm's total"
        return "\n".join(self.warnings)

    def _repr_html_(self) -> str:
        return f"<p>{'<br>'.join(self.warnings) or str(self)}</p>" + self.summary.to_html(index=False)


def dominance(data: pd.DataFrame, *, arm: str, outcome: str, unit: str | None = None,
              threshold: float = DOMINANCE_THRESHOLD, source: str | None = None) -> Dominance:
    """Flag arms where one unit contributes more than ``threshold`` of the arm's total ``outcome``.

    Parameters
    ----------
    data : one row per unit.
    arm, outcome : column names (``outcome`` a continuous metric: revenue, calls, ...).
    unit : optional id column named in the warning (e.g. ``company_id``).
    threshold : share in (0, 1), default 0.10.

    Returns
    -------
    :class:`Dominance` (module docstring for the rule).
    """
    threshold = check_alpha(threshold, "threshold")
    require_columns(data, [arm, outcome] + ([unit] if unit else []), source, nonempty=True)
    a = labels(data, arm, source).to_numpy()
    y = numeric(data, outcome, source)
    ids = data[unit].astype("str").to_numpy() if unit else np.arange(1, len(y) + 1)
    rows, warns, dom = [], [], []
    for lv in sorted(set(a), key=str):
        m = a == lv
        yy, ii = y[m], ids[m]
        absum = float(np.abs(yy).sum())
        j = int(np.argmax(np.abs(yy)))
        share = float(abs(yy[j]) / absum) if absum > 0 else np.nan
        without = float((yy.sum() - yy[j]) / (len(yy) - 1)) if len(yy) > 1 else np.nan
        flag = bool(share > threshold and share > 2.0 / len(yy)) if np.isfinite(share) else False
        top = ii[j].item() if hasattr(ii[j], "item") else ii[j]
        rows.append({"arm": lv, "n": int(m.sum()), "total": float(yy.sum()), "top_unit": top,
                     "top_value": float(yy[j]), "top_share": share, "mean": float(yy.mean()),
                     "mean_without_top": without, "dominated": flag})
        if flag:
            dom.append(lv)
            who = f"{unit} {top}" if unit else f"row {top}"
            warns.append(f"{outcome}: in arm {lv!r} one unit ({who}, value {yy[j]:,.6g}) holds {share:.0%} of the "
                         f"arm's total over {m.sum():,} units; the arm's mean is {yy.mean():,.6g} with it and "
                         f"{without:,.6g} without it: consider winsorizing")
    return Dominance(outcome, threshold, tuple(dom), tuple(warns), pd.DataFrame(rows))


__all__ = ["winsorize", "Winsorized", "winsorize_columns", "WinsorizedFrame", "dominance", "Dominance",
           "DEFAULT_WINSORIZE_Q", "DOMINANCE_THRESHOLD"]
