"""The named rules of the persona classifier's decision order (see :mod:`.model`) and the ones
decided from the title alone, before the model: :func:`match_rule`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mof_experiments.segments.personas.heads import _CEO, _HEAD, _NOT_THE_CEO
from mof_experiments.segments.personas.lookalikes import LOOKALIKE_RULES, lookalike_rule
from mof_experiments.segments.personas.text import PLACEHOLDER, normalize_title, script_of_normalized


@dataclass(frozen=True)
class Rule:
    """A named rule of the decision order (see the module docstring)."""

    name: str
    persona: str | None
    description: str


RULES: tuple[Rule, ...] = (
    Rule("missing", "OTHER", "no title: empty, no letter, or a placeholder (n/a, unknown, tbd, -)"),
    Rule("unrecognized_script", "OTHER", "letters mostly in a script without training titles"),
    Rule("chief_executive", "CEO", "names the CEO (not an assistant or office of the CEO)"),
    Rule("head_with_function", None, "company-head word plus a function: the function's persona"),
    Rule("head_of_company", "CEO", "company-head word (founder, owner, managing director, ...) alone"),
    Rule("engineering_outside_software", "OTHER", "engineer or developer of a discipline outside software"),
    Rule("security_outside_it", "OTHER", "physical security, securities or social security"),
    Rule("counselor_not_counsel", "OTHER", "a counselor with no legal word (counselor is not counsel)"),
    Rule("compliance_outside_legal", "OTHER", "environmental, safety, permit or benefit-plan compliance"),
    Rule("controller_outside_finance", "OTHER", "a controller of traffic, machines, documents or a process"),
    Rule("unrecognized_words", "OTHER", "no word of the title occurs in the training titles"),
)
assert [r.name for r in RULES[5:10]] == [name for name, _ in LOOKALIKE_RULES]
_CEO_RX, _NOT_CEO_RX, _HEAD_RX = re.compile(_CEO), re.compile(_NOT_THE_CEO), re.compile(_HEAD)


@lru_cache(maxsize=1 << 16)
def _base_rule(norm: str) -> str | None:
    """``missing``/``unrecognized_script``/``chief_executive``/``head`` or ``None``."""
    if not norm or PLACEHOLDER.match(norm):
        return "missing"
    script = script_of_normalized(norm)
    if script == "none":
        return "missing"
    if script == "other":
        return "unrecognized_script"
    if _CEO_RX.search(norm) and not _NOT_CEO_RX.search(norm):
        return "chief_executive"
    if _HEAD_RX.search(norm) and not _NOT_CEO_RX.search(norm):
        return "head"
    return None


def match_rule(title) -> Rule | None:
    """The rule of :data:`RULES` that decides ``title`` before the model, or ``None``.

    ``head`` titles are reported as ``head_of_company`` (whether a function part takes over
    needs the fitted model: see :meth:`PersonaClassifier.classify`); ``unrecognized_words``
    needs the training vocabulary and is not reported here.
    """
    norm = normalize_title(title)
    name = _base_rule(norm) or lookalike_rule(norm)
    if name is None:
        return None
    name = "head_of_company" if name == "head" else name
    return next(r for r in RULES if r.name == name)


__all__ = ["Rule", "RULES", "match_rule"]
