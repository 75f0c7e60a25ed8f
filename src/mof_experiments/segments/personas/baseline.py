"""A keyword baseline for personas, written before the v2 data and never tuned on it.

It is the yardstick of issue 17: the shipped classifier must beat it by at least 8 points of
macro-F1 on the held-out titles. Do not edit it to make either number look better.
"""

from __future__ import annotations

import re

#: (persona, keywords) in order; the first list with a keyword in the lower-cased title wins.
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GC", ("counsel", "legal", "attorney", "lawyer", "paralegal", "compliance", "privacy")),
    ("CSO", ("security", "ciso", "infosec")),
    ("CFO", ("cfo", "finance", "financial", "controller", "accountant", "accounting", "treasurer")),
    ("PM", ("product manager", "product owner", "head of product", "vp product", "cpo")),
    ("CEO", ("ceo", "chief executive", "founder", "president", "owner", "managing director")),
    ("DEV", ("engineer", "developer", "cto", "programmer", "devops", "software", "architect")),
)


def keyword_baseline(titles) -> list[str]:
    """Persona per title by the first matching keyword list of :data:`KEYWORDS`, else ``OTHER``.

    Matching is a case-insensitive substring test on word boundaries (``\\bkeyword``), nothing
    else: no normalization of accents, no scripts other than Latin, no model.
    """
    pats = [(p, re.compile(r"\b(?:" + "|".join(map(re.escape, kws)) + ")", re.I)) for p, kws in KEYWORDS]
    out = []
    for t in titles:
        text = "" if t is None or t != t else str(t)
        out.append(next((p for p, rx in pats if rx.search(text)), "OTHER"))
    return out
