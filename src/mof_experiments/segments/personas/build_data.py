"""Build the labeled job titles (``data/personas/titles_dev.csv``, ``titles_heldout.csv``) from public data.

Run from a checkout, with the public sources unpacked somewhere (``SOURCES.md`` beside the data
says which repository, commit and path each came from)::

    python -m mof_experiments.segments.personas.build_data --onet DIR --esco occupations_en.csv \
        --melo MELO_CHECKOUT --previous OLD_TITLES_CSV

Sources (``source`` in the output): O*NET 27.0 reported and alternate titles (``onet_reported``,
``onet_alternate``), ESCO's English occupation labels (``esco``), ESCO's German, French, Spanish
and Portuguese labels (``esco_de``, ``esco_fr``, ``esco_es``, ``esco_pt``) and the French ROME job
titles mapped to ESCO by France Travail (``rome_fr``); plus the hand-written titles
(``handwritten_v1``, ``handwritten_v2``, never held out).

The rule that turns a public title into a persona (``label_rule`` in the output says which part
decided):

1. ``title:<name>``: a title rule of :data:`TITLE_RULES` (English, first match, in order) or of
   :data:`ML_TITLE_RULES` (every language, on the normalized title). These encode the labeling
   guide where an occupation mixes functions (the "Chief Executives" occupation lists the CFO, CTO
   and CISO; "Marketing Managers" lists "Product Manager"). A rule may **exclude** a title (persona
   ``None``): it is then not in the data at all, because its persona cannot be told from the
   title alone (``Engineering Manager`` in an O*NET engineering occupation).
2. ``soc:<code>`` / ``esco:<occupation>``: the persona of the title's occupation
   (:data:`OCCUPATIONS`, :data:`ESCO_OCCUPATIONS`; every occupation not listed there is ``OTHER``).
   A ROME title takes the persona of the ESCO occupations France Travail mapped it to, when they
   all agree (``rome:<persona>``); else it is dropped.

A title listed with different personas is dropped (conflict). ``OTHER`` titles are thinned to at
most :data:`OTHER_PER_OCCUPATION` per occupation and source (a stable hash decides which), except
the look-alikes of the personas: O*NET's :data:`HARD_NEGATIVES` are kept whole, ESCO's
:data:`HARD_NEGATIVE_ISCO` up to :data:`HARD_NEGATIVE_CAP` per occupation and language.

**Split** (``split``): ``heldout`` or ``dev``, by a stable hash of the title's *group* (:func:`stem`:
the normalized title without seniority words, plural or feminine endings, and only the first of
``A / B`` alternatives), so "Senior Accountant", "Accountants" and "Contadora"/"Contador" land on
the same side. Only real titles (not hand-written) are held out: :data:`HELDOUT_SHARE` of the
groups, drawn with :data:`SPLIT_SALT`, excluding every group that contains a title of the earlier
(v2) test split (``--previous``), which had been looked at and so is development data now.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import pandas as pd

from mof_experiments.segments.personas.label_rules import (  # noqa: F401 - the tables, re-exported
    ESCO_OCCUPATIONS, EXCLUDED_ESCO, EXCLUDED_OCCUPATIONS, ML_TITLE_RULES, OCCUPATIONS, TITLE_RULES)


OTHER_PER_OCCUPATION = {"onet": 4, "esco": 1, "rome": 1}
#: ... and per occupation of :data:`HARD_NEGATIVE_ISCO` (the O*NET :data:`HARD_NEGATIVES` are kept whole).
HARD_NEGATIVE_CAP = 4

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
#: The same look-alikes in ESCO, by ISCO-08 unit group: engineers outside software (214x, 215x),
#: sales and marketing managers (1221), advertising and marketing professionals (2431), financial
#: advisers, securities dealers and loan officers (2412, 3311, 3312), social work and counselling
#: (2635), security guards (5414), environmental and health inspectors (3257), IT trainers (2356).
HARD_NEGATIVE_ISCO = frozenset({"2141", "2142", "2143", "2144", "2145", "2146", "2149", "2151", "2152", "2153",
                                "1221", "2431", "2412", "3311", "3312", "2635", "5414", "3257", "2356"})

#: Share of the title groups held out, by persona, and the salt of their hash. The public data
#: has few product-management and chief-executive titles (about 65 and 55), so their share is
#: larger, for a held-out support of a few dozen titles each; the shares were fixed from the class
#: counts, before any model was fitted on this data.
HELDOUT_SHARE = {"PM": 0.65, "CEO": 0.65, "GC": 0.4, "CSO": 0.4, "CFO": 0.4, "DEV": 0.4, "OTHER": 0.4}
SPLIT_SALT = "heldout-v3:"
REAL_SOURCES = ("onet_reported", "onet_alternate", "esco", "esco_de", "esco_fr", "esco_es", "esco_pt", "rome_fr")
MELO_LANGUAGES = {"de": "aut_q_de_c_de", "fr": "bel_q_fr_c_fr", "es": "esp_q_es_c_es", "pt": "prt_q_pt_c_pt",
                  "en": "aut_q_de_c_en"}

_SENIORITY = re.compile(r"\b(senior|sr|junior|jr|lead|staff|principal|chief|head|assistant|assistante|associate|"
                        r"deputy|interim|acting|i|ii|iii|iv|1|2|3)\b")
_FEMININE = ((re.compile(r"trice\b"), "teur"), (re.compile(r"euse\b"), "eur"), (re.compile(r"iere\b"), "ier"),
             (re.compile(r"ienne\b"), "ien"), (re.compile(r"ffe\b"), "f"), (re.compile(r"erin(nen)?\b"), "er"))


def stem(title: str) -> str:
    """The grouping key of the split.

    The title is normalized (:func:`~.text.normalize_title`: lower case, Latin accents
    stripped), only the first of ``A / B`` alternatives is kept (``Directeur / Directrice`` ->
    ``directeur``), parentheses, seniority words and a plural ``s`` are dropped, French, German,
    Spanish and Portuguese feminine endings are folded (``directrice`` -> ``directeur``,
    ``leiterin`` -> ``leiter``) and a final vowel is dropped (``abogada``/``abogado`` ->
    ``abogad``). Coarser is safer here: a false merge only keeps two titles on the same side.
    It is coarse indeed for ROME's ``Directeur / Directrice financier`` form, which keeps only
    ``directeur`` (all such titles form one group); known, and left as it was when the split was
    made.
    """
    from mof_experiments.segments.personas.text import normalize_title

    t = re.sub(r"\(.*?\)", " ", str(title))
    t = re.split(r"\s/\s|/(?=[A-ZÀ-Ý])", t)[0] if "/" in t else t
    t = normalize_title(t)
    t = _SENIORITY.sub(" ", t)
    words = []
    for w in t.split():
        for rx, rep in _FEMININE:
            w = rx.sub(rep, w)
        w = re.sub(r"(?<=\w{3})s$", "", w)
        w = re.sub(r"(?<=\w{3})[aeo]$", "", w)
        words.append(w)
    return " ".join(words)


def stable_fraction(key: str) -> float:
    """A number in [0, 1) from the MD5 of ``key`` (stable across runs and machines)."""
    return int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) / 2 ** 32


def label_title(group: str, title: str, english: bool = True) -> tuple[str | None, str]:
    """(persona or None to exclude, label_rule) for one title of an occupation.

    ``group`` is an O*NET-SOC code (``15-1252.00``) or ``esco:<English preferred label>``. English
    titles (O*NET, ESCO English) go through :data:`TITLE_RULES`, the German, French, Spanish and
    Portuguese ones through :data:`ML_TITLE_RULES`.
    """
    if not english:
        if group.removeprefix("esco:") in EXCLUDED_ESCO:
            return None, f"excluded:{group}"
        return _ml_rule(_occupation_persona(group), title) or (_occupation_persona(group), group)
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


def _ml_rule(occupation_persona: str, title: str):
    from mof_experiments.segments.personas.text import normalize_title

    norm = normalize_title(title)
    for name, rx, persona, scope in ML_TITLE_RULES:
        if scope == "all":
            in_scope = True
        elif scope.startswith("not:"):
            in_scope = occupation_persona != scope[4:]
        else:
            in_scope = occupation_persona == scope
        if in_scope and re.search(rx, norm):
            return persona, f"title:{name}"
    return None


def _occupation_persona(group: str) -> str:
    if group.startswith("esco:"):
        return ESCO_OCCUPATIONS.get(group[5:], "OTHER")
    return OCCUPATIONS.get(group, "OTHER")


def _esco_titles(esco_csv: Path):
    esco = pd.read_csv(esco_csv, dtype=str, keep_default_na=False)
    for pref, alts in zip(esco["preferredLabel"], esco["altLabels"]):
        for t in [pref] + [a for a in alts.split("\n") if a.strip()]:
            yield f"esco:{pref}", t


def _melo_labels(melo: Path, lang: str) -> pd.DataFrame:
    """ESCO occupation labels of one language from a MELO checkout: ``uri``, ``label``, ``preferred``."""
    folder = melo / "data" / "processed" / "melo" / MELO_LANGUAGES[lang]
    read = dict(sep="\t", header=None, quoting=3, dtype=str, keep_default_na=False)
    ids = pd.read_csv(folder / "concept_mapping.tsv", names=["id", "uri"], **read)
    labels = pd.read_csv(folder / "corpus_elements.tsv", names=["id", "label"], **read)
    out = ids.merge(labels, on="id")
    out = out[out["uri"].str.contains("/occupation/", regex=False)]
    return out.assign(preferred=out["id"].str.endswith("_000"))


def _esco_groups(melo: Path, esco_csv: Path) -> tuple[dict, dict]:
    """ESCO concept URI -> ``esco:<English preferred label>``, and -> ISCO-08 unit group."""
    en = _melo_labels(melo, "en")
    pref = dict(zip(en.loc[en["preferred"], "uri"], "esco:" + en.loc[en["preferred"], "label"]))
    esco = pd.read_csv(esco_csv, dtype=str, keep_default_na=False)
    return pref, dict(zip(esco["conceptUri"], esco["iscoGroup"]))


def _multilingual_titles(melo: Path, esco_csv: Path):
    """(source, group, title, isco) for ESCO's de/fr/es/pt labels and France Travail's ROME titles."""
    import json

    pref, isco = _esco_groups(melo, esco_csv)
    for lang in ("de", "fr", "es", "pt"):
        d = _melo_labels(melo, lang)
        for uri, label in zip(d["uri"], d["label"]):
            if uri in pref:
                yield f"esco_{lang}", pref[uri], label, isco.get(uri, "")
    rome = json.loads((melo / "data" / "raw" / "crosswalks_standard" / "fra_fr" / "crosswalk.json").read_text("utf-8"))
    for code, entry in rome.items():
        uris = [u for u in entry["matches"] if "/occupation/" in u]
        if not uris or len(uris) != len(entry["matches"]) or any(u not in pref for u in uris):
            continue                     # mapped to an ISCO group only, or to an unknown concept
        labels = {label_title(pref[u], entry["title"], english=False) for u in uris}
        personas = {p for p, _ in labels}
        if len(personas) == 1 and None not in personas:
            persona = personas.pop()
            rule = next(r for _, r in labels) if len(labels) == 1 else f"rome:{persona}"
            groups = sorted(pref[u] for u in uris)
            yield "rome_fr", "|".join(groups), entry["title"], isco.get(uris[0], ""), persona, rule


def build(onet_dir: Path, esco_csv: Path, handwritten: Path, melo: Path | None = None,
          previous: Path | None = None) -> pd.DataFrame:
    """The labeled titles: ``job_title``, ``persona``, ``source``, ``label_rule``, ``split``."""
    alt = pd.read_csv(onet_dir / "Alternate Titles.txt", sep="\t", dtype=str)
    rep = pd.read_csv(onet_dir / "Sample of Reported Titles.txt", sep="\t", dtype=str)
    sources = (("onet_reported", zip(rep["O*NET-SOC Code"], rep["Reported Job Title"])),
               ("onet_alternate", zip(alt["O*NET-SOC Code"], alt["Alternate Title"])),
               ("esco", _esco_titles(esco_csv)))
    esco_isco = pd.read_csv(esco_csv, dtype=str, keep_default_na=False)
    isco_by_label = dict(zip("esco:" + esco_isco["preferredLabel"], esco_isco["iscoGroup"]))
    rows = []
    for source, pairs in sources:
        for group, title in pairs:
            title = " ".join(str(title).split())
            persona, rule = label_title(group, title)
            if persona is not None:
                rows.append((title, persona, source, rule, group, isco_by_label.get(group, "")))
    if melo is not None:
        for item in _multilingual_titles(melo, esco_csv):
            if item[0] == "rome_fr":
                source, group, title, isco, persona, rule = item
            else:
                source, group, title, isco = item
                persona, rule = label_title(group, title, english=False)
            title = " ".join(str(title).split())
            if persona is not None:
                rows.append((title, persona, source, rule, group, isco))
    pub = pd.DataFrame(rows, columns=["job_title", "persona", "source", "label_rule", "soc", "isco"])
    from mof_experiments.segments.personas.text import normalize_title

    key = pub["job_title"].map(normalize_title)
    conflict = pub.groupby(key)["persona"].transform("nunique") > 1
    pub, key = pub[~conflict], key[~conflict]
    # one row per title: the reported title (an incumbent's own words) wins over the alternate list
    pub = pub[~key.duplicated()]
    other = pub["persona"] == "OTHER"
    rank = pub["job_title"].map(lambda t: stable_fraction("thin:" + t))  # independent of the split hash
    cap = pub["source"].map(lambda s: OTHER_PER_OCCUPATION["onet" if s.startswith("onet") else
                                                           "rome" if s == "rome_fr" else "esco"])
    kept = pub[other].assign(r=rank[other], cap=cap[other]).sort_values("r")
    nth = kept.groupby(["source", "soc"]).cumcount()
    hard_esco = kept["isco"].isin(HARD_NEGATIVE_ISCO) & (nth < HARD_NEGATIVE_CAP)
    kept = kept[(nth < kept["cap"]) | kept["soc"].isin(HARD_NEGATIVES) | hard_esco]
    pub = pd.concat([pub[~other], pub.loc[kept.index]]).drop(columns=["soc", "isco"])
    hand = pd.read_csv(handwritten, dtype=str, keep_default_na=False)
    hand = hand.drop_duplicates(subset=["job_title"])
    # a hand-labeled title follows the labeling guide directly: it wins over an occupation's label
    pub = pub[~pub["job_title"].map(normalize_title).isin(set(hand["job_title"].map(normalize_title)))]
    out = pd.concat([pub, hand[["job_title", "persona", "source", "label_rule"]]], ignore_index=True)
    out["split"] = split_titles(out, previous)
    return out.sort_values(["source", "persona", "job_title"]).reset_index(drop=True)


def split_titles(df: pd.DataFrame, previous: Path | None = None) -> list[str]:
    """``heldout`` or ``dev`` per row (see the module docstring).

    A group (:func:`stem`) is held out when ``stable_fraction(SPLIT_SALT + stem)`` is below the
    :data:`HELDOUT_SHARE` of its persona (the largest, if its titles have several), unless it holds
    a title of the earlier test split. Hand-written titles of a held-out group are held out too
    (so no near-twin of a held-out title is fitted on), and are scored apart from the real ones.
    """
    burned = set()
    if previous is not None:
        old = pd.read_csv(previous, dtype=str, keep_default_na=False)
        burned = set(old.loc[old["split"] == "test", "job_title"].map(stem))
    stems = df["job_title"].map(stem)
    share = stems.map(df.assign(s=df["persona"].map(HELDOUT_SHARE)).groupby(stems)["s"].max())
    return ["heldout" if s not in burned and stable_fraction(SPLIT_SALT + s) < sh else "dev"
            for s, sh in zip(stems, share)]


def main(argv=None) -> int:
    here = Path(__file__).resolve().parents[2] / "data" / "personas"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onet", type=Path, required=True, help="folder with the O*NET text files")
    ap.add_argument("--esco", type=Path, required=True, help="ESCO occupations_en.csv")
    ap.add_argument("--melo", type=Path, required=True, help="a checkout of Avature/melo-benchmark (SOURCES.md)")
    ap.add_argument("--previous", type=Path, default=None,
                    help="the v2 titles.csv whose test split was looked at (kept out of the held-out split)")
    ap.add_argument("--handwritten", type=Path, default=here / "handwritten.csv")
    ap.add_argument("--out", type=Path, default=here, help="folder for titles_dev.csv and titles_heldout.csv")
    args = ap.parse_args(argv)
    df = build(args.onet, args.esco, args.handwritten, args.melo, args.previous)
    for split in ("dev", "heldout"):
        path = args.out / f"titles_{split}.csv"
        tmp = path.with_suffix(".tmp")
        df[df["split"] == split].drop(columns="split").to_csv(tmp, index=False)
        tmp.replace(path)
    print(df.groupby(["source", "split", "persona"]).size().unstack(fill_value=0).to_string(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
