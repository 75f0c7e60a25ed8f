"""Personas v4 (issue 17): held-out real titles, calibration, each kind of v1 error, scripts.

The titles in the error-kind tests were written for these tests: none is in the shipped
labeled titles (checked by ``test_error_kind_titles_are_not_in_the_labeled_data``), so they
measure generalization, not memory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mof_experiments.errors import MofInputError
from mof_experiments.segments.personas import (CLASSIFIER_VERSION, REAL_SOURCES, PersonaClassifier,
                                               classify_titles, default_classifier, evaluate_titles,
                                               expected_calibration_error, fresh_titles, heldout_classifier,
                                               keyword_baseline,
                                               labeled_titles, macro_f1, normalize_title, personas,
                                               reliability_table, scores_by_source, title_script)
from mof_experiments.segments.personas.build_data import stem

HAND = ("handwritten_v1", "handwritten_v2")


@pytest.fixture(scope="module")
def heldout():
    """The held-out split, classified by the shipped recipe fitted on the dev split only."""
    df = labeled_titles()
    test = df[df["split"] == "heldout"].reset_index(drop=True)
    out = heldout_classifier().classify(test["job_title"].tolist())
    return test.assign(pred=out["persona"], confidence=out["confidence"], rule=out["rule"],
                       needs_review=out["needs_review"], baseline=keyword_baseline(test["job_title"]))


@pytest.fixture(scope="module")
def fresh():
    """The fresh held-out titles (NOC 2016), classified by the shipped classifier (never fitted on them)."""
    test = fresh_titles()
    out = default_classifier().classify(test["job_title"].tolist())
    return test.assign(pred=out["persona"], confidence=out["confidence"], rule=out["rule"],
                       needs_review=out["needs_review"], baseline=keyword_baseline(test["job_title"]))


@pytest.fixture(scope="module")
def real(heldout):
    """The held-out split's real (public, not hand-written) titles: the acceptance set."""
    return heldout[heldout["source"].isin(REAL_SOURCES)]


# -- the data ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_split_shares_no_title_and_no_title_stem():
    df = labeled_titles()
    dev, held = df[df["split"] == "dev"], df[df["split"] == "heldout"]
    assert len(dev) > 15_000 and len(held) > 10_000
    assert not set(dev["job_title"].map(normalize_title)) & set(held["job_title"].map(normalize_title))
    assert not set(map(stem, dev["job_title"])) & set(map(stem, held["job_title"]))
    assert set(df["persona"]) == {"PM", "GC", "CSO", "CFO", "CEO", "DEV", "OTHER"}
    assert set(df["source"]) == set(REAL_SOURCES) | set(HAND)
    assert df["label_rule"].str.len().gt(0).all()
    real = df[df["source"].isin(REAL_SOURCES)]
    assert not real["job_title"].map(normalize_title).duplicated().any()


@pytest.mark.slow
def test_every_persona_has_a_real_heldout_support_of_at_least_20_titles(real):
    # the public data holds about 65 product-management and 55 chief-executive titles in all
    counts = real["persona"].value_counts()
    assert counts.min() >= 20, counts
    assert (counts.drop(["PM", "CEO"]) >= 80).all(), counts


def test_stem_groups_seniority_plural_and_gender_variants():
    assert stem("Senior Accountant") == stem("accountants") == stem("Accountant II") == "accountant"
    assert stem("Software Developer (Backend)") == stem("software developers") == "softwar developer"
    assert stem("Contadora") == stem("contador") == stem("Contadores")
    assert stem("directrice financière") == stem("Directeur financier") == "directeur financier"
    # only the first of "A / B" alternatives is kept: coarse for ROME's "Directeur / Directrice X"
    # form (docs/personas.md), which groups more titles together, never fewer
    assert stem("Directeur / Directrice financier") == stem("Directeur / Directrice de filiale") == "directeur"
    assert stem("Leiterin Buchhaltung") == stem("Leiter Buchhaltung")


# -- acceptance: held-out scores -----------------------------------------------------------------
#: Measured once each on the final recipe (docs/personas.md); the floors sit just under the
#: measurements, so that a regression fails. Issue 17 asks 0.92; neither set reaches it.
FRESH_MACRO_F1_FLOOR = 0.825        # measured 0.831 (scored twice: docs/personas.md)
HELDOUT_MACRO_F1_FLOOR = 0.85     # measured 0.858 (split looked at in round 3)


def test_fresh_heldout_macro_f1_floor(fresh):
    """The acceptance figure on the fresh held-out titles (a source no training title comes from)."""
    ours = macro_f1(fresh["persona"], fresh["pred"])
    assert ours >= FRESH_MACRO_F1_FLOOR, evaluate_titles(fresh["persona"], fresh["pred"])


def test_fresh_heldout_beats_the_keyword_baseline_by_8_points_and_is_calibrated(fresh):
    ours, base = macro_f1(fresh["persona"], fresh["pred"]), macro_f1(fresh["persona"], fresh["baseline"])
    assert ours >= base + 0.08, (ours, base)
    decided = fresh[~fresh["rule"].isin(["missing", "unrecognized_script"])]
    right = decided["persona"] == decided["pred"]
    assert expected_calibration_error(right, decided["confidence"]) < 0.05, reliability_table(
        right, decided["confidence"])


def test_fresh_titles_are_a_new_source_labeled_by_the_guide():
    f = fresh_titles()
    assert set(f["source"]) == {"noc2016"} and len(f) > 3000
    assert f["label_rule"].str.startswith("noc:").all()
    assert not f["job_title"].str.lower().duplicated().any()
    assert set(f["persona"]) == {"CEO", "CFO", "CSO", "DEV", "GC", "OTHER"}


def test_heldout_real_titles_macro_f1_floor(real):
    """The round-3 held-out split (scored and read then, so looked at): a regression guard."""
    ours = macro_f1(real["persona"], real["pred"])
    assert ours >= HELDOUT_MACRO_F1_FLOOR, evaluate_titles(real["persona"], real["pred"])


def test_heldout_real_titles_beat_the_keyword_baseline_by_8_points(real):
    ours, base = macro_f1(real["persona"], real["pred"]), macro_f1(real["persona"], real["baseline"])
    assert ours >= base + 0.08, (ours, base)


def test_heldout_expected_calibration_error_below_005(real):
    decided = real[~real["rule"].isin(["missing", "unrecognized_script"])]
    right = decided["persona"] == decided["pred"]
    assert expected_calibration_error(right, decided["confidence"]) < 0.05, reliability_table(
        right, decided["confidence"])


def test_expected_calibration_error_by_hand():
    # bin (0.8, 0.9]: confidences 0.85, 0.85, accuracy 1/2 -> gap 0.35; bin (0.2, 0.3]: 0.25, right -> 0.75
    assert expected_calibration_error([True, False, True], [0.85, 0.85, 0.25]) == pytest.approx(
        (2 * 0.35 + 1 * 0.75) / 3)
    t = reliability_table([True, False, True], [0.85, 0.85, 0.25])
    assert t["n"].tolist() == [1, 2] and t["accuracy"].tolist() == [1.0, 0.5]


def test_needs_review_is_exactly_low_confidence_or_unreadable_script(heldout):
    decided = ~heldout["rule"].isin(["missing", "unrecognized_script"])
    low = heldout["confidence"] < 0.8
    assert (heldout.loc[decided, "needs_review"] == low[decided]).all()
    # the flag is informative: flagged decisions are wrong far more often
    wrong = heldout["persona"] != heldout["pred"]
    assert wrong[heldout["needs_review"]].mean() > 3 * wrong[~heldout["needs_review"]].mean()


# -- each kind of error from issue 17, on titles written for these tests ------------------------
KINDS = {
    "engineers_outside_software": [("HVAC Maintenance Engineer", "OTHER"), ("Bridge Structural Engineer", "OTHER"),
                                   ("Chemical Process Engineer II", "OTHER"), ("Online Course Developer", "OTHER"),
                                   ("Senior Backend Software Engineer", "DEV")],
    "finance_function": [("Accounts Payable Team Lead", "CFO"), ("FP&A Analyst, Growth Finance", "CFO"),
                         ("Senior Cost Accountant", "CFO"), ("Head of Corporate Finance", "CFO"),
                         ("Private Client Financial Advisor", "OTHER"), ("Student Financial Aid Officer", "OTHER")],
    "founder_plus_function": [("Co-founder & Chief Technology Officer", "DEV"), ("Founder / Head of Product", "PM"),
                              ("CEO and Co-Founder", "CEO"), ("Founder and CFO", "CFO"),
                              ("Co-founder, Chief Operating Officer", "OTHER"), ("Sole Founder", "CEO")],
    "security": [("Night Shift Security Guard", "OTHER"), ("Securities Sales Agent", "OTHER"),
                 ("Cyber Threat Intelligence Lead", "CSO"), ("SOC Analyst (Tier 2)", "CSO"),
                 ("Red Team Lead", "CSO"), ("Cyber Defence Analyst (Tier 3)", "CSO")],
    "counselors_and_compliance": [("Guidance Counselor, Lincoln High School", "OTHER"), ("Substance Abuse Counselor II", "OTHER"),
                                  ("Environmental Permits Compliance Lead", "OTHER"),
                                  ("Corporate Counsel, Commercial Contracts", "GC")],
    "department_heads_assistants_founding": [("Executive Director, Software Engineering", "DEV"),
                                             ("Managing Director of Finance", "CFO"),
                                             ("Executive Assistant to the Founder", "OTHER"),
                                             ("Founding Backend Engineer", "DEV")],
    "languages": [("后端软件工程师", "DEV"), ("法务主管", "GC"), ("ソフトウェア開発エンジニア", "DEV"),
                  ("Leiter Finanzbuchhaltung", "CFO"), ("RSSI adjointe, groupe bancaire", "CSO"),
                  ("Desarrollador de software senior", "DEV"), ("Advogada trabalhista", "GC")],
}
_ALL = [(kind, t, p) for kind, pairs in KINDS.items() for t, p in pairs]


def test_error_kind_titles_are_not_in_the_labeled_data():
    known = set(labeled_titles()["job_title"].map(normalize_title)) | set(fresh_titles()["job_title"].map(
        normalize_title))
    mine = [t for _, t, _ in _ALL] + [t for t, _, _ in LOOKALIKES]
    assert not [t for t in mine if normalize_title(t) in known]


#: (title written for this test, persona, rule): each look-alike rule, and titles it must leave alone.
LOOKALIKES = [
    ("Senior HVAC Design Engineer", "OTHER", "engineering_outside_software"),
    ("Senior Piping Design Engineer, Refinery Projects", "OTHER", "engineering_outside_software"),
    ("Retail Store Security Officer", "OTHER", "security_outside_it"),
    ("Museum Night Security Supervisor", "OTHER", "security_outside_it"),
    ("Financial Aid Counselor, State University", "OTHER", "counselor_not_counsel"),
    ("EHS Compliance Coordinator", "OTHER", "compliance_outside_legal"),
    ("Benefits Plan Compliance Analyst", "OTHER", "compliance_outside_legal"),
    ("Stadium Crowd Controller, Weekend Events", "OTHER", "controller_outside_finance"),
    ("Tram Depot Controller", "OTHER", "controller_outside_finance"),
    ("Senior Software Engineer, Payments Platform", "DEV", "model"),
    ("Regulatory Compliance Counsel", "GC", "model"),
    ("Divisional Financial Controller, EMEA", "CFO", "model"),
]


def test_lookalike_rules_decide_other_with_their_measured_precision():
    clf = default_classifier()
    titles, personas_, rules = zip(*LOOKALIKES)
    out = classify_titles(list(titles))
    assert out["persona"].tolist() == list(personas_)
    assert out["rule"].tolist() == list(rules)
    for rule, conf in zip(out["rule"], out["confidence"]):
        if rule != "model":
            hits, fires = clf.rule_counts_[rule]
            assert fires >= 10 and conf == pytest.approx((hits + 1) / (fires + 2)) and conf < 1.0


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_of_v1_error_is_fixed(kind):
    titles, expected = zip(*KINDS[kind])
    out = classify_titles(list(titles))
    got = dict(zip(titles, out["persona"]))
    assert got == dict(KINDS[kind])


@pytest.mark.parametrize("title, persona", [
    ("CTO", "DEV"), ("CTO & Co-founder", "DEV"), ("VP Engineering", "DEV"), ("VP Eng", "DEV"),
    ("Head of Platform", "DEV"), ("Founder/CEO", "CEO"), ("Co-founder & CEO", "CEO"),
    ("Managing Director", "CEO"), ("President", "CEO"), ("Owner", "CEO"), ("Vice President, Sales", "OTHER"),
    ("Product Marketing Manager", "OTHER"), ("PMM", "OTHER"), ("CPO", "PM"), ("Head of Product", "PM"),
    ("Product Owner", "PM"), ("Controller", "CFO"), ("Treasurer", "CFO"), ("Head of FP&A", "CFO"),
    ("CISO", "CSO"), ("AppSec Lead", "CSO"), ("Product Counsel", "GC"), ("GC", "GC"),
    ("Executive Assistant to the CEO", "OTHER"), ("Geschäftsführer", "CEO"), ("SWE", "DEV"),
    ("Sales Director (Platform)", "OTHER"), ("COO & Co-founder", "OTHER"), ("Data Scientist", "OTHER"),
])
def test_documented_persona_decisions(title, persona):
    assert classify_titles([title]).loc[0, "persona"] == persona


def test_founder_rule_is_the_documented_one():
    out = classify_titles(["Co-founder & CTO", "Founder & CEO", "CEO & CTO", "Founder, Acme Labs", "Founder"])
    assert out["persona"].tolist() == ["DEV", "CEO", "CEO", "CEO", "CEO"]
    assert out["rule"].tolist() == ["head_with_function", "chief_executive", "chief_executive", "head_of_company",
                                    "head_of_company"]


def test_non_latin_scripts_are_unrecognized_not_missing():
    titles = ["Генеральный директор", "مدير المبيعات", "영업 관리자", "", None, "n/a", "软件工程师"]
    out = classify_titles(titles)
    assert out["rule"].tolist()[:6] == ["unrecognized_script"] * 3 + ["missing"] * 3
    assert out["needs_review"].tolist()[:6] == [True] * 3 + [False] * 3
    assert (out["persona"][:6] == "OTHER").all() and (out["confidence"][:6] == 0).all()
    assert out.loc[6, "persona"] == "DEV" and out.loc[6, "rule"] == "model"
    assert [title_script(t) for t in ("CEO Москва", "Head of IT Отдел", "社長", "", "---")] == [
        "other", "latin", "cjk", "none", "none"]


def test_normalization_keeps_every_script_and_strips_latin_accents_only():
    assert normalize_title("Geschäftsführer & Co-founder") == "geschaftsfuhrer co founder"
    assert normalize_title("ＣＥＯ／代表取締役") == "ceo 代表取締役"
    assert normalize_title("ジェネラル・カウンセル") == "ジェネラル カウンセル"      # voiced kana keep their marks
    assert normalize_title("Head of FP&A") == "head of fpa"
    assert normalize_title(float("nan")) == "" and normalize_title(None) == ""


def test_the_simulators_titles_are_classified_as_planted():
    """The simulator's generator (prefixes, suffixes, case, typos) on 5,000 contacts: >= 0.99."""
    from mof_experiments.simulate import PERSONA_SHARES
    from mof_experiments.simulate.draws import draw_title

    rng = np.random.default_rng(11)
    names = np.array(list(PERSONA_SHARES))
    p = np.array(list(PERSONA_SHARES.values()))
    truth = names[rng.choice(len(names), size=5000, p=p / p.sum())]
    out = classify_titles([draw_title(x, rng) for x in truth])
    assert (out["persona"].to_numpy() == truth).mean() >= 0.99


def test_gibberish_is_other_with_the_measured_precision_of_its_rule():
    clf = default_classifier()
    out = classify_titles(["Ninja", "asdfghjkl qwertz", "Chief Happiness Ninja", "xyzzy plugh"])
    assert out["persona"].tolist() == ["OTHER"] * 4
    assert set(out["rule"]) == {"unrecognized_words"}
    assert out["confidence"].eq(clf.rule_precision_["unrecognized_words"]).all()
    assert 0.5 < clf.rule_precision_["unrecognized_words"] < 1.0
    # filler text that happens to share words with real titles still gets no persona
    assert classify_titles(["Lorem ipsum dolor sit amet"])["persona"].tolist() == ["OTHER"]


def test_every_rule_reports_its_measured_precision_not_one():
    clf = default_classifier()
    out = classify_titles(["Founder & CEO", "Co-founder & CTO", "Founder", "Ninja"])
    for rule, conf in zip(out["rule"], out["confidence"]):
        hits, fires = clf.rule_counts_[rule]
        assert conf == pytest.approx((hits + 1) / (fires + 2)) and conf < 1.0
        assert fires >= 10


def test_held_out_rule_precision_is_close_to_the_claimed_confidence(heldout):
    for rule in ("chief_executive", "head_of_company", "head_with_function", "unrecognized_words",
                 "engineering_outside_software", "security_outside_it", "counselor_not_counsel"):
        fired = heldout[heldout["rule"] == rule]
        if len(fired) >= 10:
            claimed = fired["confidence"].iloc[0]
            assert abs((fired["persona"] == fired["pred"]).mean() - claimed) < 0.2, (rule, len(fired))


# -- once per distinct title --------------------------------------------------------------------
def test_classifying_distinct_titles_once_equals_row_by_row():
    titles = ["CTO", "cto", "  CTO ", None, np.nan, "", "Prodcut Manager", "Генеральный директор", "Ninja",
              "CTO", "Founder & CFO", "Founder & CFO"] * 50
    clf = default_classifier()
    fast = clf.classify(titles)
    slow = pd.concat([clf.classify([t]) for t in titles[:12]] * 50, ignore_index=True)
    pd.testing.assert_frame_equal(fast, slow)
    assert len(fast) == len(titles)


def test_personas_table_columns_and_missing_titles():
    contacts = pd.DataFrame({"contact_id": ["a", "b", "c", "d", "e", "f"], "company_id": "co",
                             "job_title": [None, np.nan, "", "   ", "n/a", "CFO"]})
    out = personas(contacts)
    assert list(out.columns) == ["contact_id", "company_id", "job_title", "persona", "confidence", "rule",
                                 "needs_review"]
    assert out["persona"].tolist() == ["OTHER"] * 5 + ["CFO"]
    assert out["rule"].tolist() == ["missing"] * 5 + ["model"]
    assert out["confidence"].tolist()[:5] == [0.0] * 5 and out.loc[5, "confidence"] > 0.9


def test_bad_inputs_are_refused_with_one_line_errors():
    with pytest.raises(MofInputError, match="single string"):
        classify_titles("CTO")
    with pytest.raises(MofInputError, match="unknown persona"):
        PersonaClassifier().fit(["CTO", "CFO"], ["DEV", "BOSS"])
    with pytest.raises(MofInputError, match="missing column"):
        personas(pd.DataFrame({"contact_id": ["a"]}))


@pytest.mark.slow
def test_a_damaged_disk_cache_is_refitted_not_trusted(tmp_path, monkeypatch):
    import importlib

    mod = importlib.import_module("mof_experiments.segments.personas")
    monkeypatch.setenv("MOF_CACHE_DIR", str(tmp_path))
    key = mod._fit_key(0.55, 0.8, ("dev",))
    (tmp_path / f"personas-{key}.pkl").write_bytes(b"not a pickle")
    mod._fitted.cache_clear()
    try:
        clf = mod.heldout_classifier()
    finally:
        mod._fitted.cache_clear()
    assert clf.classify(["CISO"])["persona"].tolist() == ["CSO"]
    assert (tmp_path / f"personas-{key}.pkl").read_bytes()[:1] == b"\x80"   # rewritten as a pickle


@pytest.mark.slow
def test_a_cached_fit_of_another_version_is_refitted(tmp_path, monkeypatch):
    import importlib
    import pickle

    mod = importlib.import_module("mof_experiments.segments.personas")
    monkeypatch.setenv("MOF_CACHE_DIR", str(tmp_path))
    key = mod._fit_key(0.55, 0.8, ("dev",))
    stale = PersonaClassifier().fit(["CTO", "Accountant", "Nurse"] * 5, ["DEV", "CFO", "OTHER"] * 5)
    stale.version_ = "2.1"                     # e.g. written by an older release under the same key
    (tmp_path / f"personas-{key}.pkl").write_bytes(pickle.dumps(stale))
    mod._fitted.cache_clear()
    try:
        clf = mod.heldout_classifier()
    finally:
        mod._fitted.cache_clear()
    assert clf.version_ == f"{CLASSIFIER_VERSION}-t0.55-r0.8-dev"
    assert clf.classify(["General Counsel"])["persona"].tolist() == ["GC"]


def test_version_names_the_data_recipe_and_thresholds():
    assert CLASSIFIER_VERSION.startswith("4.") and len(CLASSIFIER_VERSION) == 14
    assert default_classifier().version_ == f"{CLASSIFIER_VERSION}-t0.55-r0.8"
    assert default_classifier(review_threshold=0.7).version_ == f"{CLASSIFIER_VERSION}-t0.55-r0.7"


@pytest.mark.slow
def test_two_fits_of_the_recipe_classify_identically():
    """The fit has no unseeded randomness: a cache keyed by the version is safe across runs."""
    df = labeled_titles()
    sub = df[df["split"] == "dev"].iloc[::6]
    titles = df[df["split"] == "heldout"]["job_title"].iloc[::20].tolist()
    a = PersonaClassifier().fit(sub["job_title"], sub["persona"]).classify(titles)
    b = PersonaClassifier().fit(sub["job_title"], sub["persona"]).classify(titles)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(classify_titles(titles), classify_titles(titles))


def test_the_docs_example_prints_what_docs_personas_md_shows():
    out = classify_titles(["Co-founder & CTO", "Sr. PMM", "Mechanical Engineer", "Ninja", "Генеральный директор",
                           "软件工程师", None])
    assert out["persona"].tolist() == ["DEV", "OTHER", "OTHER", "OTHER", "OTHER", "DEV", "OTHER"]
    assert out["rule"].tolist() == ["head_with_function", "model", "engineering_outside_software", "unrecognized_words",
                                    "unrecognized_script", "model", "missing"]
    assert out["needs_review"].tolist() == [False] * 4 + [True] + [False] * 2


def test_scores_by_source_by_hand():
    scored = pd.DataFrame({"source": ["a", "a", "b", "hand"], "persona": ["DEV", "OTHER", "DEV", "CFO"],
                           "pred": ["DEV", "OTHER", "OTHER", "CFO"], "baseline": ["OTHER", "OTHER", "DEV", "CFO"],
                           "confidence": [0.9, 0.8, 0.6, 0.9], "rule": ["model"] * 4})
    out = scores_by_source(scored, ("a", "b")).set_index("group")
    # pooled a+b: DEV P=1 R=1/2, OTHER P=1/2 R=1 -> both F1 2/3; baseline mirrored -> 2/3
    assert out.loc["real (pooled)", "titles"] == 3
    assert out.loc["real (pooled)", "macro_f1"] == pytest.approx(2 / 3)
    assert out.loc["real (pooled)", "baseline_macro_f1"] == pytest.approx(2 / 3)
    assert out.loc["real (pooled)", "accuracy"] == pytest.approx(2 / 3)
    # ECE: three singleton bins, |1-0.9| + |1-0.8| + |0-0.6| over 3
    assert out.loc["real (pooled)", "ece"] == pytest.approx(0.3)
    assert out.loc["a", "macro_f1"] == 1.0 and out.loc["hand", "titles"] == 1
    assert out.loc["persona=DEV", "macro_f1"] == pytest.approx(2 / 3) and out.loc["persona=DEV", "accuracy"] == 0.5
    assert "persona=CFO" not in out.index               # only personas of the real titles
