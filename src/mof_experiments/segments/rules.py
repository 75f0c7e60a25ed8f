"""Named rule segments over the behavior table, defined in an editable YAML file.

File format (the shipped defaults are ``mof_experiments/data/segments.yaml``)::

    segments:
      - name: stuck_on_errors                  # snake_case, unique
        description: Calls the sandbox but a quarter or more of the calls fail.
        rule: sandbox_calls >= 10 and sandbox_error_rate >= 0.25

A rule is a condition in a tiny expression language (Python syntax, parsed with :mod:`ast` and
never executed as code): behavior column names (:data:`~.behavior.FEATURES`), numbers,
``True``/``False``, arithmetic ``+ - * /``, comparisons ``< <= > >= == !=`` (chains like
``1 <= active_days <= 4`` allowed), ``and``, ``or``, ``not`` and parentheses. Everything is
checked when the file is loaded: bad YAML, a missing key, an unknown feature name, other syntax
(function calls, attributes, strings, ...) or a rule that is not a condition raise a one-line
:class:`~mof_experiments.errors.MofConfigError` naming the file and the segment.

A company may be in several segments; :func:`assign_segments` returns the long table
``segments`` (company_id, segment).
"""

from __future__ import annotations

import ast
import operator
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.errors import MofConfigError
from mof_experiments.segments.behavior import FEATURES

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = ("name", "description", "rule")
_CMP = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
        ast.Eq: operator.eq, ast.NotEq: operator.ne}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_HINT = {ast.BitAnd: "use 'and'", ast.BitOr: "use 'or'", ast.Invert: "use 'not'"}


@dataclass(frozen=True)
class SegmentRule:
    """One named segment: ``rule`` is a condition over behavior columns."""

    name: str
    description: str
    rule: str

    @property
    def features(self) -> tuple[str, ...]:
        """Behavior columns the rule reads."""
        return tuple(dict.fromkeys(n.id for n in ast.walk(ast.parse(self.rule, mode="eval"))
                                   if isinstance(n, ast.Name) and n.id not in ("True", "False")))


def default_rules_path() -> Path:
    """Path of the shipped default rules (``mof_experiments/data/segments.yaml``)."""
    return Path(str(resources.files("mof_experiments") / "data" / "segments.yaml"))


def load_rules(path: str | os.PathLike | None = None, *, features=FEATURES) -> tuple[SegmentRule, ...]:
    """Read and check a rules file (default: the shipped ``segments.yaml``).

    Raises
    ------
    MofConfigError
        one line naming the file and the segment: unreadable file, bad YAML, wrong structure,
        duplicate or malformed name, unknown feature, unsupported syntax, not a condition.
    """
    p = Path(path) if path is not None else default_rules_path()
    src = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MofConfigError(f"{src}: rules file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MofConfigError(f"{src}: cannot read rules file: {exc}") from None
    return parse_rules(text, source=src, features=features)


def parse_rules(text: str, *, source: str = "<rules>", features=FEATURES) -> tuple[SegmentRule, ...]:
    """Parse rules from YAML text (see :func:`load_rules`)."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MofConfigError(f"{source}: not valid YAML{where}: {problem}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("segments"), list):
        raise MofConfigError(f"{source}: expected a mapping with a 'segments' list "
                             "(segments: [{name: ..., description: ..., rule: ...}])")
    if not doc["segments"]:
        raise MofConfigError(f"{source}: 'segments' is empty")
    rules, seen = [], set()
    for i, item in enumerate(doc["segments"], start=1):
        label = f"segment #{i}"
        if not isinstance(item, dict):
            raise MofConfigError(f"{source}: {label}: expected a mapping with keys name, description, rule")
        name = item.get("name")
        if isinstance(name, str) and name:
            label = f"segment {name!r}"
        extra = [k for k in item if k not in _KEYS]
        if extra:
            raise MofConfigError(f"{source}: {label}: unknown key {extra[0]!r} (expected: {', '.join(_KEYS)})")
        for k in ("name", "rule"):
            if not isinstance(item.get(k), str) or not item[k].strip():
                raise MofConfigError(f"{source}: {label}: missing or empty {k!r}")
        if not _NAME_RE.match(name):
            raise MofConfigError(f"{source}: {label}: name must be snake_case (lower-case letters, digits, _)")
        if name in seen:
            raise MofConfigError(f"{source}: {label}: duplicate segment name")
        seen.add(name)
        desc = item.get("description") or ""
        if not isinstance(desc, str):
            raise MofConfigError(f"{source}: {label}: 'description' must be text")
        rule = " ".join(item["rule"].split())
        _check(rule, features, f"{source}: {label}")
        rules.append(SegmentRule(name, desc.strip(), rule))
    return tuple(rules)


def _check(rule: str, features, where: str) -> None:
    try:
        tree = ast.parse(rule, mode="eval")
    except SyntaxError as exc:
        raise MofConfigError(f"{where}: invalid rule {rule!r}: {exc.msg}") from None
    kind = _kind(tree.body, set(features), where, rule)
    if kind != "bool":
        raise MofConfigError(f"{where}: rule {rule!r} is not a condition (use a comparison, e.g. calls > 0)")


def _kind(node, features: set, where: str, rule: str) -> str:
    """Static check; returns 'bool' or 'num'."""
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            if _kind(v, features, where, rule) != "bool":
                raise MofConfigError(f"{where}: in rule {rule!r}: operands of and/or must be conditions")
        return "bool"
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            if _kind(node.operand, features, where, rule) != "bool":
                raise MofConfigError(f"{where}: in rule {rule!r}: 'not' needs a condition")
            return "bool"
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            if _kind(node.operand, features, where, rule) != "num":
                raise MofConfigError(f"{where}: in rule {rule!r}: sign of a condition")
            return "num"
    elif isinstance(node, ast.Compare):
        if not all(type(op) in _CMP for op in node.ops):
            bad = next(type(op).__name__ for op in node.ops if type(op) not in _CMP)
            raise MofConfigError(f"{where}: in rule {rule!r}: unsupported comparison {bad} "
                                 "(use < <= > >= == !=)")
        for v in (node.left, *node.comparators):
            if _kind(v, features, where, rule) != "num":
                raise MofConfigError(f"{where}: in rule {rule!r}: compare numbers, not conditions")
        return "bool"
    elif isinstance(node, ast.BinOp):
        if type(node.op) in _ARITH:
            for v in (node.left, node.right):
                if _kind(v, features, where, rule) != "num":
                    raise MofConfigError(f"{where}: in rule {rule!r}: arithmetic on a condition")
            return "num"
    elif isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            return "bool"
        if node.id not in features:
            raise MofConfigError(f"{where}: unknown feature {node.id!r} in rule {rule!r} "
                                 f"(known: {', '.join(sorted(features))})")
        return "num"
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return "bool"
        if isinstance(node.value, (int, float)):
            return "num"
        raise MofConfigError(f"{where}: in rule {rule!r}: only numbers are allowed, found {node.value!r}")
    op = getattr(node, "op", None)
    hint = _HINT.get(type(op), "") if op is not None else ""
    what = type(op).__name__ if op is not None else type(node).__name__
    raise MofConfigError(f"{where}: in rule {rule!r}: unsupported syntax {what}" + (f" ({hint})" if hint else ""))


def _eval(node, cols):
    if isinstance(node, ast.BoolOp):
        vals = [_eval(v, cols) for v in node.values]
        out = vals[0]
        for v in vals[1:]:
            out = (out & v) if isinstance(node.op, ast.And) else (out | v)
        return out
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, cols)
        return ~v if isinstance(node.op, ast.Not) else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.Compare):
        left, out = _eval(node.left, cols), None
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, cols)
            part = _CMP[type(op)](left, right)
            out = part if out is None else (out & part)
            left = right
        return out
    if isinstance(node, ast.BinOp):
        return _ARITH[type(node.op)](_eval(node.left, cols), _eval(node.right, cols))
    if isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            return node.id == "True"
        return cols[node.id]
    return node.value


def evaluate_rule(rule: SegmentRule | str, behavior: pd.DataFrame) -> pd.Series:
    """Boolean Series (aligned with ``behavior``): which rows satisfy the rule.

    Division by zero gives inf/NaN as in numpy; a comparison with NaN is False.
    """
    text = rule.rule if isinstance(rule, SegmentRule) else rule
    name = rule.name if isinstance(rule, SegmentRule) else "<rule>"
    _check(text, [c for c in behavior.columns if c in FEATURES] or FEATURES, f"segment {name!r}")
    cols = {c: behavior[c].astype("float64") for c in FEATURES if c in behavior.columns}
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _eval(ast.parse(text, mode="eval").body, cols)
    if isinstance(out, (bool, np.bool_)):
        out = pd.Series(bool(out), index=behavior.index)
    return out.fillna(False).astype(bool)


def assign_segments(behavior: pd.DataFrame, rules=None) -> pd.DataFrame:
    """The long ``segments`` table: one row per (company, segment it satisfies).

    Parameters
    ----------
    behavior : the behavior table (:func:`~.behavior.behavior`).
    rules : a sequence of :class:`SegmentRule`, a rules file path, or ``None`` (shipped defaults).

    Returns
    -------
    DataFrame with columns ``company_id`` and ``segment``, in rule order then company_id.
    """
    if rules is None or isinstance(rules, (str, os.PathLike)):
        rules = load_rules(rules)
    require_columns(behavior, ["company_id"], "behavior")
    parts = []
    for r in rules:
        mask = evaluate_rule(r, behavior).to_numpy()
        ids = behavior.loc[mask, "company_id"].astype("str").sort_values()
        parts.append(pd.DataFrame({"company_id": ids.to_numpy(), "segment": r.name}))
    if not parts:
        return pd.DataFrame({"company_id": pd.Series(dtype="str"), "segment": pd.Series(dtype="str")})
    out = pd.concat(parts, ignore_index=True)
    return out.astype({"company_id": "str", "segment": "str"})


def segment_sizes(segments: pd.DataFrame, n_companies: int, rules=None) -> pd.DataFrame:
    """Companies per segment: ``segment``, ``companies``, ``share`` (of ``n_companies``), ``description``."""
    rules = load_rules(rules) if rules is None or isinstance(rules, (str, os.PathLike)) else rules
    counts = segments.groupby("segment").size()
    return pd.DataFrame({
        "segment": [r.name for r in rules],
        "companies": [int(counts.get(r.name, 0)) for r in rules],
        "share": [counts.get(r.name, 0) / max(n_companies, 1) for r in rules],
        "description": [r.description for r in rules],
    })


def overlap_table(segments: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Precision and recall of every segment against every label (e.g. simulated archetypes).

    Parameters
    ----------
    segments : long table (company_id, segment).
    labels : Series indexed by company_id (every company), e.g. ``sim_truth.archetype``.

    Returns
    -------
    DataFrame: ``segment``, ``label``, ``n_segment``, ``n_label``, ``n_both``,
    ``precision`` (= n_both / n_segment), ``recall`` (= n_both / n_label).
    """
    labels = labels.astype("str")
    n_label = labels.value_counts()
    rows = []
    for seg, grp in segments.groupby("segment", sort=False):
        lab = labels.reindex(grp["company_id"].unique())
        both = lab.value_counts()
        for l in n_label.index:
            nb = int(both.get(l, 0))
            rows.append((seg, l, len(lab), int(n_label[l]), nb, nb / max(len(lab), 1), nb / int(n_label[l])))
    return pd.DataFrame(rows, columns=["segment", "label", "n_segment", "n_label", "n_both", "precision", "recall"])
