"""Behavior-aware template variables: the error a company keeps hitting, and where.

:func:`error_context` gives, per company, from ``api_events`` strictly before ``as_of`` (one
Ibis expression, run on the workspace's engine):

- ``top_error_code``: the most frequent status code >= 400 (ties: the lower code);
- ``top_error_class``: that code in words (:data:`ERROR_CLASSES`), e.g. ``401 Unauthorized (the
  API key is missing or not valid)``;
- ``top_error_endpoint``: the endpoint with the most calls answered with that code;
- ``error_calls`` / ``error_share``: calls >= 400 and their share of all calls.

A company is described only when it is really stuck: at least ``min_errors`` error calls and an
error share of at least ``min_share``; other companies get empty values (a template then leaves
the sentence out with ``{% if top_error_class is defined %}``), so an email never tells a
customer about an error they hardly see.
"""

from __future__ import annotations

import pandas as pd

CONTEXT_COLUMNS = ("top_error_class", "top_error_endpoint")
ERROR_CLASSES = {
    400: "400 Bad Request (a request the API cannot parse)",
    401: "401 Unauthorized (the API key is missing or not valid)",
    403: "403 Forbidden (the key lacks a permission, e.g. a live key not yet activated)",
    404: "404 Not Found (a wrong path or object id)",
    422: "422 Unprocessable Entity (a field fails validation)",
    429: "429 Too Many Requests (the rate limit)",
}


def error_class(code) -> str:
    """``code`` in words (:data:`ERROR_CLASSES`; ``5xx`` codes: a server error)."""
    code = int(code)
    if code in ERROR_CLASSES:
        return ERROR_CLASSES[code]
    return f"{code} (a server error on our side)" if code >= 500 else f"{code} (a client error)"


def error_context(workspace, company_ids, as_of, *, min_errors: int = 5, min_share: float = 0.10) -> pd.DataFrame:
    """Per company of ``company_ids``: company_id, top_error_code, top_error_class,
    top_error_endpoint, error_calls, error_share (module docstring: the rule)."""
    import ibis

    from mof_experiments.workspace import to_pandas

    cols = ["company_id", "top_error_code", "top_error_class", "top_error_endpoint", "error_calls", "error_share"]
    ids = pd.Series(sorted({str(c) for c in company_ids}), dtype="str")
    if ids.empty or not workspace.has("api_events"):
        return pd.DataFrame({"company_id": ids}).reindex(columns=cols)
    ev = workspace.table("api_events")
    sel = ibis.memtable(pd.DataFrame({"company_id": ids}))
    ev = ev.filter((ev.ts < pd.Timestamp(as_of)) & ev.company_id.isin(sel.company_id))
    totals = ev.group_by("company_id").aggregate(calls=ev.count(), error_calls=ev.count(where=ev.status_code >= 400))
    err = ev.filter(ev.status_code >= 400)
    by = err.group_by(["company_id", "status_code", "endpoint"]).aggregate(n=err.count())
    by_df, tot = to_pandas(by), to_pandas(totals)
    if by_df.empty:
        return pd.DataFrame({"company_id": ids}).reindex(columns=cols)
    by_df["company_id"] = by_df["company_id"].astype(str)
    code_n = by_df.groupby(["company_id", "status_code"])["n"].sum().reset_index()
    top_code = code_n.sort_values(["company_id", "n", "status_code"], ascending=[True, False, True],
                                  kind="stable").drop_duplicates("company_id")
    ep = by_df.merge(top_code[["company_id", "status_code"]], on=["company_id", "status_code"])
    top_ep = ep.sort_values(["company_id", "n", "endpoint"], ascending=[True, False, True],
                            kind="stable").drop_duplicates("company_id")
    out = pd.DataFrame({"company_id": ids}).merge(tot.astype({"company_id": "str"}), on="company_id", how="left")
    out = out.merge(top_code[["company_id", "status_code"]].rename(columns={"status_code": "top_error_code"}),
                    on="company_id", how="left")
    out = out.merge(top_ep[["company_id", "endpoint"]].rename(columns={"endpoint": "top_error_endpoint"}),
                    on="company_id", how="left")
    out["error_calls"] = out["error_calls"].fillna(0).astype("int64")
    out["error_share"] = out["error_calls"] / out["calls"].where(out["calls"] > 0)
    stuck = (out["error_calls"] >= min_errors) & (out["error_share"] >= min_share)
    out["top_error_class"] = [error_class(c) if s else None for c, s in zip(out["top_error_code"], stuck)]
    out["top_error_code"] = out["top_error_code"].astype("Int64").where(stuck, pd.NA)
    out["top_error_endpoint"] = out["top_error_endpoint"].astype("object").where(stuck, None)
    return out[cols]


__all__ = ["error_context", "error_class", "ERROR_CLASSES", "CONTEXT_COLUMNS"]
