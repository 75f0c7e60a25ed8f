"""Build the fresh held-out titles (``data/personas/titles_fresh.csv``) from Canada's NOC 2016.

Run from a checkout, with the copy named in ``SOURCES.md`` unpacked somewhere::

    python -m mof_experiments.segments.personas.build_fresh --noc-js DIR

``DIR`` holds ``job_titles1.js``, ``job_titles2.js`` and ``job_titles3.js`` (Canada's National
Occupational Classification 2016 job titles with their four-digit unit group, as packaged by a
public repository). None of these titles is fitted on or used to choose anything: the file is
scored once, for the final figure (``benchmarks/personas_bench.py --fresh``).

The rule that turns a NOC title into a persona (``label_rule`` in the output), written from the
labeling guide in ``docs/personas.md`` and the NOC unit groups before any classifier was run on
these titles:

1. The unit groups of :data:`UNIT_RULES` are read title by title: an ordered list of (name,
   regex on the lower-cased title, persona or ``None`` = leave out); the first match decides,
   no match leaves the title out. They carry the guide's decisions: senior managers (NOC
   0013-0016) are CEO when they head the company (president, CEO, executive director, general
   manager, chair), CFO when they head finance, OTHER when they head another function (vice
   presidents of marketing, operations, ...); IT security analysts are CSO, other systems
   analysts OTHER (as O*NET's 15-1211); paralegals and law clerks of firms are GC, title
   searchers and notaries public are left out; prosecutors are left out (as in the training
   data); counsellors among lawyers are left out (counselor is not counsel).
2. The unit groups of :data:`UNITS` take their persona (programmers, software engineers,
   database analysts and testers DEV; financial managers, accountants and bookkeepers CFO;
   lawyers GC; ...).
3. Every other unit group is OTHER, except that a title naming a persona's work or a company
   head outside the persona's unit groups is left out (:data:`OTHER_UNIT_EXCLUSIONS`: a
   ``software`` or ``programmer`` title, ``president``, ``owner``, ``chairperson``, ...), as the
   training data's ``software_outside_software_occ`` and ``head_word_outside_executives`` rules
   do, because the title alone cannot tell.

A title listed under two unit groups with different personas is left out. OTHER titles are
thinned to :data:`OTHER_PER_UNIT` per unit group (a stable hash decides which), except the
look-alikes the issue lists (:data:`HARD_NEGATIVE_UNITS`: engineers outside software,
counsellors, security guards and police, client-facing finance, course and film developers,
sales engineers, IT support), which are kept whole.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pandas as pd

from mof_experiments.segments.personas.build_data import stable_fraction

SOURCE = "noc2016"

#: NOC 2016 unit group -> persona, for the groups whose every title has that persona.
UNITS: dict[str, str] = {
    "0213": "DEV", "2173": "DEV", "2174": "DEV", "2283": "DEV",
    "1311": "CFO",
}

_SENIOR = (
    ("chief_financial", r"chief financial|\bcfo\b|finance vice|controller", "CFO"),
    ("engineering_vp", r"engineering vice", None),        # broadcast or railway engineering: not told
    ("vice_president", r"vice-president|vice president|chief operating", "OTHER"),
    ("company_head", r"chief executive|\bceo\b|president|executive director|general manager|chairperson|chairman",
     "CEO"),
)
#: Unit group -> ordered (name, regex, persona or None) rules; no match leaves the title out.
UNIT_RULES: dict[str, tuple] = {
    **dict.fromkeys(("0013", "0014", "0015", "0016"), _SENIOR),
    "0012": (),                                           # senior government managers: head of what, not told
    "0111": (("pension_or_risk", r"pension|risk", None), ("financial_manager", r".", "CFO")),
    "1111": (("income_tax", r"income tax", None), ("accountant_auditor", r".", "CFO")),
    "1112": (("corporate_financial_analyst", r"^financial analyst$", "CFO"), ("investment", r".", "OTHER")),
    "1212": (("finance_supervisor", r"accounts payable|accounts receivable|bookkeeping|accounting", "CFO"),
             ("billing_payroll_collection", r"billing|payroll|collection", None), ("other_supervisor", r".", "OTHER")),
    "1431": (("finance_clerk", r"account|audit|payable|receivable|ledger|budget|cost|financ|bookkeep", "CFO"),
             ("billing_tax_clerk", r"billing|payroll|invoice|tax|deposit", None), ("other_clerk", r".", "OTHER")),
    "1221": (("privacy", r"privacy", "GC"), ("administration", r".", "OTHER")),
    "1242": (),                                           # legal administrative assistants: as ESCO's, left out
    "2147": (("hardware", r"hardware", "OTHER"), ("network", r"network", None), ("computer_engineer", r".", "OTHER")),
    "2171": (("security_analyst", r"secur", "CSO"), ("qa_analyst", r"quality assurance|\bqa\b", "DEV"),
             ("systems_auditor", r"audit", None), ("systems_analyst", r".", "OTHER")),
    "2172": (("data_custodian", r"custodian", None), ("database", r".", "DEV")),
    "2175": (("web_developer", r"developer", "DEV"), ("web_designer", r"designer", "OTHER")),
    "2281": (("administrator", r"administrator", "DEV"), ("network_manager", r"manager", None),
             ("technician_operator", r".", "OTHER")),
    "4112": (("prosecutor", r"prosecut|crown", None), ("counsellor", r"counsel+or", None), ("lawyer", r".", "GC")),
    "4211": (("clerk_to_judge", r"judge", None),
             ("paralegal", r"paralegal|law clerk|clerk, law|legal researcher|researcher, legal|legal technician|"
                           r"litigation clerk|brief writer", "GC")),
}
#: Titles left out of the OTHER unit groups: persona work or company-head words there.
OTHER_UNIT_EXCLUSIONS = (r"software|programmer|web develop|devops|cyber ?secur|information security|"
                         r"chief financial|\bcfo\b|general counsel|\blawyer|attorney|paralegal|privacy|"
                         r"product manager|product owner|accountant|bookkeeper|treasurer|prosecut|"
                         r"(?<!vice-)(?<!vice )\bpresident|managing director|executive director|general manager|"
                         r"\bowner\b|owner-operator|founder|chairman|chairwoman|chairperson|\bchair\b|\bceo\b|"
                         r"chief executive|legal firm|accounting firm|security manager")
OTHER_PER_UNIT = 4
#: OTHER unit groups kept whole: the persona look-alikes of issue 17.
HARD_NEGATIVE_UNITS = frozenset({
    # engineers outside software, and "engineers" who run engines
    "2131", "2132", "2133", "2134", "2141", "2142", "2143", "2144", "2145", "2146", "2147", "2148", "2274",
    "7361", "9241", "7315",
    # counsellors
    "4033", "4153", "4156", "4167", "5254", "6235",
    # physical security, police, security sales
    "6541", "6316", "4311", "6411",
    # finance as a service to clients
    "1112", "1114", "0121", "0122",
    # developers outside software: curriculum, business, film
    "4166", "4163", "9474",
    # IT work that is not software engineering; sales engineers; marketing
    "2171", "2175", "2281", "2282", "6221", "0124",
})


def label_noc(unit: str, title: str) -> tuple[str | None, str]:
    """(persona or None to leave out, label_rule) of one NOC title of unit group ``unit``."""
    low = title.lower()
    if unit in UNIT_RULES:
        for name, rx, persona in UNIT_RULES[unit]:
            if re.search(rx, low):
                return persona, f"noc:{unit}:{name}"
        return None, f"noc:{unit}:unmatched"
    if unit in UNITS:
        return UNITS[unit], f"noc:{unit}"
    if re.search(OTHER_UNIT_EXCLUSIONS, low):
        return None, f"noc:{unit}:persona_words_outside"
    return "OTHER", f"noc:{unit}"


def read_noc_js(folder: Path) -> pd.DataFrame:
    """``unit``, ``title`` from the ``job_titles*.js`` files (``{"NOCCode": ..., "JobTitle": ...}`` entries)."""
    rows = []
    rx = re.compile(r'"NOCCode":\s*"(\d+)",\s*"JobTitle":\s*"((?:[^"\\]|\\.)*)"')
    for path in sorted(folder.glob("job_titles*.js")):
        for m in rx.finditer(path.read_text("utf-8")):
            rows.append((m.group(1), " ".join(json.loads(f'"{m.group(2)}"').split())))
    return pd.DataFrame(rows, columns=["unit", "title"])


def build(folder: Path) -> pd.DataFrame:
    """The labeled fresh titles: ``job_title``, ``persona``, ``source``, ``label_rule``."""
    noc = read_noc_js(folder)
    labeled = [label_noc(u, t) for u, t in zip(noc["unit"], noc["title"])]
    noc = noc.assign(persona=[p for p, _ in labeled], label_rule=[r for _, r in labeled])
    noc = noc[noc["persona"].notna()]
    key = noc["title"].str.lower()
    noc = noc[noc.groupby(key)["persona"].transform("nunique") == 1]
    noc = noc[~noc["title"].str.lower().duplicated()]
    other = noc["persona"] == "OTHER"
    kept = noc[other].assign(r=noc.loc[other, "title"].map(lambda t: stable_fraction("fresh:" + t))).sort_values("r")
    nth = kept.groupby("unit").cumcount()
    kept = kept[(nth < OTHER_PER_UNIT) | kept["unit"].isin(HARD_NEGATIVE_UNITS)]
    out = pd.concat([noc[~other], noc.loc[kept.index]])
    out = out.rename(columns={"title": "job_title"}).assign(source=SOURCE)
    return out[["job_title", "persona", "source", "label_rule"]].sort_values(["persona", "job_title"]).reset_index(
        drop=True)


def main(argv=None) -> int:
    here = Path(__file__).resolve().parents[2] / "data" / "personas"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noc-js", type=Path, required=True, help="folder with job_titles1.js ... job_titles3.js")
    ap.add_argument("--out", type=Path, default=here / "titles_fresh.csv")
    args = ap.parse_args(argv)
    df = build(args.noc_js)
    tmp = args.out.with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(args.out)
    print(df["persona"].value_counts().to_string(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
