"""Sample-ratio mismatch: do the arm counts fit the design weights?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from mof_experiments.errors import MofConfigError
from mof_experiments.stats.comparison import json_number

#: SRM tiers: p below WARNING -> "warning", below BLOCKING -> "blocking".
SRM_WARNING = 0.01
SRM_BLOCKING = 0.001


@dataclass(frozen=True)
class SRMResult:
    """Sample-ratio-mismatch test: chi-square of the arm counts against the design weights.

    ``status`` is ``ok``, ``warning`` (p < 0.01) or ``blocking`` (p < 0.001: do not read the
    experiment until the assignment is explained). ``summary`` columns: arm, n, expected,
    weight, share.
    """

    statistic: float
    p_value: float
    status: str
    weights_assumed: bool
    summary: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        return {"p_value": json_number(self.p_value), "statistic": json_number(self.statistic),
                "status": self.status, "weights_assumed": self.weights_assumed,
                "observed": {str(r.arm): int(r.n) for r in self.summary.itertuples()},
                "expected": {str(r.arm): json_number(r.expected) for r in self.summary.itertuples()}}

    def _repr_html_(self) -> str:
        return f"<p>SRM chi-square p = {self.p_value:.4g}: <b>{self.status}</b></p>" + self.summary.to_html(index=False)


def srm_test(counts: Mapping[str, int] | pd.Series, weights: Mapping[str, float] | None = None) -> SRMResult:
    """Chi-square goodness of fit of arm counts to the design weights (scipy ``chisquare``).

    Without ``weights`` an equal split is assumed (``weights_assumed=True``). Arms with a weight
    but no units count as 0 observed.
    """
    from scipy.stats import chisquare

    counts = pd.Series(counts, dtype="float64")
    assumed = weights is None
    if assumed:
        w = pd.Series(1.0, index=counts.index)
    else:
        w = pd.Series({str(k): float(v) for k, v in weights.items()})
        missing = [a for a in counts.index if a not in w.index]
        if missing:
            raise MofConfigError(f"--weights: no weight for arm {missing[0]!r} (arms: {', '.join(map(str, counts.index))})")
        # a designed arm with no units at all is the strongest mismatch: count it as 0
        counts = pd.concat([counts, pd.Series(0.0, index=[a for a in w.index if a not in counts.index])])
        w = w.reindex(counts.index)
    w = w / w.sum()
    expected = w * counts.sum()
    if len(counts) < 2:
        stat, p = 0.0, 1.0
    else:
        stat, p = chisquare(counts.to_numpy(), expected.to_numpy())
    status = "blocking" if p < SRM_BLOCKING else "warning" if p < SRM_WARNING else "ok"
    summ = pd.DataFrame({"arm": counts.index.astype(str), "n": counts.to_numpy().astype("int64"),
                         "expected": expected.to_numpy(), "weight": w.to_numpy(),
                         "share": (counts / counts.sum()).to_numpy()})
    return SRMResult(float(stat), float(p), status, assumed, summ)


__all__ = ["SRM_WARNING", "SRM_BLOCKING", "SRMResult", "srm_test"]
