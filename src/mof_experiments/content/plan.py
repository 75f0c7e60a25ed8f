"""The send plan: persona (optionally a behavioral segment) -> campaign, with the evidence.

A plan file (YAML, written by ``mof plan content``)::

    plan_id: content_2026-07-04
    experiment_id: mof_email_2026   # who may be emailed: this experiment's non-control arms
    arms: [email]                   # overrides each campaign spec's experiment_id / arms
    objective: engagement (clicks per delivered message), cross-fitted multiple 2.9
    entries:
      - persona: PM
        segment: null               # or a behavioral segment: only its companies' contacts
        zone: feature_highlight
        campaign: campaigns/feature_highlight.yaml   # relative to the working directory
        evidence: {delivered: 812, click_rate: 0.11, ci_low: 0.09, ci_high: 0.13, prob_best: 0.97}

Rules: personas are ``PM GC CSO CFO CEO DEV OTHER``; zones are the six content zones and
``generic``; one entry per (persona, segment); a contact gets the first entry of its persona
whose segment (if any) holds its company. :func:`load_plan` rejects anything else with a
one-line error naming the file and the entry. The send (``mof send --plan``) then loads each
campaign, checks its zone, and sends under the plan's experiment (control, holdout and
suppressed contacts stay excluded).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mof_experiments.atomic import atomic_path
from mof_experiments.checks import read_yaml_file
from mof_experiments.errors import MofConfigError

ZONES = ("feature_highlight", "assistance", "case_study", "roi_calculation", "security", "compliance", "generic")
ALL_PERSONAS = ("PM", "GC", "CSO", "CFO", "CEO", "DEV", "OTHER")


@dataclass(frozen=True)
class PlanEntry:
    persona: str
    zone: str
    campaign: str
    segment: str | None = None
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ContentPlan:
    """A validated plan: ``entries`` (:class:`PlanEntry`), the experiment and arms to send under."""

    plan_id: str
    experiment_id: str | None
    arms: tuple | None
    entries: tuple
    objective: str = ""
    source: str = ""

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([dict(persona=e.persona, segment=e.segment, zone=e.zone, campaign=e.campaign,
                                  **{k: e.evidence.get(k) for k in ("delivered", "click_rate", "ci_low", "ci_high",
                                                                    "prob_best")}) for e in self.entries])

    def _repr_html_(self) -> str:
        return f"<p>Plan {self.plan_id} ({self.objective})</p>" + self.summary.to_html(index=False)

    def to_dict(self) -> dict:
        return {"plan_id": self.plan_id, "experiment_id": self.experiment_id,
                "arms": list(self.arms) if self.arms else None, "objective": self.objective,
                "entries": [{"persona": e.persona, "segment": e.segment, "zone": e.zone, "campaign": e.campaign,
                             "evidence": e.evidence} for e in self.entries]}


def build_plan(best: pd.DataFrame, *, plan_id: str, experiment_id: str | None, arms=None,
               campaigns_dir: str = "campaigns", objective: str = "engagement (clicks per delivered message)",
               ) -> ContentPlan:
    """A plan from :func:`mof_experiments.content.best_zones`: each comparable persona gets
    ``<campaigns_dir>/<zone>.yaml`` and its evidence (delivered, click rate and CI, prob_best)."""
    entries = []
    for r in best[best["comparable"].astype(bool)].itertuples():
        ev = {"delivered": int(r.delivered), "click_rate": round(float(r.click_rate), 4),
              "ci_low": round(float(r.click_ci_low), 4), "ci_high": round(float(r.click_ci_high), 4),
              "prob_best": round(float(r.prob_best), 4)}
        entries.append(PlanEntry(r.persona, r.zone, f"{campaigns_dir}/{r.zone}.yaml", None, ev))
    if not entries:
        raise MofConfigError("no persona has two zones with enough data: nothing to plan (run a content test)")
    return ContentPlan(plan_id, experiment_id, tuple(arms) if arms else None, tuple(entries), objective)


def write_plan(plan: ContentPlan, path: str | os.PathLike) -> Path:
    """Write the plan as YAML, atomically."""
    import yaml

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:
        Path(tmp).write_text("# Send plan written by `mof plan content` (docs/reports.md)\n"
                             + yaml.safe_dump(plan.to_dict(), sort_keys=False), encoding="utf-8")
    return p


def load_plan(path: str | os.PathLike) -> ContentPlan:
    """Read and validate a plan file (module docstring: the rules); one-line errors."""
    p, data = read_yaml_file(path, "plan file")
    src = str(p)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list) or not data["entries"]:
        raise MofConfigError(f"{src}: expected a mapping with a non-empty list 'entries' (see `mof plan content`)")
    unknown = set(data) - {"plan_id", "experiment_id", "arms", "objective", "entries"}
    if unknown:
        raise MofConfigError(f"{src}: unknown key {sorted(unknown)[0]!r}")
    arms = data.get("arms")
    if arms is not None and (not isinstance(arms, list) or not all(isinstance(a, str) and a for a in arms)):
        raise MofConfigError(f"{src}: key 'arms': expected a list of arm names, got {arms!r}")
    if arms and not data.get("experiment_id"):
        raise MofConfigError(f"{src}: key 'arms': arms need experiment_id")
    entries, seen = [], set()
    for i, e in enumerate(data["entries"], start=1):
        where = f"{src}: entry {i}"
        if not isinstance(e, dict):
            raise MofConfigError(f"{where}: expected a mapping with persona, zone, campaign")
        bad = set(e) - {"persona", "segment", "zone", "campaign", "evidence"}
        if bad:
            raise MofConfigError(f"{where}: unknown key {sorted(bad)[0]!r}")
        persona, zone, campaign = e.get("persona"), e.get("zone"), e.get("campaign")
        if persona not in ALL_PERSONAS:
            raise MofConfigError(f"{where}: unknown persona {persona!r} (expected one of {', '.join(ALL_PERSONAS)})")
        if zone not in ZONES:
            raise MofConfigError(f"{where}: unknown zone {zone!r} (expected one of {', '.join(ZONES)})")
        if not isinstance(campaign, str) or not campaign.endswith((".yaml", ".yml")):
            raise MofConfigError(f"{where}: key 'campaign': expected a campaign YAML path, got {campaign!r}")
        seg = e.get("segment")
        if seg is not None and (not isinstance(seg, str) or not seg):
            raise MofConfigError(f"{where}: key 'segment': expected a segment name or null, got {seg!r}")
        if (persona, seg) in seen:
            raise MofConfigError(f"{where}: a second entry for persona {persona} and segment {seg}")
        seen.add((persona, seg))
        entries.append(PlanEntry(persona, zone, campaign, seg, dict(e.get("evidence") or {})))
    return ContentPlan(str(data.get("plan_id") or p.stem), data.get("experiment_id"),
                       tuple(arms) if arms else None, tuple(entries), str(data.get("objective") or ""), src)


def assign_entries(plan: ContentPlan, contacts: pd.DataFrame, segments: pd.DataFrame | None = None) -> pd.Series:
    """Index of the plan entry of each contact (``contact_id``, ``company_id``, ``persona``), -1 if none:
    the first entry of its persona whose segment (if any) holds its company."""
    out = pd.Series(-1, index=contacts.index, dtype="int64")
    for i, e in enumerate(plan.entries):
        hit = (contacts["persona"] == e.persona) & (out < 0)
        if e.segment is not None:
            if segments is None:
                raise MofConfigError(f"{plan.source}: entry {i + 1} names segment {e.segment!r} but the workspace "
                                     "has no segments table (run `mof segment`)")
            comps = set(segments.loc[segments["segment"] == e.segment, "company_id"])
            hit &= contacts["company_id"].isin(comps)
        out[hit] = i
    return out


__all__ = ["ContentPlan", "PlanEntry", "build_plan", "write_plan", "load_plan", "assign_entries", "ZONES",
           "ALL_PERSONAS"]
