"""Numbers as a marketing manager reads them: %, percentage points, rounded CIs, n.

The rules (used by the takeaways block of every report and by the run's ``index.html``):

- a **share** (a rate, a probability: a fraction in [0, 1]) is a percentage: ``0.3343`` ->
  ``33%`` (one decimal below 10%: ``4.2%``); a probability rounds to ``>99%`` / ``<1%``
  rather than to a certainty it does not have;
- a **difference of two shares** (a lift, an effect) is in **percentage points**, signed:
  ``0.062`` -> ``+6.2 pp`` (never "+6.2%", which would mean a relative change);
- a **ratio** has a multiplication sign: ``2.013`` -> ``2.0x``;
- a **count** has thousands separators; **days** one decimal;
- a 95% interval is written ``(95% CI a to b)`` in the unit of its estimate.
"""

from __future__ import annotations

import math


def _bad(x) -> bool:
    return x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


def fmt_pct(x, *, prob: bool = False) -> str:
    """A share as a percentage (``0.334`` -> ``33%``, ``0.042`` -> ``4.2%``); ``prob=True``
    writes ``>99%`` / ``<1%`` instead of ``100%`` / ``0%``; None / NaN -> ``n/a``."""
    if _bad(x):
        return "n/a"
    x = float(x)
    if prob and x > 0.99:
        return ">99%"
    if prob and x < 0.01:
        return "<1%"
    return f"{x:.1%}" if abs(x) < 0.1 and x != 0 else f"{x:.0%}"


def fmt_pp(x) -> str:
    """A difference of two shares in signed percentage points (``0.062`` -> ``+6.2 pp``)."""
    if _bad(x):
        return "n/a"
    return f"{100 * float(x):+.1f} pp"


def fmt_ratio(x) -> str:
    """A ratio (``2.013`` -> ``2.0x``)."""
    return "n/a" if _bad(x) else f"{float(x):.2g}x" if float(x) < 1 else f"{float(x):.1f}x"


def fmt_count(x) -> str:
    """A count with thousands separators."""
    return "n/a" if _bad(x) else f"{int(round(float(x))):,}"


def fmt_days(x) -> str:
    """Days with one decimal (``12.34`` -> ``12.3 days``)."""
    return "n/a" if _bad(x) else f"{float(x):.1f} days"


def fmt_number(x) -> str:
    """Any other number: a whole number with separators, else three significant digits."""
    if _bad(x):
        return "n/a"
    x = float(x)
    return f"{x:,.0f}" if x.is_integer() and abs(x) < 1e15 else f"{x:.3g}"


FORMATTERS = {"pct": fmt_pct, "prob": lambda v: fmt_pct(v, prob=True), "pp": fmt_pp, "ratio": fmt_ratio,
              "count": fmt_count, "days": fmt_days, "number": fmt_number}


def fmt(value, kind: str) -> str:
    """``value`` formatted as ``kind`` (a key of :data:`FORMATTERS`)."""
    return FORMATTERS[kind](value)


def fmt_ci(low, high, kind: str) -> str:
    """``(95% CI low to high)`` in the unit of ``kind``; empty when a bound is missing."""
    if _bad(low) or _bad(high):
        return ""
    return f"(95% CI {fmt(low, kind)} to {fmt(high, kind)})"


def fmt_estimate(value, low, high, kind: str) -> str:
    """An estimate with its interval: ``+3.1 pp (95% CI +0.4 pp to +5.8 pp)``."""
    ci = fmt_ci(low, high, kind)
    return fmt(value, kind) + (f" {ci}" if ci else "")


__all__ = ["fmt_pct", "fmt_pp", "fmt_ratio", "fmt_count", "fmt_days", "fmt_number", "fmt", "fmt_ci", "fmt_estimate",
           "FORMATTERS"]
