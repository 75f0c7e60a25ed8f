"""Build the labeled job titles (``data/personas/titles.csv``) from O*NET and the hand-written titles.

Run from a checkout, with the O*NET text release unpacked somewhere (see
``src/mof_experiments/data/personas/SOURCES.md`` for where the copy came from)::

    python -m mof_experiments.segments.personas.build_data --onet /path/to/onet/data

The rule that turns an O*NET title into a persona (``label_rule`` in the output says which
part decided):

1. ``title:<name>``: a title rule of :data:`TITLE_RULES` (first match, in order). These encode
   the labeling guide where an O*NET occupation mixes functions (the "Chief Executives"
   occupation lists the CFO, CTO and CISO; "Marketing Managers" lists "Product Manager";
   "Information Security Engineers" lists plain "Network Engineer"). A rule may **exclude** a
   title (persona ``None``): it is then not in the data at all, because its persona cannot be
   told from the title alone (``Engineering Manager`` in an O*NET engineering occupation).
2. ``soc:<code>``: the persona of the title's O*NET-SOC occupation (:data:`OCCUPATIONS`; every
   occupation not listed there is ``OTHER``).

A title listed under occupations of different personas is dropped (conflict). ``OTHER``
titles are thinned to at most :data:`OTHER_PER_OCCUPATION` per occupation (a stable hash
decides which), so every occupation stays represented and the file stays small. The split is
by a stable hash of the title's *stem* (the normalized title without seniority words), so
"Senior Accountant" and "Accountant" land on the same side: ``test`` is 25%.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import pandas as pd

#: O*NET-SOC occupation -> persona (occupations not listed are OTHER). Reasoning in SOURCES.md.
OCCUPATIONS: dict[str, str] = {
    # software engineering: the people who integrate an API
    "15-1251.00": "DEV", "15-1252.00": "DEV", "15-1253.00": "DEV", "15-1254.00": "DEV",
    "15-1299.07": "DEV", "15-1299.08": "DEV", "15-1243.00": "DEV", "15-1243.01": "DEV",
    "15-1242.00": "DEV", "15-1244.00": "DEV", "15-1241.00": "DEV", "15-1299.01": "DEV",
    "11-3021.00": "DEV",          # IT and software development managers, CIO (security ones: rule)
    # security function
    "15-1212.00": "CSO", "15-1299.04": "CSO", "15-1299.05": "CSO", "15-1299.06": "CSO",
    # the company's own finance function
    "11-3031.00": "CFO", "11-3031.01": "CFO", "13-2011.00": "CFO", "13-2031.00": "CFO",
    "43-3031.00": "CFO",
    # legal and privacy/compliance
    "23-1011.00": "GC", "23-2011.00": "GC", "11-9199.02": "GC",
}

#: ESCO occupation (its English preferred label) -> persona (occupations not listed are OTHER).
ESCO_OCCUPATIONS: dict[str, str] = {
    "chief executive officer": "CEO",
    **dict.fromkeys(["financial manager", "financial controller", "accounting manager", "corporate treasurer",
                     "budget manager", "accountant", "accounting analyst", "budget analyst", "cost analyst",
                     "audit supervisor", "financial auditor", "bank treasurer", "public finance accountant",
                     "accounting assistant", "bookkeeper"], "CFO"),
    **dict.fromkeys(["chief ICT security officer", "ICT security manager", "ICT security administrator",
                     "ICT security consultant", "ICT security technician", "digital forensics expert",
                     "ethical hacker"], "CSO"),
    **dict.fromkeys(["chief technology officer", "chief information officer", "software manager",
                     "ICT system developer", "software developer", "software architect", "software analyst",
                     "user interface developer", "web developer", "mobile application developer",
                     "ICT application developer", "embedded systems software developer",
                     "industrial mobile devices software developer", "digital games developer", "database developer",
                     "database administrator", "database designer", "database integrator", "data warehouse designer",
                     "ICT network engineer", "ICT network architect", "ICT network administrator",
                     "ICT system administrator", "system configurator", "software tester", "ICT test analyst",
                     "ICT system tester", "ICT integration tester", "integration engineer", "ICT system architect",
                     "enterprise architect", "ICT application configurator"], "DEV"),
    **dict.fromkeys(["lawyer", "corporate lawyer", "legal consultant", "legal service manager", "legal assistant"],
                    "GC"),
    **dict.fromkeys(["ICT product manager", "product manager"], "PM"),
}

#: ESCO occupations left out (mixed or unclear persona).
EXCLUDED_ESCO: dict[str, str] = {
    "airport chief executive": "head of an airport: CEO of a public body or an operations manager",
    "branch manager": "branch of a bank or a shop: neither clearly CEO nor OTHER",
    "business manager": "mixed",
    "chief data officer": "data leadership: neither engineering nor OTHER by the guide",
    "prosecutor": "a lawyer for the state, not a company's legal function",
    "regulatory affairs manager": "regulatory affairs (product approvals)",
    "legal administrative assistant": "legal secretaries: administration within legal",
    "director of compliance and information security in gambling": "mixes compliance and security",
    "ICT resilience manager": "continuity planning: security or operations",
    "knowledge engineer": "AI knowledge bases: engineering or research",
    "ICT technician": "'IT engineer', 'ICT engineer': support or engineering",
    "embedded system designer": "hardware or software",
}

#: Occupations left out entirely (their titles cannot be told apart from the title alone).
EXCLUDED_OCCUPATIONS: dict[str, str] = {
    "23-1012.00": "law clerks serve courts, not a company's legal function; 'Law Clerk' reads as legal",
    "11-9199.01": "regulatory affairs (product approvals) is neither clearly legal nor OTHER",
    "13-1041.07": "regulatory affairs specialists, same reason",
    "43-3021.00": "billing clerks: finance function in some companies, operations in others",
    "43-3011.00": "collectors: mostly collection agencies (OTHER), sometimes accounts receivable",
    "43-3051.00": "payroll: finance in some companies, HR in others",
    "11-9199.00": "'Managers, All Other' mixes every function",
    "13-1199.00": "'Business Operations Specialists, All Other' mixes every function",
}

_SECURITY_CUE = (r"secur|cyber|threat|red team|blue team|incident|forensic|penetration|pen test|vulnerab|"
                 r"crypt|assurance|exploit|intel|ciso|cissp|\bsoc\b|hack|malware|espionage|all source|risk")

#: Ordered title rules: (name, regex on the lower-cased title, persona or None = exclude, occupations or None = all).
TITLE_RULES: tuple[tuple[str, str, str | None, tuple[str, ...] | None], ...] = (
    # founders/CEOs and functional chiefs (docs/personas.md: the function wins over "founder")
    ("chief_financial", r"chief financial officer|\bcfo\b|finance vice president", "CFO", None),
    ("chief_technology", r"chief (technology|technical|information) officer|\bcto\b|\bcio\b", "DEV", None),
    ("chief_security", r"chief (information )?security officer|\bciso\b|executive cyber", "CSO", None),
    ("chief_executive", r"chief executive officer|\bceo\b|^(bank|financial institution) president$|"
                        r"^(business|corporate|private sector) executive$|^executive (director|officer)$|"
                        r"^nonprofit director$|^foundation director$", "CEO", None),
    ("general_manager", r"^general manager \(gm\)$", "CEO", None),
    # a head-of-organization word outside the executives occupations (``Zoo Managing Director``,
    # ``Hotels General Manager``, ``University President``): the guide says CEO when the person
    # heads the organization, the occupation says facility manager; the title alone cannot tell
    ("head_word_outside_executives", r"(?<!vice )\bpresident|managing director|executive director|general manager|"
                                     r"\bowner\b|founder|chairman|chairwoman|\bceo\b", None, ("not:CEO",)),
    # any other title of the Chief Executives occupation: agency heads, COO, CDO ... are ambiguous
    ("other_chief_executives", r".", None, ("11-1011.00", "11-1011.03")),
    # product management is PM, product marketing is marketing
    ("product_marketing", r"product marketing", "OTHER", None),
    ("product_manager", r"^product (line )?manager( \(plm\))?$|^product owner$|^product director$", "PM", None),
    # "Clothing Product Manager", "Geothermal Product Manager": product management by the words,
    # production or design by the occupation
    ("product_title_outside_pm", r"product (manager|director|owner|lead)|products manager", None, ("not:PM",)),
    # titles whose function depends on the employer: unqualified engineering and development
    ("unqualified_engineering", r"^(senior |lead |chief |staff )?(engineer|engineering (director|manager|supervisor|"
                                r"group manager|project manager|program manager|analyst)|developer|technical director|"
                                r"technical engineer|director,? (of )?engineering)$", None, None),
    # software work listed under a non-software occupation (O*NET "Engineers, All Other" lists
    # "Full Stack Engineer"): the occupation says nothing about these titles
    ("software_outside_software_occ", r"software|full ?stack|front ?end|back ?end|devops|dev ops|web develop|"
                                      r"programmer|developer advocate|\bui developer|user interface developer|"
                                      r"(data|web|multimedia|bioinformatics|applications?|systems?|database|mobile|"
                                      r"game|embedded|visualization|ict|it) (developer|engineer)|stack engineer",
     None, ("not:DEV",)),
    # privacy is the legal/privacy function wherever O*NET lists it
    ("privacy", r"privacy|data protection", "GC", None),
    # security titles in IT occupations are the security function
    ("security_in_it", r"secur|cyber", "CSO", ("11-3021.00", "15-1211.00", "15-1231.00", "15-1244.00",
                                                "15-1241.00", "15-1299.09", "DEV")),
    # plain IT titles listed under the security occupations are not security work
    ("non_security_in_security_occ", r"^(?!.*(" + _SECURITY_CUE + r")).*$", None,
     ("15-1212.00", "15-1299.04", "15-1299.05", "15-1299.06")),
    # physical security occupations: keep the clearly physical titles as OTHER, drop the rest
    ("physical_security", r"physical|personal (protection|security)|guard|museum|violence|loss prevention|"
                          r"corporate security|internal security|security (supervisor|services)", "OTHER",
     ("11-3013.01", "13-1199.07")),
    ("generic_security_title", r".", None, ("11-3013.01", "13-1199.07")),
    # IT-manager occupation titles that are not engineering
    ("it_non_engineering", r"account manager|knowledge|content|portfolio|product support|workforce", None,
     ("11-3021.00",)),
    # banks' line business listed under Financial Managers is not the finance function
    ("bank_line_business", r"bank|banking|atm|branch|credit union|mortgage|exchange floor|investment|"
                           r"asset manager|actuarial|credit", "OTHER", ("11-3031.00",)),
    ("treasurer_non_finance", r"trust officer|financial engineer|financier|production controller", None,
     ("11-3031.01",)),
    # the company's finance analysts vs investment analysts
    ("corporate_finance_analyst", r"^(corporate )?financ(e|ial) analyst$|treasury analyst|planning analyst|"
                                  r"fiscal analyst|accounting analyst|budget", "CFO", ("13-2051.00",)),
    ("generic_analyst", r"^analyst$|brand analyst|pricing|financial systems analyst", None, ("13-2051.00",)),
    # compliance: corporate compliance is GC; environmental, safety and inspection work is not
    ("environmental_compliance", r"environment|safety|health|accreditation|licens", "OTHER", ("11-9199.02",)),
    ("compliance_ambiguous", r"audit|risk manager", None, ("11-9199.02",)),
    ("corporate_compliance", r"^compliance (analyst|coordinator|officer|specialist|manager|director)$",
     "GC", ("13-1041.00",)),
    ("compliance_in_accounting", r"compliance", None, ("13-2011.00",)),
    ("accounting_systems", r"systems analyst|information systems auditor", None, ("13-2011.00",)),
    # bookkeeping clerks: keep the finance-function work (ledgers, payables, audit), drop bank back-office clerks
    ("finance_clerk", r"account|bookkeep|audit|payable|receivable|ledger|budget|fiscal|financ|cost|billing|"
                      r"reconcil|journal|voucher", "CFO", ("43-3031.00",)),
    ("clerk_other", r".", None, ("43-3031.00",)),
    ("auditor_non_finance", r"quality|railroad|insurance|medical|inventory|payroll|tax auditor|county|city|"
                            r"data processing|information systems|field auditor", None, ("13-2011.00",)),
    ("risk_insurance", r"risk|insurance", None, ("11-3031.00",)),
    ("legal_assistant_non_legal", r"^(legal )?secretary$", None, ("23-2011.00",)),
    # ESCO: alternative labels of an occupation that name another job
    ("esco_product_manager_other", r"^(?!.*product (manag|owner)).*$", None, ("esco:product manager",)),
    ("esco_examiner", r"examiner|investigat", None, ("esco:financial auditor", "esco:financial controller")),
    ("esco_court_clerk", r"clerk|judicial|guardian", None, ("esco:legal assistant",)),
)

OTHER_PER_OCCUPATION = {"onet": 8, "esco": 2}

#: OTHER occupations kept whole (not thinned): the look-alikes of the personas that issue 17
#: lists (physical security, client-facing finance, counselors, engineers outside software,
#: course developers).
HARD_NEGATIVES = frozenset({
    "33-9032.00", "33-1091.00", "33-9093.00", "11-3013.01", "13-1199.07", "33-9099.02", "33-9021.00",
    "13-2052.00", "41-3031.00", "13-2071.00", "13-2072.00", "13-2053.00", "43-3071.00",
    "21-1012.00", "21-1014.00", "21-1018.00", "21-1019.00", "21-1011.00", "21-1013.00", "21-1015.00",
    "17-2141.00", "17-2051.00", "17-2071.00", "17-2072.00", "17-2112.00", "17-2011.00", "17-2041.00",
    "17-2081.00", "17-2199.00", "49-9041.00", "49-9071.00", "11-9041.00", "17-2061.00",
    "25-9031.00", "13-1151.00", "11-2021.00", "11-2022.00", "11-1021.00", "13-1041.00", "13-1041.01",
    "13-1141.00", "11-3111.00", "43-6011.00", "43-6014.00",
})
TEST_SHARE = 0.25
_SENIORITY = re.compile(r"\b(senior|sr|junior|jr|lead|staff|principal|chief|head|assistant|associate|deputy|"
                        r"interim|acting|i|ii|iii|iv|1|2|3)\b")


def stem(title: str) -> str:
    """The grouping key of the split: lower-case words without seniority words or a plural ``s``."""
    t = re.sub(r"\(.*?\)", " ", str(title).lower())
    t = re.sub(r"[^\w]+", " ", t)
    return " ".join(re.sub(r"(?<=\w{3})s$", "", w) for w in _SENIORITY.sub(" ", t).split())


def stable_fraction(key: str) -> float:
    """A number in [0, 1) from the MD5 of ``key`` (stable across runs and machines)."""
    return int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) / 2 ** 32


def label_title(group: str, title: str) -> tuple[str | None, str]:
    """(persona or None to exclude, label_rule) for one title of an occupation.

    ``group`` is an O*NET-SOC code (``15-1252.00``) or ``esco:<preferred label>``.
    """
    if group in EXCLUDED_OCCUPATIONS or group.removeprefix("esco:") in EXCLUDED_ESCO and group.startswith("esco:"):
        return None, f"excluded:{group}"
    low = title.lower()
    for name, rx, persona, scope in TITLE_RULES:
        if scope and scope[0].startswith("not:"):
            in_scope = _occupation_persona(group) != scope[0][4:] and not group.startswith("11-1011")
        elif scope and "DEV" in scope and _occupation_persona(group) == "DEV":
            in_scope = True
        else:
            in_scope = scope is None or group in scope
        if in_scope and re.search(rx, low):
            return persona, f"title:{name}"
    return _occupation_persona(group), group if group.startswith("esco:") else f"soc:{group}"


def _occupation_persona(group: str) -> str:
    if group.startswith("esco:"):
        return ESCO_OCCUPATIONS.get(group[5:], "OTHER")
    return OCCUPATIONS.get(group, "OTHER")


def _esco_titles(esco_csv: Path):
    esco = pd.read_csv(esco_csv, dtype=str, keep_default_na=False)
    for pref, alts in zip(esco["preferredLabel"], esco["altLabels"]):
        for t in [pref] + [a for a in alts.split("\n") if a.strip()]:
            yield f"esco:{pref}", t


def build(onet_dir: Path, esco_csv: Path, handwritten: Path) -> pd.DataFrame:
    """The labeled titles: ``job_title``, ``persona``, ``source``, ``label_rule``, ``split``."""
    alt = pd.read_csv(onet_dir / "Alternate Titles.txt", sep="\t", dtype=str)
    rep = pd.read_csv(onet_dir / "Sample of Reported Titles.txt", sep="\t", dtype=str)
    sources = (("onet_reported", zip(rep["O*NET-SOC Code"], rep["Reported Job Title"])),
               ("onet_alternate", zip(alt["O*NET-SOC Code"], alt["Alternate Title"])),
               ("esco", _esco_titles(esco_csv)))
    rows = []
    for source, pairs in sources:
        for group, title in pairs:
            title = " ".join(str(title).split())
            persona, rule = label_title(group, title)
            if persona is not None:
                rows.append((title, persona, source, rule, group))
    onet = pd.DataFrame(rows, columns=["job_title", "persona", "source", "label_rule", "soc"])
    key = onet["job_title"].str.lower()
    conflict = onet.groupby(key)["persona"].transform("nunique") > 1
    onet = onet[~conflict]
    # one row per title: the reported title (an incumbent's own words) wins over the alternate list
    onet = onet.drop_duplicates(subset=["job_title"], keep="first")
    onet = onet[~onet["job_title"].str.lower().duplicated()]
    other = onet["persona"] == "OTHER"
    rank = onet["job_title"].map(lambda t: stable_fraction("thin:" + t))  # independent of the split hash
    cap = onet["source"].map(lambda s: OTHER_PER_OCCUPATION["esco" if s == "esco" else "onet"])
    kept = onet[other].assign(r=rank[other], cap=cap[other]).sort_values("r")
    kept = kept[(kept.groupby("soc").cumcount() < kept["cap"]) | kept["soc"].isin(HARD_NEGATIVES)]
    keep_other = kept.index
    onet = pd.concat([onet[~other], onet.loc[keep_other]]).drop(columns="soc")
    hand = pd.read_csv(handwritten, dtype=str, keep_default_na=False)
    hand = hand.drop_duplicates(subset=["job_title"])
    # a hand-labeled title follows the labeling guide directly: it wins over an occupation's label
    onet = onet[~onet["job_title"].str.lower().isin(set(hand["job_title"].str.lower()))]
    out = pd.concat([onet, hand[["job_title", "persona", "source", "label_rule"]]], ignore_index=True)
    out["split"] = ["test" if stable_fraction(stem(t)) < TEST_SHARE else "train" for t in out["job_title"]]
    return out.sort_values(["source", "persona", "job_title"]).reset_index(drop=True)


def main(argv=None) -> int:
    here = Path(__file__).resolve().parents[2] / "data" / "personas"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onet", type=Path, required=True, help="folder with the O*NET text files")
    ap.add_argument("--esco", type=Path, required=True, help="ESCO occupations_en.csv")
    ap.add_argument("--handwritten", type=Path, default=here / "handwritten.csv")
    ap.add_argument("--out", type=Path, default=here / "titles.csv")
    args = ap.parse_args(argv)
    df = build(args.onet, args.esco, args.handwritten)
    tmp = args.out.with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(args.out)
    print(df.groupby(["source", "split", "persona"]).size().unstack(fill_value=0).to_string(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
