"""Reference data sets read from a path the user gives (the project ships no copy).

:func:`load_hillstrom` reads Kevin Hillstrom's MineThatData e-mail challenge (2008): 64,000
customers randomized to ``Mens E-Mail`` / ``Womens E-Mail`` / ``No E-Mail``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.errors import MofInputError

HILLSTROM_FILE = "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv"
HILLSTROM_COLUMNS = ("recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie",
                     "channel", "segment", "visit", "conversion", "spend")
HILLSTROM_ARMS = ("Mens E-Mail", "Womens E-Mail", "No E-Mail")
#: Feature columns (all known before the send): numeric ones as is, categorical one-hot encoded.
HILLSTROM_NUMERIC = ("recency", "history", "mens", "womens", "newbie")
HILLSTROM_CATEGORICAL = ("history_segment", "zip_code", "channel")


@dataclass(frozen=True)
class Hillstrom:
    """The Hillstrom data, split the way uplift code wants it.

    Attributes
    ----------
    data : the cleaned table (all columns; ``zip_code`` ``Surburban`` corrected to ``Suburban``).
    features : model-ready features: recency, history, mens, womens, newbie and one-hot
        ``history_segment_*``, ``zip_code_*``, ``channel_*`` columns (0/1 integers).
    arm : ``segment`` (the arm).
    treatment : 1 for either e-mail, 0 for ``No E-Mail``.
    visit, conversion : 0/1 outcomes; spend : dollars.
    """

    data: pd.DataFrame = field(repr=False)
    features: pd.DataFrame = field(repr=False)
    arm: pd.Series = field(repr=False)
    treatment: pd.Series = field(repr=False)
    visit: pd.Series = field(repr=False)
    conversion: pd.Series = field(repr=False)
    spend: pd.Series = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """Per arm: n, visit rate, conversion rate, mean spend."""
        return (self.data.groupby("segment", sort=False)
                .agg(n=("visit", "size"), visit=("visit", "mean"), conversion=("conversion", "mean"),
                     spend=("spend", "mean")).reset_index().rename(columns={"segment": "arm"}))

    def _repr_html_(self) -> str:
        return f"<p>Hillstrom: {len(self.data):,} customers</p>" + self.summary.to_html(index=False)


def load_hillstrom(path: str | os.PathLike) -> Hillstrom:
    """Read the Hillstrom CSV (or the folder holding it) and return a :class:`Hillstrom`.

    The file has CRLF line endings, quoted ``$`` labels with commas (``"2) $100 - $200"``) and
    the typo ``Surburban`` in ``zip_code``, which is normalized to ``Suburban``. The columns are
    checked: missing columns, unknown arms, non-0/1 ``visit``/``conversion`` and missing values
    raise :class:`MofInputError` naming the column and a row.
    """
    p = Path(path)
    if p.is_dir():
        p = p / HILLSTROM_FILE
    src = str(p)
    if not p.exists():
        raise MofInputError("file not found (download the MineThatData challenge CSV and give its path)", source=src)
    try:
        # newline handling of the csv module absorbs the CRLF line endings
        df = pd.read_csv(p, dtype={"history_segment": "str", "zip_code": "str", "channel": "str", "segment": "str"})
    except Exception as exc:
        raise MofInputError(f"cannot read CSV: {' '.join(str(exc).split())[:200]}", source=src) from None
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, HILLSTROM_COLUMNS, src)
    df = df[list(HILLSTROM_COLUMNS)].copy()
    na = df.isna().any(axis=1).to_numpy()
    if na.any():
        i = int(np.flatnonzero(na)[0])
        col = df.columns[df.iloc[i].isna().to_numpy()][0]
        raise MofInputError("missing value", source=src, column=col, row=i + 1, value=None)
    for c in ("history_segment", "zip_code", "channel", "segment"):
        df[c] = df[c].astype("str").str.strip()
    df["zip_code"] = df["zip_code"].replace({"Surburban": "Suburban"})
    bad = ~df["segment"].isin(HILLSTROM_ARMS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise MofInputError(f"unknown arm (expected {', '.join(HILLSTROM_ARMS)})", source=src, column="segment",
                            row=i + 1, value=df["segment"].iloc[i])
    for c in ("recency", "mens", "womens", "newbie", "visit", "conversion"):
        v = pd.to_numeric(df[c], errors="coerce")
        badv = v.isna() | ((c != "recency") & ~v.isin([0, 1]))
        if badv.any():
            i = int(np.flatnonzero(badv.to_numpy())[0])
            raise MofInputError("expected 0/1" if c != "recency" else "expected an integer", source=src, column=c,
                                row=i + 1, value=df[c].iloc[i])
        df[c] = v.astype("int64")
    for c in ("history", "spend"):
        df[c] = pd.to_numeric(df[c], errors="raise").astype("float64")
    feats = pd.concat([df[list(HILLSTROM_NUMERIC)],
                       pd.get_dummies(df[list(HILLSTROM_CATEGORICAL)], dtype="int64")], axis=1)
    feats.columns = [_snake(c) for c in feats.columns]
    return Hillstrom(df, feats, df["segment"], (df["segment"] != "No E-Mail").astype("int64"),
                     df["visit"], df["conversion"], df["spend"])


def _snake(name: str) -> str:
    import re

    s = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    return s


__all__ = ["load_hillstrom", "Hillstrom", "HILLSTROM_FILE", "HILLSTROM_ARMS"]
