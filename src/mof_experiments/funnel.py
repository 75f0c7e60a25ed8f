"""Funnel-stage labeling: one row per company, as of a date.

The labeling is one Ibis expression over ``companies`` and ``api_events`` (:func:`funnel_expr`),
so it runs on the DuckDB workspace and unchanged on another Ibis backend. :func:`label` executes
it and returns a pandas DataFrame; :func:`label_workspace` also writes the ``funnel`` table.

Rules
-----
- Companies signed up before ``as_of`` are labeled; only events with
  ``signup_at <= ts < as_of`` are used. Events before signup and events of companies that are
  not in ``companies`` are counted in the :class:`LabelReport`, never used.
- **In production**: the ``min_success``-th production call with a 2xx status (default: the
  first). ``first_production_at`` is its time.
- **stage**: ``production`` if the rule is met, else ``sandbox`` if the company made any API
  call (a company whose only calls are failed production calls is still in the middle of the
  funnel), else ``signed_up``.
- Durations are in days (float, one-second resolution): ``days_to_first_call`` (time to first
  hello world), ``days_to_production`` (time to first working app; null = not yet, censored at
  ``as_of``), ``days_observed`` (``as_of - signup_at``, the censoring time).
- Per environment (``sandbox_*``, ``production_*``): calls, errors (status >= 400), distinct
  endpoints, last call. Rows are counted as stored (``mof ingest`` drops exact duplicates).

Returned columns (public API): see ``FUNNEL_COLUMNS``.

``parse_as_of`` and ``default_as_of`` are re-exported here from :mod:`mof_experiments.dates`
and :mod:`mof_experiments.sources`, where they live.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from mof_experiments.dates import days_between, parse_as_of
from mof_experiments.errors import MofInputError
from mof_experiments.sources import default_as_of, resolve_as_of  # noqa: F401 (default_as_of: re-export)
from mof_experiments.stats import wilson_interval

FUNNEL_COLUMNS = (
    "company_id", "signup_at", "first_call_at", "first_sandbox_at", "first_production_at", "stage",
    "days_to_first_call", "days_to_production", "days_observed",
    "sandbox_calls", "sandbox_errors", "sandbox_endpoints", "sandbox_last_call_at",
    "production_calls", "production_errors", "production_endpoints", "production_last_call_at",
)

def funnel_expr(companies, api_events, as_of, *, min_success: int = 1):
    """The funnel as an Ibis expression (backend-neutral: no engine-specific SQL).

    Parameters
    ----------
    companies, api_events : Ibis tables with the canonical columns.
    as_of : cut-off (exclusive), timezone-aware.
    min_success : number of successful (2xx) production calls that make a company "in
        production"; its time is ``first_production_at``.
    """
    import ibis

    if min_success < 1:
        raise MofInputError(f"min_success must be >= 1, got {min_success}")
    cutoff = ibis.literal(parse_as_of(as_of), type="timestamp('UTC')")
    co = companies.select("company_id", "signup_at").filter(companies.signup_at < cutoff)
    ev = api_events.select("company_id", "ts", "environment", "endpoint", "status_code")
    ev = ev.join(co, "company_id")
    ev = ev.filter((ev.ts >= ev.signup_at) & (ev.ts < cutoff))
    err = ev.status_code >= 400
    ok = (ev.status_code >= 200) & (ev.status_code < 300)
    ok_prod = (ev.environment == "production") & ok
    # Two steps: per (company, environment, endpoint), then per company. The environment filters
    # and the distinct endpoints become a grouping key instead of a filter per event and a
    # distinct-count hash per environment (half the CPU at 100M events; equal results:
    # tests/test_funnel.py, benchmarks/README.md).
    cell = ev.group_by(["company_id", "environment", "endpoint"]).aggregate(
        _n=ev.ts.count(), _errors=ev.ts.count(where=err), _first=ev.ts.min(), _last=ev.ts.max(),
        _first_ok=ev.ts.min(where=ok),
    )
    sb = cell.environment == "sandbox"
    pr = cell.environment == "production"
    aggs = dict(
        first_call_at=cell._first.min(),
        first_sandbox_at=cell._first.min(where=sb),
        sandbox_calls=cell._n.sum(where=sb),
        sandbox_errors=cell._errors.sum(where=sb),
        sandbox_endpoints=cell.endpoint.count(where=sb),
        sandbox_last_call_at=cell._last.max(where=sb),
        production_calls=cell._n.sum(where=pr),
        production_errors=cell._errors.sum(where=pr),
        production_endpoints=cell.endpoint.count(where=pr),
        production_last_call_at=cell._last.max(where=pr),
    )
    if min_success == 1:
        aggs["first_production_at"] = cell._first_ok.min(where=pr)
    agg = cell.group_by("company_id").aggregate(**aggs)
    if min_success > 1:
        okp = ev.filter(ok_prod).select("company_id", "ts")
        okp = okp.mutate(_rn=ibis.row_number().over(group_by=okp.company_id, order_by=okp.ts))
        nth = okp.filter(okp._rn == min_success - 1).select("company_id", first_production_at=okp.ts)
        agg = agg.left_join(nth, "company_id").drop("company_id_right")
    t = co.left_join(agg, "company_id").drop("company_id_right")

    stage = ibis.cases(
        (t.first_production_at.notnull(), "production"),
        (t.first_call_at.notnull(), "sandbox"),
        else_="signed_up",
    )
    t = t.mutate(
        stage=stage,
        days_to_first_call=days_between(t.first_call_at, t.signup_at),
        days_to_production=days_between(t.first_production_at, t.signup_at),
        days_observed=days_between(cutoff, t.signup_at),
        **{c: t[c].fill_null(0) for c in ("sandbox_calls", "sandbox_errors", "sandbox_endpoints",
                                           "production_calls", "production_errors", "production_endpoints")},
    )
    return t.select(*FUNNEL_COLUMNS).order_by("company_id")


def report_expr(companies, api_events, as_of):
    """Counts of events that labeling leaves out, as an Ibis expression (one row)."""
    import ibis

    cutoff = ibis.literal(parse_as_of(as_of), type="timestamp('UTC')")
    co = companies.select("company_id", "signup_at")
    ev = api_events.select("company_id", "ts")
    j = ev.left_join(co, ev.company_id == co.company_id)
    return j.aggregate(
        events_total=j.ts.count(),
        events_unknown_company=j.ts.count(where=j.signup_at.isnull()),
        events_before_signup=j.ts.count(where=j.signup_at.notnull() & (j.ts < j.signup_at)),
        events_after_as_of=j.ts.count(where=j.ts >= cutoff),
        unknown_companies=j.company_id.nunique(where=j.signup_at.isnull()),
    )


@dataclass(frozen=True)
class LabelReport:
    """What the labeling saw and what it left out (events are never silently used)."""

    as_of: datetime
    companies: int
    stage_counts: dict
    events_total: int
    events_unknown_company: int
    events_before_signup: int
    events_after_as_of: int
    unknown_companies: int
    notes: tuple = field(default_factory=tuple)

    def warnings(self) -> list[str]:
        w = []
        if self.events_unknown_company:
            w.append(f"{self.events_unknown_company:,} events of {self.unknown_companies:,} companies not in "
                     "`companies` were not used")
        if self.events_before_signup:
            w.append(f"{self.events_before_signup:,} events before the company's signup_at were not used")
        return w


def label(workspace, as_of=None, *, min_success: int = 1, with_report: bool = False, source=None):
    """Label the funnel as of ``as_of`` and return a pandas DataFrame.

    ``workspace`` is a :class:`~mof_experiments.sources.TableSource` (the DuckDB workspace, or
    any source); ``source``, when given, is the one the aggregation runs on (e.g. Spark; see
    :func:`mof_experiments.engines.open_source`). ``as_of`` is resolved by
    :func:`~mof_experiments.sources.resolve_as_of` (None: the end of the simulated period,
    else now). With ``with_report=True`` returns ``(frame, LabelReport)``.
    """
    from mof_experiments.workspace import to_pandas

    src = workspace if source is None else source
    as_of = resolve_as_of(src, as_of)
    reused = _REUSED.get()
    memo = reused[1] if reused is not None and reused[0] is src else None
    if memo is not None and (as_of, min_success) in memo:
        df = memo[(as_of, min_success)].copy()
    else:
        co, ev = src.table("companies"), src.table("api_events")
        df = _normalize(to_pandas(funnel_expr(co, ev, as_of, min_success=min_success)))
        if memo is not None:
            memo[(as_of, min_success)] = df.copy()
    if not with_report:
        return df
    co, ev = src.table("companies"), src.table("api_events")
    r = to_pandas(report_expr(co, ev, as_of)).iloc[0]
    counts = df["stage"].value_counts().reindex(["signed_up", "sandbox", "production"], fill_value=0)
    report = LabelReport(as_of=as_of, companies=len(df), stage_counts={k: int(v) for k, v in counts.items()},
                         **{k: int(r[k]) for k in ("events_total", "events_unknown_company", "events_before_signup",
                                                   "events_after_as_of", "unknown_companies")})
    return df, report


_REUSED: ContextVar = ContextVar("mof_reused_labels", default=None)


@contextmanager
def reuse_labels(source, known: dict | None = None):
    """Inside the block, :func:`label` of ``source`` labels each ``(as_of, min_success)`` once.

    For one result that labels the same source several times (the report loader: the funnel,
    then an experiment's outcomes, which label again). ``known`` seeds it with frames already
    labeled, ``{(as_of, min_success): frame}``. Other sources are labeled as usual; each call
    returns its own copy.
    """
    memo = {(parse_as_of(a), int(m)): df for (a, m), df in (known or {}).items()}
    token = _REUSED.set((source, memo))
    try:
        yield memo
    finally:
        _REUSED.reset(token)


def _normalize(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in ("sandbox_calls", "sandbox_errors", "sandbox_endpoints", "production_calls", "production_errors",
              "production_endpoints"):
        df[c] = df[c].astype("int64")
    for c in ("days_to_first_call", "days_to_production", "days_observed"):
        df[c] = df[c].astype("float64")
    df["stage"] = df["stage"].astype("str")
    return df.reset_index(drop=True)


def label_workspace(workspace, as_of=None, *, min_success: int = 1, source=None):
    """Label and write the ``funnel`` table (atomically); returns ``(frame, LabelReport)``.

    When the events are the workspace's own, the meta data also records what the labels were
    computed from (``funnel_inputs``: :func:`inputs_fingerprint`, taken before labeling), so a
    later reader can use the stored table instead of labeling again (:func:`stored_labels`).
    """
    own = source is None or source is workspace
    inputs = inputs_fingerprint(workspace) if own else None
    df, report = label(workspace, as_of, min_success=min_success, with_report=True, source=source)
    # forget the previous run's record first: a run killed between the two writes below must not
    # leave this table looking like the labels of the previous as_of
    workspace.set_meta(funnel_inputs=None)
    workspace.write("funnel", df)
    workspace.set_meta(funnel_as_of=report.as_of.isoformat(), funnel_min_success=min_success, funnel_inputs=inputs)
    return df, report


def inputs_fingerprint(workspace) -> dict | None:
    """What the labels depend on: for ``companies`` and ``api_events``, the id of their last
    write by this package (``written:<table>`` in the meta data), their row count and time range.

    A write through the package (``mof ingest``, ``mof simulate``, ``Workspace.write``) changes the
    id; an insert by another tool changes the count or the range. None when either table or the
    write id is missing (a workspace written by an older version): then nothing is reused.
    """
    if not (workspace.has("companies") and workspace.has("api_events")):
        return None
    meta = workspace.meta()
    written = [meta.get("written:companies"), meta.get("written:api_events")]
    if None in written:
        return None
    raw = workspace.raw
    co = raw.execute("SELECT count(*), epoch_us(min(signup_at)), epoch_us(max(signup_at)) FROM companies").fetchone()
    ev = raw.execute("SELECT count(*), epoch_us(min(ts)), epoch_us(max(ts)) FROM api_events").fetchone()
    return {"companies": [written[0], *co], "api_events": [written[1], *ev]}


def stored_labels(workspace, as_of, *, min_success: int = 1) -> pd.DataFrame | None:
    """The stored ``funnel`` table when it is what :func:`label` would return now, else None.

    It is reused only when it was written by :func:`label_workspace` for the same ``as_of`` and
    ``min_success`` from the workspace's own events, and ``companies`` and ``api_events`` have not
    changed since (:func:`inputs_fingerprint`). The nightly run labels first (``mof label``), so
    the reports that follow read its labels instead of scanning the events again.
    """
    meta = workspace.meta()
    if (meta.get("funnel_inputs") is None or meta.get("funnel_min_success") != min_success
            or not workspace.has("funnel")
            or parse_as_of(meta.get("funnel_as_of") or "1970-01-01") != parse_as_of(as_of)):
        return None
    if inputs_fingerprint(workspace) != meta["funnel_inputs"]:
        return None
    df = workspace.read("funnel")
    if list(df.columns) != list(FUNNEL_COLUMNS):
        return None
    return _normalize(df)


@dataclass(frozen=True)
class FunnelSummary:
    """Stage counts and time to first working app, with uncertainty.

    ``median_days_km`` is the Kaplan-Meier median of days to production (censored at as_of,
    statsmodels ``SurvfuncRight``) over companies that made a first call; ``median_days_converted``
    is the plain median among companies already in production (biased low: the slow ones have not
    converted yet).
    """

    as_of: datetime
    n: int
    stage_counts: dict
    production_rate: float
    production_ci: tuple
    median_days_to_first_call: float
    median_days_converted: float
    n_converted: int
    median_days_km: float
    median_days_km_ci: tuple

    @property
    def summary(self) -> pd.DataFrame:
        rows = [("companies", self.n, ""), *[(f"stage: {k}", v, f"{v / max(self.n, 1):.1%}")
                                            for k, v in self.stage_counts.items()],
                ("reached production", f"{self.production_rate:.1%}",
                 f"95% CI {self.production_ci[0]:.1%} to {self.production_ci[1]:.1%}"),
                ("median days to first call", _fmt(self.median_days_to_first_call), ""),
                ("median days to first working app (converted only)", _fmt(self.median_days_converted),
                 f"n = {self.n_converted}"),
                ("median days to first working app (Kaplan-Meier)",
                 _fmt(self.median_days_km) if not np.isnan(self.median_days_km) else "not reached",
                 f"95% CI {_fmt(self.median_days_km_ci[0])} to {_fmt(self.median_days_km_ci[1])}"
                 if not np.isnan(self.median_days_km) else "fewer than half of the callers reached production")]
        return pd.DataFrame(rows, columns=["measure", "value", "detail"])

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)

    def __str__(self) -> str:
        rows = self.summary.astype(str).to_numpy().tolist()
        w0, w1 = (max(len(r[i]) for r in rows) for i in (0, 1))
        return "\n".join(f"  {m:<{w0}}  {v:>{w1}}  {d}".rstrip() for m, v, d in rows)


def _fmt(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.1f}"


def summarize(funnel: pd.DataFrame, as_of=None) -> FunnelSummary:
    """Summarize a funnel table (see :class:`FunnelSummary`)."""
    from statsmodels.duration.survfunc import SurvfuncRight

    n = len(funnel)
    counts = funnel["stage"].value_counts().reindex(["signed_up", "sandbox", "production"], fill_value=0)
    k = int(counts["production"])
    lo, hi = wilson_interval(k, max(n, 1))
    called = funnel[funnel["first_call_at"].notna()]
    event = called["days_to_production"].notna()
    dur = called["days_to_production"].where(event, called["days_observed"])
    km, km_ci = np.nan, (np.nan, np.nan)
    if len(called) and event.any():
        sf = SurvfuncRight(dur.to_numpy(float), event.to_numpy(int))
        km = float(sf.quantile(0.5))
        try:
            km_ci = tuple(float(x) for x in sf.quantile_ci(0.5))
        except Exception:  # too few events for a bounded interval
            km_ci = (np.nan, np.nan)
    return FunnelSummary(
        as_of=parse_as_of(as_of) if as_of is not None else None, n=n,
        stage_counts={k2: int(v) for k2, v in counts.items()}, production_rate=k / max(n, 1),
        production_ci=(float(lo), float(hi)),
        median_days_to_first_call=float(called["days_to_first_call"].median()) if len(called) else np.nan,
        median_days_converted=float(funnel["days_to_production"].median()) if k else np.nan,
        n_converted=k, median_days_km=km, median_days_km_ci=km_ci,
    )


__all__ = ["FUNNEL_COLUMNS", "funnel_expr", "report_expr", "LabelReport", "label", "label_workspace", "FunnelSummary",
           "summarize", "parse_as_of", "default_as_of", "reuse_labels"]
