"""Email engagement per message, contact and company, from ``email_events``.

Machine opens (mail privacy proxies and security scanners that fetch every image) are
excluded by default: an open is a machine open when the ESP flagged it (``machine_open`` is
true) or when it came within ``machine_open_seconds`` of delivery. The choice is a parameter
and is reported by :func:`message_engagement` (``machine_opens`` column).

Rates are per delivered message (a message is opened if it has at least one human open).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mof_experiments.errors import MofInputError

MESSAGE_COLUMNS = ("message_id", "campaign_id", "contact_id", "company_id", "zone", "topic", "variant",
                   "sent_at", "delivered_at", "delivered", "bounced", "opened", "first_open_at", "clicked",
                   "first_click_at", "unsubscribed", "machine_opens")


def message_engagement(email_events: pd.DataFrame, *, exclude_machine_opens: bool = True,
                       machine_open_seconds: float = 10.0) -> pd.DataFrame:
    """One row per message: sent/delivered/bounced, first human open and click, unsubscribe.

    Parameters
    ----------
    email_events : the canonical ``email_events`` table.
    exclude_machine_opens : drop opens flagged by the ESP or within ``machine_open_seconds`` of
        delivery (default True). Clicks are kept (a click needs a human... or a link scanner;
        scanner clicks within the same window are dropped too).
    machine_open_seconds : the timing rule's window.

    Returns
    -------
    DataFrame with columns ``MESSAGE_COLUMNS``.
    """
    need = {"message_id", "event", "ts", "contact_id", "company_id"}
    missing = need - set(email_events.columns)
    if missing:
        raise MofInputError(f"missing column(s) {', '.join(sorted(missing))}", source="email_events")
    ev = email_events
    keys = ["message_id", "campaign_id", "contact_id", "company_id", "zone", "topic", "variant"]
    keys = [k for k in keys if k in ev.columns]
    base = ev.drop_duplicates("message_id")[keys].set_index("message_id")
    firsts = ev.pivot_table(index="message_id", columns="event", values="ts", aggfunc="min")
    out = base.copy()
    for name, col in (("sent", "sent_at"), ("delivered", "delivered_at")):
        out[col] = firsts[name] if name in firsts else pd.NaT
    out["delivered"] = out["delivered_at"].notna()
    out["bounced"] = firsts["bounce"].notna() if "bounce" in firsts else False
    out["bounced"] = out["bounced"].reindex(out.index).fillna(False).astype(bool)
    out["unsubscribed"] = (firsts["unsubscribe"].notna() if "unsubscribe" in firsts
                           else pd.Series(False, index=out.index)).reindex(out.index).fillna(False).astype(bool)

    def human(kind: str) -> pd.DataFrame:
        x = ev[ev["event"] == kind][["message_id", "ts"] + (["machine_open"] if "machine_open" in ev else [])]
        x = x.join(out["delivered_at"], on="message_id")
        machine = pd.Series(False, index=x.index)
        if "machine_open" in x and kind == "open":
            machine |= x["machine_open"].fillna(False).astype(bool)
        secs = (x["ts"] - x["delivered_at"]).dt.total_seconds()
        machine |= secs.notna() & (secs < machine_open_seconds)
        return x.assign(machine=machine.to_numpy())

    opens = human("open")
    clicks = human("click")
    out["machine_opens"] = opens[opens["machine"]].groupby("message_id").size().reindex(out.index).fillna(0).astype(int)
    if exclude_machine_opens:
        opens = opens[~opens["machine"]]
        clicks = clicks[~clicks["machine"]]
    out["first_open_at"] = opens.groupby("message_id")["ts"].min().reindex(out.index)
    out["first_click_at"] = clicks.groupby("message_id")["ts"].min().reindex(out.index)
    # a click implies the message was opened (images blocked): count it as an open at click time
    out["first_open_at"] = out[["first_open_at", "first_click_at"]].min(axis=1)
    out["opened"] = out["first_open_at"].notna() & out["delivered"]
    out["clicked"] = out["first_click_at"].notna() & out["delivered"]
    return out.reset_index()[[c for c in MESSAGE_COLUMNS if c in out.reset_index().columns]]


def company_engagement(messages: pd.DataFrame) -> pd.DataFrame:
    """Per company: delivered, opened and clicked messages, open and click rates."""
    d = messages[messages["delivered"]]
    g = d.groupby("company_id").agg(delivered=("message_id", "size"), opened=("opened", "sum"),
                                    clicked=("clicked", "sum"))
    g["open_rate"] = g["opened"] / g["delivered"]
    g["click_rate"] = g["clicked"] / g["delivered"]
    return g.reset_index()


def open_rates_by_outcome(messages: pd.DataFrame, funnel: pd.DataFrame) -> pd.DataFrame:
    """Open and click rates of companies that reached production vs those still in sandbox.

    Pooled per delivered message, with Wilson 95% intervals (statsmodels). This is the
    article's observational comparison (a correlation, not the email's effect).

    Returns columns: group (``production`` / ``sandbox``), companies, delivered, opened, open_rate,
    open_ci_low, open_ci_high, clicked, click_rate, click_ci_low, click_ci_high.
    """
    from statsmodels.stats.proportion import proportion_confint

    ce = company_engagement(messages).merge(funnel[["company_id", "stage"]], on="company_id", how="inner")
    ce = ce[ce["stage"].isin(["production", "sandbox"])]
    rows = []
    for grp in ("production", "sandbox"):
        x = ce[ce["stage"] == grp]
        n, o, c = int(x["delivered"].sum()), int(x["opened"].sum()), int(x["clicked"].sum())
        olo, ohi = proportion_confint(o, n, method="wilson") if n else (np.nan, np.nan)
        clo, chi = proportion_confint(c, n, method="wilson") if n else (np.nan, np.nan)
        rows.append(dict(group=grp, companies=len(x), delivered=n, opened=o, open_rate=o / n if n else np.nan,
                         open_ci_low=olo, open_ci_high=ohi, clicked=c, click_rate=c / n if n else np.nan,
                         click_ci_low=clo, click_ci_high=chi))
    return pd.DataFrame(rows)
