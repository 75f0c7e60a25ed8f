"""Program specs: a behavioral program in YAML, validated into a frozen :class:`ProgramSpec`.

A program sends a sequence of campaigns to the contacts of companies that *enter* a trigger
(a behavioral segment or a rule over the ``behavior`` columns, evaluated from the events as of
each day), with a randomized per-company holdout. Example (``programs/stuck_on_errors.yaml``)::

    program_id: stuck_on_errors_assist          # also names the experiment: program.<program_id>
    description: Help companies stuck on errors, then show their PM a case study.
    trigger: {segment: stuck_on_errors}          # or {rule: "sandbox_calls >= 10 and ..."}
    eligibility: {stage: sandbox}                # sandbox (default) or any (never production)
    holdout: 0.2                                 # share of companies never emailed (the control arm)
    steps:
      - name: assistance
        campaign: campaigns/assistance.yaml      # relative to the repository (or the spec's folder)
        personas: [DEV]
        delay_days: 0                            # days after entry
        condition: in_trigger                    # in_trigger, in_sandbox or always
      - name: case_study
        campaign: campaigns/case_study.yaml
        personas: [PM]
        delay_days: 4
        condition: in_sandbox
    exits: {max_days: 14, left_trigger: false}   # reaching production always exits
    reentry: {after_days: null}                  # null: a company enters once, ever
    catch_up: {max_days: 7, late_days: 2}
    conversion_window_days: 21                   # the readout's window

Checks (one-line :class:`~mof_experiments.errors.MofConfigError` naming the file and key):
required keys present, no unknown key at any level, ids of ``[A-Za-z0-9_.:-]``; the trigger
names a known segment (of the shipped rules or ``rules:``) or a rule that parses; a persona is
one of PM GC CSO CFO CEO DEV OTHER; step names unique; delays non-decreasing (steps are sent in
order) and every step due before ``exits.max_days`` (else it could never be sent); the holdout
share in (0, 1); the campaign files exist and load.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mof_experiments.checks import read_yaml_file
from mof_experiments.errors import MofConfigError

PERSONAS = ("PM", "GC", "CSO", "CFO", "CEO", "DEV", "OTHER")
CONDITIONS = ("in_trigger", "in_sandbox", "always")
STAGES = ("sandbox", "any")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TOP = {"program_id": True, "trigger": True, "steps": True, "holdout": True, "description": False,
        "eligibility": False, "exits": False, "reentry": False, "catch_up": False, "conversion_window_days": False,
        "rules": False}
_STEP = {"name": True, "campaign": True, "personas": True, "delay_days": False, "condition": False}
#: the arms of every program's experiment (``holdout`` is its control arm, never emailed)
PROGRAM_ARM, HOLDOUT_ARM = "program", "holdout"


@dataclass(frozen=True)
class Step:
    """One step: send ``campaign`` to the enrolled contacts of ``personas``, ``delay_days`` after
    entry, if ``condition`` still holds on the day it is due."""

    name: str
    campaign_path: Path
    personas: tuple[str, ...]
    delay_days: int
    condition: str


@dataclass(frozen=True)
class ProgramSpec:
    """A validated program (see the module docstring)."""

    program_id: str
    trigger_name: str
    trigger_rule: str
    steps: tuple[Step, ...]
    holdout: float
    stage: str = "sandbox"
    max_days: int = 30
    left_trigger_exits: bool = False
    reentry_after_days: int | None = None
    catch_up_days: int = 7
    late_days: int = 2
    conversion_window_days: int = 21
    description: str = ""
    source: str = ""
    digest: str = ""

    @property
    def experiment_id(self) -> str:
        """The experiment recording the holdout: ``program.<program_id>``."""
        return f"program.{self.program_id}"

    @property
    def personas(self) -> tuple[str, ...]:
        """Personas enrolled (the union of the steps')."""
        return tuple(p for p in PERSONAS if any(p in s.personas for s in self.steps))

    @property
    def arms(self) -> dict[str, float]:
        return {HOLDOUT_ARM: self.holdout, PROGRAM_ARM: 1.0 - self.holdout}

    def campaign_id(self, step: Step, entry: int) -> str:
        """The ledger's campaign id of a step: ``<program_id>.<step>`` (``.e<N>`` from the 2nd entry)."""
        return f"{self.program_id}.{step.name}" + (f".e{entry}" if entry > 1 else "")


def _err(src: str, key: str, msg: str) -> MofConfigError:
    return MofConfigError(f"{src}: key {key!r}: {msg}")


def _keys(src: str, where: str, data, allowed: dict) -> dict:
    if not isinstance(data, dict):
        raise _err(src, where or "(top)", f"expected a mapping with keys {', '.join(allowed)}")
    for k in data:
        if k not in allowed:
            raise _err(src, f"{where}.{k}" if where else k, f"unknown key (allowed: {', '.join(allowed)})")
    for k, req in allowed.items():
        if req and k not in data:
            raise _err(src, f"{where}.{k}" if where else k, "required key missing")
    return data


def _int(src, key, v, lo=0, none_ok=False):
    if v is None and none_ok:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise _err(src, key, f"expected an integer >= {lo}, got {v!r}")
    return int(v)


def _resolve(src_path: Path, name) -> Path:
    """A campaign path: absolute, else relative to the spec's folder, its parent (the repository
    when the spec is in ``programs/``), then the working directory."""
    p = Path(str(name))
    if p.is_absolute():
        return p
    for base in (src_path.parent, src_path.parent.parent, Path.cwd()):
        if (base / p).is_file():
            return (base / p).resolve()
    return p


def find_program(path: str | os.PathLike) -> Path:
    """Where a report finds the program spec ``path`` ("relative to the project"): as given when
    absolute or found from the working directory, else under a parent of the working directory
    (a notebook may run in ``notebooks/``), else under the source checkout the package was
    installed from (as :func:`mof_experiments.reports.catalog.notebook_dir` finds the notebooks,
    for a run started elsewhere). Found nowhere: ``path`` as given (:func:`load_program` then
    says it is not found)."""
    p = Path(path)
    if p.is_absolute() or p.is_file():
        return p
    for base in (*Path.cwd().parents, Path(__file__).resolve().parents[3]):
        if (base / p).is_file():
            return base / p
    return p


def load_program(path: str | os.PathLike, *, check_campaigns: bool = True) -> ProgramSpec:
    """Read and validate a program YAML file (rules in the module docstring).

    ``check_campaigns=False`` skips loading the campaign files (for status and readout, which
    send nothing); ``mof program run`` always checks them.

    Raises
    ------
    MofConfigError
        one line naming the file and the key.
    """
    import yaml

    from mof_experiments.segments.rules import load_rules, parse_rules
    from mof_experiments.send.spec import load_spec

    p, data = read_yaml_file(path, "program spec")
    src = str(p)
    data = _keys(src, "", data, _TOP)
    pid = data["program_id"]
    if not isinstance(pid, str) or not _ID_RE.match(pid):
        raise _err(src, "program_id", f"expected an identifier of letters, digits, _ . - (got {pid!r})")
    rules_path = data.get("rules")
    if rules_path is not None:
        rules_path = _resolve(p, rules_path)
    try:
        rules = {r.name: r for r in load_rules(rules_path)}
    except MofConfigError as exc:
        raise _err(src, "rules", str(exc)) from None
    trig = _keys(src, "trigger", data["trigger"], {"segment": False, "rule": False})
    if len(trig) != 1:
        raise _err(src, "trigger", "give exactly one of segment: NAME or rule: CONDITION")
    if "segment" in trig:
        name = trig["segment"]
        if name not in rules:
            raise _err(src, "trigger.segment", f"unknown segment {name!r} (known: {', '.join(rules)})")
        trig_name, trig_rule = name, rules[name].rule
    else:
        rule = trig["rule"]
        if not isinstance(rule, str) or not rule.strip():
            raise _err(src, "trigger.rule", "expected a condition over behavior columns")
        try:
            parse_rules(yaml.safe_dump({"segments": [{"name": "trigger", "description": "", "rule": rule}]}),
                        source=src)
        except MofConfigError as exc:
            raise _err(src, "trigger.rule", str(exc).split(": ", 1)[-1]) from None
        trig_name, trig_rule = "rule", " ".join(rule.split())
    hold = data["holdout"]
    if isinstance(hold, bool) or not isinstance(hold, (int, float)) or not 0 < hold < 1:
        raise _err(src, "holdout", f"expected a share strictly between 0 and 1, got {hold!r}")
    elig = _keys(src, "eligibility", data.get("eligibility") or {}, {"stage": False})
    stage = elig.get("stage", "sandbox")
    if stage not in STAGES:
        raise _err(src, "eligibility.stage", f"expected one of {', '.join(STAGES)}, got {stage!r}")
    ex = _keys(src, "exits", data.get("exits") or {}, {"max_days": False, "left_trigger": False,
                                                         "production": False})
    if ex.get("production", True) is not True:
        raise _err(src, "exits.production", "reaching production always exits a program (only true is allowed)")
    max_days = _int(src, "exits.max_days", ex.get("max_days", 30), lo=1)
    left = ex.get("left_trigger", False)
    if not isinstance(left, bool):
        raise _err(src, "exits.left_trigger", f"expected true or false, got {left!r}")
    re_ = _keys(src, "reentry", data.get("reentry") or {}, {"after_days": False})
    reentry = _int(src, "reentry.after_days", re_.get("after_days"), lo=1, none_ok=True)
    cu = _keys(src, "catch_up", data.get("catch_up") or {}, {"max_days": False, "late_days": False})
    catch = _int(src, "catch_up.max_days", cu.get("max_days", 7), lo=1)
    late = _int(src, "catch_up.late_days", cu.get("late_days", 2), lo=0)
    window = _int(src, "conversion_window_days", data.get("conversion_window_days", 21), lo=1)
    steps_raw = data["steps"]
    if not isinstance(steps_raw, list) or not steps_raw:
        raise _err(src, "steps", "expected a non-empty list of steps")
    steps, seen, last = [], set(), 0
    for i, s in enumerate(steps_raw):
        where = f"steps[{i}]"
        s = _keys(src, where, s, _STEP)
        name = s["name"]
        if not isinstance(name, str) or not _ID_RE.match(name) or "." in name:
            raise _err(src, f"{where}.name", f"expected an identifier of letters, digits, _ - (got {name!r})")
        if name in seen:
            raise _err(src, f"{where}.name", f"duplicate step name {name!r}")
        seen.add(name)
        pers = s["personas"]
        pers = [pers] if isinstance(pers, str) else pers
        if not isinstance(pers, list) or not pers or any(x not in PERSONAS for x in pers):
            raise _err(src, f"{where}.personas", f"expected a list of {', '.join(PERSONAS)}, got {s['personas']!r}")
        delay = _int(src, f"{where}.delay_days", s.get("delay_days", 0))
        if delay < last:
            raise _err(src, f"{where}.delay_days", f"{delay} is before the previous step's {last}: steps are sent "
                                                   "in order, so delays must not decrease")
        if delay >= max_days:
            raise _err(src, f"{where}.delay_days", f"{delay} days is not before exits.max_days ({max_days}): "
                                                   "the step could never be sent")
        last = delay
        cond = s.get("condition", "in_trigger")
        if cond not in CONDITIONS:
            raise _err(src, f"{where}.condition", f"expected one of {', '.join(CONDITIONS)}, got {cond!r}")
        camp = _resolve(p, s["campaign"])
        if not check_campaigns:
            pass
        elif not camp.is_file():
            raise _err(src, f"{where}.campaign", f"campaign spec not found: {s['campaign']}")
        else:
            try:
                load_spec(camp)
            except MofConfigError as exc:
                raise _err(src, f"{where}.campaign", str(exc)) from None
        steps.append(Step(name, camp, tuple(pers), delay, cond))
    desc = data.get("description") or ""
    return ProgramSpec(program_id=pid, trigger_name=trig_name, trigger_rule=trig_rule, steps=tuple(steps),
                       holdout=float(hold), stage=stage, max_days=max_days, left_trigger_exits=left,
                       reentry_after_days=reentry, catch_up_days=catch, late_days=late,
                       conversion_window_days=window, description=str(desc), source=src,
                       digest=hashlib.sha256(p.read_text(encoding="utf-8").encode()).hexdigest()[:12])


__all__ = ["ProgramSpec", "Step", "find_program", "load_program", "PERSONAS", "CONDITIONS", "PROGRAM_ARM", "HOLDOUT_ARM"]
