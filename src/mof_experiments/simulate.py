"""A simulated API platform whose true effects are known.

``simulate(SimConfig(companies=2000, seed=11), "data/mof.duckdb")`` writes the canonical tables
(``companies``, ``contacts``, ``api_events``, ``email_events``, ``assignments``) and the truth
tables (``sim_truth``, ``sim_contact_truth``, ``sim_effects``, ``sim_content``) into a new
workspace file. The same configuration and seed give an identical workspace.

The generative model (documented in ``docs/simulator.md``)
----------------------------------------------------------
1. Each company has an **archetype** (the behavior that drives it) and a latent **intent**
   ``z ~ N(0, 1)``. Archetypes set when it first calls the API, how much and how long it
   calls, its error profile (``stuck_on_errors`` gets mostly 401/403) and its endpoint
   breadth.
2. **Enrollment**: a company still in sandbox two days after its first sandbox call enters the
   MOF experiment (``assignments``, unit: company) if its whole window (``window_days``) fits
   in the simulated period; arms are drawn with the configured weights.
3. **Baseline conversion** within the window happens with probability
   ``p0 = sigmoid(base_logit[archetype] + gamma * z)``.
4. **Emails**: in an emailing arm each contact gets the arm's emails for their persona (the
   nine zone x topic x persona emails of the brief, ``CONTENT``), one every four days, until
   the company converts. A human open happens with probability
   ``sigmoid(logit(open_prob) + beta * z + u_contact)``: intent drives both engagement and
   conversion, so engagement correlates with conversion beyond the email's causal effect.
   An opened email converts the company with probability ``h[archetype] * effect``
   (``h = 1`` everywhere when ``heterogeneous=False``), at a time within 14 days of the open.
5. The truth ``sim_effects.p_convert`` for each arm is the exact probability of converting
   within the window under that arm: ``1 - (1 - p0) * prod(1 - h * effect * q)`` over the
   emails the arm would send, with ``q`` the contact's probability of a delivered human open.
6. ``first_production_at`` is the first 2xx production call; production calls before it fail
   (401/403, e.g. a live key not yet activated).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from mof_experiments.errors import MofInputError

DAY = 86_400

#: The nine emails of the brief: zone, topic, persona, planted open probability (human open for
#: a contact of average intent), click probability given an open, causal effect of an opened
#: email on the company's conversion within the window (before the archetype multiplier).
CONTENT = pd.DataFrame(
    [
        ("feature_highlight", "dashboards", "PM", 0.38, 0.30, 0.10),
        ("assistance", "design_review", "DEV", 0.40, 0.35, 0.10),
        ("case_study", "driving_adoption", "PM", 0.15, 0.30, 0.14),
        ("feature_highlight", "scalability", "PM", 0.36, 0.22, 0.04),
        ("feature_highlight", "customer_communication", "PM", 0.34, 0.20, 0.04),
        ("roi_calculation", "build_vs_buy", "CFO", 0.25, 0.15, 0.01),
        ("case_study", "company_insights", "CEO", 0.13, 0.10, 0.00),
        ("security", "data_integrity", "CSO", 0.38, 0.20, 0.01),
        ("compliance", "developer_adoption", "GC", 0.25, 0.12, 0.00),
    ],
    columns=["zone", "topic", "persona", "open_prob", "click_prob", "effect"],
)
ZONES = tuple(dict.fromkeys(CONTENT["zone"]))

ENDPOINTS = ("/v1/payments", "/v1/customers", "/v1/refunds", "/v1/webhooks", "/v1/invoices",
             "/v1/subscriptions", "/v1/balance", "/v1/payouts", "/v1/disputes", "/v1/tokens",
             "/v1/auth/token", "/v1/events")
_ENDPOINT_POP = np.array([10, 8, 4, 6, 4, 4, 3, 2, 1.5, 5, 7, 2.5])

# name: share, mean days signup->first call (None: never calls), active span (days; None: to the
# end), sandbox calls/day, error rate, auth-heavy errors, endpoint breadth (lo, hi), base logit of
# converting within the window, P(converts before enrollment), production calls/day, effect mult.
ARCHETYPES = pd.DataFrame(
    [
        ("fast_adopter", 0.15, 0.3, None, 15.0, 0.03, False, 5, 10, 0.8, 0.65, 25.0, 0.3),
        ("steady_builder", 0.25, 1.5, None, 8.0, 0.05, False, 4, 8, -0.9, 0.0, 12.0, 1.0),
        ("stuck_on_errors", 0.18, 1.0, None, 12.0, 0.45, True, 2, 5, -2.0, 0.0, 10.0, 1.6),
        ("gone_quiet", 0.14, 2.0, (5, 18), 8.0, 0.10, False, 2, 4, -2.6, 0.0, 6.0, 0.6),
        ("tire_kicker", 0.16, 3.0, (0.1, 3), 2.0, 0.15, False, 1, 2, -3.6, 0.0, 3.0, 0.15),
        ("no_show", 0.12, None, None, 0.0, 0.0, False, 0, 0, -np.inf, 0.0, 0.0, 0.0),
    ],
    columns=["archetype", "share", "first_call_days", "span", "rate", "err_rate", "auth_heavy",
             "k_lo", "k_hi", "base_logit", "pre_conv", "prod_rate", "h"],
)

PERSONA_SHARES = {"DEV": 0.34, "PM": 0.22, "CEO": 0.10, "CFO": 0.07, "CSO": 0.04, "GC": 0.04, "OTHER": 0.19}

#: Job titles per persona as they appear in CRM exports. Where a title could go either way the
#: persona is the toolkit's documented choice (docs/personas.md): CTO, VP Engineering and Head of
#: Platform are DEV (the people who integrate); product marketing (PMM) is OTHER.
TITLES = {
    "PM": ["Product Manager", "Sr. PM, Payments", "Senior Product Manager", "PM", "Group Product Manager",
           "Principal PM - Platform", "Product Owner", "Head of Product", "VP Product",
           "VP of Product Management", "Director of Product", "Technical Product Manager", "Product Lead",
           "Chef de produit", "Produktmanager", "Gerente de Producto", "Associate Product Manager",
           "Chief Product Officer", "CPO", "Prodcut Manager", "Product Manager, Checkout"],
    "GC": ["General Counsel", "Associate General Counsel", "GC", "Deputy General Counsel", "Legal Counsel",
           "Head of Legal", "VP Legal", "Chief Legal Officer", "CLO", "Corporate Counsel",
           "Senior Counsel, Privacy", "Attorney", "Legal Director", "Counsel", "Directeur juridique",
           "Abogado", "Product Counsel", "General Councel"],
    "CSO": ["CISO", "Chief Information Security Officer", "Chief Security Officer", "CSO", "Head of Security",
            "VP Security", "Director, InfoSec", "Information Security Manager", "AppSec Lead",
            "Security Architect", "Head of Information Security", "Responsable sécurité", "Security Lead",
            "Cheif Security Officer", "VP, Information Security"],
    "CFO": ["CFO", "Chief Financial Officer", "Head of FP&A", "VP Finance", "Finance Director", "Controller",
            "Director of Finance", "FP&A Manager", "Financial Controller", "Head of Finance",
            "Finance Manager", "Directeur financier", "Finanzleiter", "Treasurer", "Chief Finacial Officer"],
    "CEO": ["CEO", "Founder & CEO", "Founder/CEO", "Chief Executive Officer", "Co-founder & CEO", "Founder",
            "Co-Founder", "Managing Director", "President", "President & CEO", "Owner", "Geschäftsführer",
            "Directeur général", "Fundador y CEO", "CEO & Founder"],
    "DEV": ["Backend Engineer II", "Software Engineer", "Senior Software Engineer", "SWE", "Sr. SWE",
            "Full Stack Developer", "Developer", "Lead Developer", "Staff Engineer", "Principal Engineer",
            "CTO", "CTO & Co-founder", "VP Eng", "VP Engineering", "Head of Platform", "Engineering Manager",
            "DevOps Engineer", "Platform Engineer", "iOS Developer", "Integration Engineer", "Tech Lead",
            "Entwickler", "Desarrollador", "Ingénieur logiciel", "Director of Engineering",
            "Sofware Engineer", "Site Reliability Engineer", "Frontend Dev", "Data Engineer"],
    "OTHER": ["Product Marketing Manager", "PMM", "Marketing Manager", "Account Executive", "Sales Director",
              "Recruiter", "HR Business Partner", "Office Manager", "Customer Success Manager",
              "Business Analyst", "Designer", "UX Researcher", "Operations Manager", "Intern",
              "Consultant", "Executive Assistant", "", "n/a", "Head of Growth", "Community Manager"],
}
_PREFIXES = ["Senior ", "Sr ", "Lead ", "Junior ", "Interim ", "Acting "]
_SUFFIXES = [", Payments", " - EMEA", " (Platform)", " | Billing", ", North America", " - APAC", " II"]

_FIRST = ["Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena", "Mo",
          "Nia", "Omar", "Pia", "Quinn", "Ravi", "Sara", "Tom", "Uma", "Vik", "Wen", "Xavi", "Yara", "Zoe"]
_LAST = ["Adams", "Baker", "Chopra", "Diaz", "Evans", "Fischer", "Garcia", "Huang", "Ito", "Jensen", "Khan",
         "Lopez", "Muller", "Nguyen", "Okafor", "Patel", "Quist", "Rossi", "Silva", "Tanaka", "Urban",
         "Varga", "Weber", "Xu", "Yilmaz", "Zhang"]
_ADJ = ["Blue", "Bright", "Clear", "Swift", "North", "Prime", "Cobalt", "Quiet", "Bold", "Lumen", "Rapid",
        "Silver", "Green", "Solid", "Nova", "Apex", "Urban", "Vivid", "Echo", "Pioneer"]
_NOUN = ["Ledger", "Cart", "Harbor", "Pay", "Freight", "Health", "Learn", "Fleet", "Table", "Stack", "Ticket",
         "Market", "Loop", "Field", "Forge", "Nest", "Pulse", "Route", "Wave", "Yard"]
_PLANS = ["free", "startup", "growth", "enterprise"]


@dataclass(frozen=True)
class SimConfig:
    """Parameters of a simulation. Defaults are calibrated to the article (docs/simulator.md).

    ``design`` chooses the experiment's arms: ``holdout`` (``holdout`` 20% / ``email`` 80%:
    all nine emails) or ``zones`` (``control`` plus one arm per content zone, equal weights).
    """

    companies: int = 3000
    seed: int = 42
    start: str = "2026-01-05"
    days: int = 180
    window_days: int = 30
    experiment_id: str = "mof_email_2026"
    design: str = "holdout"
    heterogeneous: bool = True
    effect_scale: float = 1.0
    intent_open_beta: float = 1.8
    open_shift: float = 0.0
    intent_conv_gamma: float = 1.6
    trigger_days: float = 2.0
    chunk_companies: int = 2000

    def arms(self) -> dict[str, tuple[float, tuple[str, ...]]]:
        if self.design == "holdout":
            return {"holdout": (0.2, ()), "email": (0.8, ZONES)}
        if self.design == "zones":
            w = 1.0 / (len(ZONES) + 1)
            return {"control": (w, ()), **{z: (w, (z,)) for z in ZONES}}
        raise MofInputError(f"unknown design {self.design!r} (use holdout or zones)")

    def validate(self) -> "SimConfig":
        if self.companies < 1:
            raise MofInputError(f"--companies must be at least 1, got {self.companies}")
        if self.days < self.window_days + 10:
            raise MofInputError(f"--days must be at least window_days + 10 = {self.window_days + 10}")
        try:
            self.start_ts
        except ValueError:
            raise MofInputError(f"--start must be a date like 2026-01-05, got {self.start!r}") from None
        self.arms()
        return self

    @property
    def start_ts(self) -> int:
        d = datetime.fromisoformat(self.start)
        if d.tzinfo is None:
            d = d.replace(tzinfo=timezone.utc)
        return int(d.timestamp())

    @property
    def end_ts(self) -> int:
        return self.start_ts + self.days * DAY

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.end_ts, tz=timezone.utc)


@dataclass
class SimResult:
    path: Path
    config: SimConfig
    counts: dict = field(default_factory=dict)

    def __str__(self) -> str:
        c = ", ".join(f"{k} {v:,}" for k, v in self.counts.items())
        return f"simulated {self.config.companies:,} companies into {self.path} ({c}); observed until {self.config.end:%Y-%m-%d}"


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p):
    return np.log(p / (1 - p))


def _ts(sec: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(sec, dtype="int64") * 1_000_000, type=pa.timestamp("us", tz="UTC"))


def _ts_pd(sec) -> pd.Series:
    arr = np.asarray(sec, dtype="float64")
    out = pd.to_datetime(pd.Series(np.where(np.isfinite(arr), arr, np.nan)), unit="s", utc=True)
    return out.astype("datetime64[us, UTC]")


# ------------------------------------------------------------------------------------------
def _companies(cfg: SimConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.companies
    arch = rng.choice(len(ARCHETYPES), size=n, p=ARCHETYPES["share"].to_numpy())
    signup = cfg.start_ts + (rng.random(n) * 0.85 * cfg.days * DAY).astype(np.int64)
    z = rng.standard_normal(n)
    size = np.maximum(1, np.round(np.exp(rng.normal(3.2, 1.2, n)))).astype(np.int64)
    plan = np.array(_PLANS)[np.clip(np.digitize(np.log10(size), [1.0, 2.0, 3.0]), 0, 3)]
    names = [f"{_ADJ[a]} {_NOUN[b]}" for a, b in zip(rng.integers(0, len(_ADJ), n), rng.integers(0, len(_NOUN), n))]
    ids = np.array([f"co_{i:07d}" for i in range(1, n + 1)])
    return pd.DataFrame({"company_id": ids, "signup": signup, "arch": arch, "z": z, "size": size,
                         "plan": plan, "name": names})


def _activity(cfg: SimConfig, co: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """First call, active span, conversion time, enrollment and arm for every company."""
    A = ARCHETYPES.iloc[co["arch"].to_numpy()].reset_index(drop=True)
    n = len(co)
    end = cfg.end_ts
    has = A["first_call_days"].notna().to_numpy().copy()
    fc_mean = A["first_call_days"].fillna(1.0).to_numpy(dtype=float)
    first = co["signup"].to_numpy() + (rng.exponential(fc_mean) * DAY).astype(np.int64) + 60
    has &= first < end - 3600
    first = np.where(has, first, -1)
    span_lo = np.array([s[0] if isinstance(s, tuple) else np.nan for s in A["span"]])
    span_hi = np.array([s[1] if isinstance(s, tuple) else np.nan for s in A["span"]])
    span = span_lo + rng.random(n) * (span_hi - span_lo)
    sb_end = np.where(np.isnan(span), end - 1, first + np.nan_to_num(span) * DAY).astype(np.int64)
    sb_end = np.minimum(sb_end, end - 1)
    trigger = first + int(cfg.trigger_days * DAY)

    # conversion before the MOF trigger (fast adopters)
    pre_t = first + (rng.exponential(1.0, n) * DAY).astype(np.int64) + 600
    pre = has & (rng.random(n) < A["pre_conv"].to_numpy()) & (pre_t < trigger)
    enrolled = has & ~pre & (trigger + cfg.window_days * DAY <= end)

    # baseline conversion relative to the trigger
    p0 = np.where(has, _sigmoid(A["base_logit"].to_numpy() + cfg.intent_conv_gamma * co["z"].to_numpy()), 0.0)
    win = cfg.window_days * DAY
    u = rng.random(n)
    in_win = u < p0
    late = ~in_win & (rng.random(n) < 0.3 * p0)
    t_in = trigger + (rng.beta(1.2, 2.0, n) * (win - 1)).astype(np.int64) + 1
    t_late = trigger + win + (rng.exponential(40.0, n) * DAY).astype(np.int64)
    base_conv = np.where(in_win, t_in, np.where(late, t_late, np.iinfo(np.int64).max))
    conv = np.where(pre, pre_t, np.where(has, base_conv, np.iinfo(np.int64).max))

    arms = cfg.arms()
    names = list(arms)
    weights = np.array([arms[a][0] for a in names])
    arm = np.where(enrolled, np.array(names)[rng.choice(len(names), size=n, p=weights / weights.sum())], None)
    k = np.where(has, rng.integers(A["k_lo"].to_numpy(), A["k_hi"].to_numpy() + 1), 0)
    # each company's endpoints: weighted sample without replacement (Gumbel top-k)
    keys = np.log(_ENDPOINT_POP)[None, :] - np.log(-np.log(rng.random((n, len(ENDPOINTS)))))
    perm = np.argsort(-keys, axis=1).astype(np.int16)
    out = pd.DataFrame({
        "has_calls": has, "first": first, "sb_end": sb_end, "trigger": trigger, "pre": pre,
        "enrolled": enrolled, "arm": arm, "p0": p0, "conv": conv, "k": k,
        "rate": A["rate"].to_numpy(), "err_rate": A["err_rate"].to_numpy(),
        "auth_heavy": A["auth_heavy"].to_numpy(dtype=bool), "prod_rate": A["prod_rate"].to_numpy(),
        "h": A["h"].to_numpy() if cfg.heterogeneous else np.where(has, 1.0, 0.0),
    })
    out["perm"] = list(perm)
    return out


def _title(persona: str, rng: np.random.Generator) -> str:
    t = TITLES[persona][rng.integers(len(TITLES[persona]))]
    if not t:
        return t
    r = rng.random()
    if persona not in ("CEO",) and r < 0.12 and not t.startswith(("Chief", "VP", "Head", "C", "Founder")):
        t = _PREFIXES[rng.integers(len(_PREFIXES))] + t
    elif r < 0.22:
        t = t + _SUFFIXES[rng.integers(len(_SUFFIXES))]
    r = rng.random()
    if r < 0.08:
        t = t.lower()
    elif r < 0.12:
        t = t.upper()
    elif r < 0.16:
        t = "  " + t + " "
    return t


def _contacts(cfg: SimConfig, co: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    n_per = 1 + np.minimum(rng.poisson(0.8 + 0.35 * np.log1p(co["size"].to_numpy())), 7)
    comp = np.repeat(np.arange(len(co)), n_per)
    m = comp.size
    personas = np.array(list(PERSONA_SHARES))
    probs = np.array(list(PERSONA_SHARES.values()))
    persona = personas[rng.choice(len(personas), size=m, p=probs / probs.sum())]
    titles = [_title(p, rng) for p in persona]
    first = np.array(_FIRST)[rng.integers(0, len(_FIRST), m)]
    last = np.array(_LAST)[rng.integers(0, len(_LAST), m)]
    slug = co["name"].str.lower().str.replace(" ", "", regex=False).to_numpy()[comp]
    ids = np.array([f"ct_{i:08d}" for i in range(1, m + 1)])
    emails = [f"{f.lower()}.{l.lower()}{i[-4:]}@{s}.example.com" for f, l, i, s in zip(first, last, ids, slug)]
    return pd.DataFrame({
        "contact_id": ids, "ci": comp, "company_id": co["company_id"].to_numpy()[comp], "email": emails,
        "job_title": titles, "persona": persona,
        "u": rng.normal(0.0, 0.5, m),                       # contact-level engagement propensity
        "invalid": rng.random(m) < 0.02,                    # address bounces
        "mpp": rng.random(m) < 0.10,                        # mail privacy proxy: machine opens
        "unsubscriber": rng.random(m) < 0.03,               # unsubscribes after the first email
        "prior_unsub": rng.random(m) < 0.02,                # unsubscribed before the experiment
    })


def _emails(cfg: SimConfig, co: pd.DataFrame, act: pd.DataFrame, ct: pd.DataFrame,
            rng: np.random.Generator):
    """Schedule, engagement, email-caused conversion, the events and the truth p_convert."""
    arms = cfg.arms()
    content = CONTENT.copy()
    content["effect"] = content["effect"] * cfg.effect_scale
    content["k"] = content.groupby("persona").cumcount()
    # every enrolled company's contacts x every email for their persona (all arms, for the truth)
    enrolled_ci = np.flatnonzero(act["enrolled"].to_numpy())
    cte = ct[ct["ci"].isin(enrolled_ci)]
    sched = cte.merge(content, on="persona", how="inner")
    sched = sched.sort_values(["ci", "contact_id", "k"], kind="stable").reset_index(drop=True)
    z = co["z"].to_numpy()[sched["ci"].to_numpy()]
    p_open = _sigmoid(_logit(sched["open_prob"].to_numpy()) + cfg.open_shift + cfg.intent_open_beta * z + sched["u"].to_numpy())
    eligible = ~sched["invalid"].to_numpy() & ~sched["prior_unsub"].to_numpy() & \
        ~(sched["unsubscriber"].to_numpy() & (sched["k"].to_numpy() > 0))
    q = p_open * eligible
    h = act["h"].to_numpy()[sched["ci"].to_numpy()]
    hit = np.clip(h * sched["effect"].to_numpy() * q, 0, 1)
    log_miss = np.log1p(-np.minimum(hit, 1 - 1e-12))

    # truth: P(convert within window | arm) per enrolled company
    p0 = act["p0"].to_numpy()
    truth_rows = []
    for arm, (_, zones) in arms.items():
        in_arm = sched["zone"].isin(zones).to_numpy()
        s = pd.Series(np.where(in_arm, log_miss, 0.0)).groupby(sched["ci"].to_numpy()).sum()
        lm = pd.Series(0.0, index=enrolled_ci)
        lm.loc[s.index] = s.to_numpy()
        pc = 1 - (1 - p0[enrolled_ci]) * np.exp(lm.to_numpy())
        truth_rows.append(pd.DataFrame({"experiment_id": cfg.experiment_id,
                                        "company_id": co["company_id"].to_numpy()[enrolled_ci],
                                        "arm": arm, "p_convert": pc}))
    sim_effects = pd.concat(truth_rows, ignore_index=True)

    # realized: only the assigned arm's emails
    arm_of = act["arm"].to_numpy()[sched["ci"].to_numpy()]
    zones_of_arm = {a: set(zs) for a, (_, zs) in arms.items()}
    mine = np.array([zn in zones_of_arm.get(a, ()) for zn, a in zip(sched["zone"], arm_of)], dtype=bool)
    s = sched.loc[mine].reset_index(drop=True)
    q_s, h_s = q[mine], h[mine]
    e_s = s["effect"].to_numpy()
    trig = act["trigger"].to_numpy()[s["ci"].to_numpy()]
    m = len(s)
    send = trig + s["k"].to_numpy() * 4 * DAY + (rng.random(m) * 0.5 * DAY).astype(np.int64) + 3600
    opened = rng.random(m) < q_s
    open_t = send + 120 + np.minimum(rng.exponential(8 * 3600, m), 3 * DAY).astype(np.int64)
    caused = opened & (rng.random(m) < np.clip(h_s * e_s, 0, 1))
    cause_t = open_t + np.minimum(rng.exponential(4 * DAY, m), 14 * DAY - 1).astype(np.int64) + 60
    conv = act["conv"].to_numpy().copy()
    if caused.any():
        cmin = pd.Series(cause_t[caused]).groupby(s["ci"].to_numpy()[caused]).min()
        conv[cmin.index.to_numpy()] = np.minimum(conv[cmin.index.to_numpy()], cmin.to_numpy())

    # which emails were actually sent: before the company converted, not after a bounce/unsubscribe
    sent = (send < conv[s["ci"].to_numpy()]) & ~s["prior_unsub"].to_numpy() & (send < cfg.end_ts)
    first_k = s["k"].to_numpy() == 0
    sent &= ~(s["invalid"].to_numpy() & ~first_k) & ~(s["unsubscriber"].to_numpy() & ~first_k)
    s = s.loc[sent].reset_index(drop=True)
    send, opened, open_t = send[sent], opened[sent], open_t[sent]
    m = len(s)
    campaign = ("mof_" + s["zone"] + "_" + s["topic"] + "_" + s["persona"].str.lower()).to_numpy()
    msg = np.array([f"{c}.{i}@sim.mof-experiments" for c, i in zip(campaign, s["contact_id"])])
    invalid = s["invalid"].to_numpy()
    deliv_t = send + 5 + rng.integers(0, 115, m)
    ev = [("sent", np.ones(m, bool), send, None)]
    ev.append(("bounce", invalid, send + 30 + rng.integers(0, 270, m), None))
    ev.append(("delivered", ~invalid, deliv_t, None))
    mpp = s["mpp"].to_numpy() & ~invalid
    ev.append(("open", mpp, deliv_t + 1 + rng.integers(0, 3, m), np.where(rng.random(m) < 0.6, True, None)))
    human = opened & ~invalid
    ev.append(("open", human, open_t, False))
    reopen = human & (rng.random(m) < 0.3)
    ev.append(("open", reopen, open_t + rng.integers(600, 2 * DAY, m), False))
    click_p = s["click_prob"].to_numpy()
    clicked = human & (rng.random(m) < click_p)
    ev.append(("click", clicked, open_t + 5 + rng.exponential(120, m).astype(np.int64), None))
    unsub = s["unsubscriber"].to_numpy() & ~invalid
    unsub_t = deliv_t + rng.exponential(DAY, m).astype(np.int64) + 60
    ev.append(("unsubscribe", unsub, unsub_t, None))
    frames = []
    for name, mask, t, mo in ev:
        idx = np.flatnonzero(mask & (t < cfg.end_ts))
        if not len(idx):
            continue
        mo_arr = None if mo is None else (np.broadcast_to(np.asarray(mo, dtype=object), (m,))[idx])
        frames.append(pd.DataFrame({
            "message_id": msg[idx], "campaign_id": campaign[idx], "contact_id": s["contact_id"].to_numpy()[idx],
            "company_id": s["company_id"].to_numpy()[idx], "zone": s["zone"].to_numpy()[idx],
            "topic": s["topic"].to_numpy()[idx], "variant": "A", "event": name, "ts": t[idx],
            "machine_open": mo_arr if mo_arr is not None else None,
        }))
    email_events = pd.concat(frames, ignore_index=True).sort_values(["ts", "message_id"], kind="stable")
    email_events = email_events.reset_index(drop=True)  # _ts_pd returns a fresh 0..n-1 index
    email_events["ts"] = _ts_pd(email_events["ts"].to_numpy()).to_numpy()
    email_events["machine_open"] = email_events["machine_open"].astype("boolean")
    email_events["event_id"] = [f"sim-{i:09d}" for i in range(len(email_events))]
    unsub_at = pd.Series(unsub_t[unsub & (unsub_t < cfg.end_ts)], index=s["contact_id"].to_numpy()[unsub & (unsub_t < cfg.end_ts)])
    return conv, sim_effects, email_events.reset_index(drop=True), unsub_at


_ERR_NORMAL = (np.array([400, 404, 422, 429, 401, 500, 503]), np.array([.30, .25, .20, .10, .05, .07, .03]))
_ERR_AUTH = (np.array([401, 403, 400, 422, 500]), np.array([.45, .25, .15, .10, .05]))


def _codes(rng, n, err_p, auth_heavy):
    """Status codes: 2xx with prob 1-err_p, else an error code from the company's profile."""
    out = np.where(rng.random(n) < 0.85, 200, 201)
    err = rng.random(n) < err_p
    if err.any():
        u = rng.random(n)
        normal = _ERR_NORMAL[0][np.minimum(np.searchsorted(np.cumsum(_ERR_NORMAL[1]), u), 6)]
        auth = _ERR_AUTH[0][np.minimum(np.searchsorted(np.cumsum(_ERR_AUTH[1]), u), 4)]
        out = np.where(err, np.where(auth_heavy, auth, normal), out)
    return out


def _api_chunk(cfg: SimConfig, ids: np.ndarray, act: pd.DataFrame, rng: np.random.Generator) -> pa.Table:
    end = cfg.end_ts
    has = act["has_calls"].to_numpy()
    first = act["first"].to_numpy()
    sb_end = act["sb_end"].to_numpy()
    conv = act["conv"].to_numpy()
    k = np.maximum(act["k"].to_numpy(), 1)
    perm = np.stack(act["perm"].to_numpy()) if len(act) else np.zeros((0, len(ENDPOINTS)), np.int16)
    n = len(act)
    converted = has & (conv < end)
    # sandbox calls: the first at `first`, the rest uniform over the active span
    span_days = np.where(has, (sb_end - first) / DAY, 0.0)
    n_sb = np.where(has, 1 + rng.poisson(act["rate"].to_numpy() * np.maximum(span_days, 0)), 0)
    # failed production calls before the first success (live key not activated, ...)
    lim = np.where(converted, conv, end)
    n_pf = np.where(has & (lim - first > 1),
                    rng.poisson(np.where(act["auth_heavy"].to_numpy(), 1.5, 0.4)), 0)
    # production calls from the first success to the end
    n_pr = np.where(converted, 1 + rng.poisson(act["prod_rate"].to_numpy() * np.where(converted, end - conv, 0) / DAY), 0)
    parts = []
    # sandbox
    c = np.repeat(np.arange(n), n_sb)
    starts = np.cumsum(n_sb) - n_sb
    off = (rng.random(c.size) * (sb_end[c] - first[c])).astype(np.int64)
    off[starts[n_sb > 0]] = 0
    parts.append((c, first[c] + off, np.zeros(c.size, np.int8),
                  _codes(rng, c.size, act["err_rate"].to_numpy()[c], act["auth_heavy"].to_numpy()[c])))
    # failed production
    c = np.repeat(np.arange(n), n_pf)
    t = first[c] + (rng.random(c.size) * (lim[c] - first[c])).astype(np.int64)
    parts.append((c, t, np.ones(c.size, np.int8), np.where(rng.random(c.size) < 0.7, 401, 403)))
    # production
    c = np.repeat(np.arange(n), n_pr)
    starts = np.cumsum(n_pr) - n_pr
    off = 1 + (rng.random(c.size) * np.maximum(end - conv[c] - 1, 0)).astype(np.int64)
    off[starts[n_pr > 0]] = 0
    codes = _codes(rng, c.size, 0.02, False)
    codes[starts[n_pr > 0]] = 200
    parts.append((c, conv[c] + off, np.ones(c.size, np.int8), codes))
    ci = np.concatenate([p[0] for p in parts])
    ts = np.concatenate([p[1] for p in parts])
    env = np.concatenate([p[2] for p in parts])
    code = np.concatenate([p[3] for p in parts])
    ep = perm[ci, (rng.random(ci.size) * k[ci]).astype(np.int64)] if ci.size else np.zeros(0, np.int16)
    order = np.lexsort((ts, ci))
    ci, ts, env, code, ep = ci[order], ts[order], env[order], code[order], ep[order]
    return pa.table({
        "company_id": pa.DictionaryArray.from_arrays(pa.array(ci.astype(np.int32)), pa.array(ids)),
        "ts": _ts(ts),
        "environment": pa.DictionaryArray.from_arrays(pa.array(env.astype(np.int32)), pa.array(["sandbox", "production"])),
        "endpoint": pa.DictionaryArray.from_arrays(pa.array(ep.astype(np.int32)), pa.array(list(ENDPOINTS))),
        "status_code": pa.array(code.astype(np.int64)),
    })


def simulate(config: SimConfig, workspace_path: str | os.PathLike, *, overwrite: bool = False,
             progress: bool = True) -> SimResult:
    """Simulate a platform into a new workspace file (written to a temporary file, then moved).

    Raises :class:`MofInputError` if the file exists and ``overwrite`` is false.
    """
    import duckdb
    from tqdm.auto import tqdm

    from mof_experiments.schema import create_table_sql

    cfg = config.validate()
    path = Path(workspace_path)
    if path.exists() and not overwrite:
        raise MofInputError("workspace exists; pass --overwrite to replace it with a new simulation",
                            source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([cfg.seed, 0])
    co = _companies(cfg, rng)
    act = _activity(cfg, co, rng)
    ct = _contacts(cfg, co, rng)
    conv, sim_effects, email_events, unsub_at = _emails(cfg, co, act, ct, np.random.default_rng([cfg.seed, 1]))
    act["conv"] = conv
    end = cfg.end_ts

    companies = pd.DataFrame({"company_id": co["company_id"], "signup_at": _ts_pd(co["signup"]),
                              "name": co["name"], "plan": co["plan"], "size": co["size"].astype("Int64")})
    unsub = pd.Series(np.nan, index=ct["contact_id"].to_numpy())
    prior = ct["prior_unsub"].to_numpy()
    unsub.iloc[np.flatnonzero(prior)] = cfg.start_ts + 3600
    unsub.loc[unsub_at.index] = unsub_at.to_numpy()
    contacts = pd.DataFrame({"contact_id": ct["contact_id"], "company_id": ct["company_id"], "email": ct["email"],
                             "job_title": ct["job_title"].replace("", None),
                             "unsubscribed_at": _ts_pd(unsub.to_numpy())})
    enr = act["enrolled"].to_numpy()
    assignments = pd.DataFrame({"experiment_id": cfg.experiment_id, "company_id": co["company_id"][enr].to_numpy(),
                                "arm": act["arm"][enr].astype("str").to_numpy(),
                                "assigned_at": _ts_pd(act["trigger"][enr].to_numpy()), "stratum": None})
    arms = cfg.arms()
    experiment_arms = pd.DataFrame({"experiment_id": cfg.experiment_id, "arm": list(arms),
                                    "weight": [w for w, _ in arms.values()],
                                    "is_control": [len(z) == 0 for _, z in arms.values()]})
    fp = np.where(act["has_calls"].to_numpy() & (conv < end), conv, np.nan)
    sim_truth = pd.DataFrame({
        "company_id": co["company_id"], "archetype": ARCHETYPES["archetype"].to_numpy()[co["arch"].to_numpy()],
        "intent": co["z"], "first_production_at": _ts_pd(fp), "enrolled": enr,
        "converted_before_enrollment": act["pre"].to_numpy(),
        "effect_multiplier": act["h"].to_numpy(),
    })
    sim_contact_truth = pd.DataFrame({"contact_id": ct["contact_id"], "persona": ct["persona"],
                                      "invalid_address": ct["invalid"], "machine_opener": ct["mpp"]})
    sim_content = CONTENT.assign(effect=CONTENT["effect"] * cfg.effect_scale)

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    counts = {}
    try:
        con = duckdb.connect(str(tmp))
        con.execute("SET TimeZone = 'UTC'")
        from mof_experiments.schema import validate
        for name, df in [("companies", companies), ("contacts", contacts), ("assignments", assignments),
                         ("experiment_arms", experiment_arms), ("email_events", email_events)]:
            df = validate(df, name, source=f"simulate:{name}")
            con.execute(create_table_sql(name))
            con.register("_df", pa.Table.from_pandas(df, preserve_index=False))
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _df")
            con.unregister("_df")
            counts[name] = len(df)
        for name, df in [("sim_truth", sim_truth), ("sim_contact_truth", sim_contact_truth),
                         ("sim_effects", sim_effects), ("sim_content", sim_content)]:
            con.register("_df", pa.Table.from_pandas(df, preserve_index=False))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _df")
            con.unregister("_df")
        con.execute(create_table_sql("api_events"))
        ids = co["company_id"].to_numpy()
        n_events = 0
        chunks = range(0, cfg.companies, cfg.chunk_companies)
        bar = tqdm(chunks, desc="api_events", unit="chunk", disable=not progress, leave=False)
        for j, i0 in enumerate(bar):
            sl = slice(i0, min(i0 + cfg.chunk_companies, cfg.companies))
            tbl = _api_chunk(cfg, ids[sl], act.iloc[sl], np.random.default_rng([cfg.seed, 2, j]))
            con.register("_chunk", tbl)
            con.execute("INSERT INTO api_events BY NAME SELECT * FROM _chunk")
            con.unregister("_chunk")
            n_events += tbl.num_rows
            bar.set_postfix(events=f"{n_events:,}")
        counts["api_events"] = n_events
        meta = {"simulated_start": datetime.fromtimestamp(cfg.start_ts, tz=timezone.utc).isoformat(),
                "simulated_end": cfg.end.isoformat(), "sim_config": asdict(cfg)}
        con.execute("CREATE TABLE mof_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        for k, v in meta.items():
            con.execute("INSERT INTO mof_meta VALUES (?, ?)", [k, json.dumps(v, default=str)])
        con.execute("CHECKPOINT")
        con.close()
        os.replace(tmp, path)
        Path(str(path) + ".wal").unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    return SimResult(path, cfg, counts)


def sim_end(config: SimConfig) -> datetime:
    """The end of the simulated period (exclusive): the natural ``as_of`` for labeling."""
    return config.end


__all__ = ["SimConfig", "SimResult", "simulate", "CONTENT", "ZONES", "ARCHETYPES", "TITLES", "ENDPOINTS",
           "PERSONA_SHARES", "sim_end"]
