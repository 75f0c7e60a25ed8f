"""Takeaways: the short block of plain sentences a report opens with, computed from its results.

The API every report notebook calls (funnel_overview, engagement_conversion, experiment_readout;
content_optimization and program_readout can call it the same way)::

    from mof_experiments.reports import show_takeaways
    show_takeaways(["Sending the emails raised 30-day conversion by +3.1 pp (95% CI ...).", ...],
                   figures=[("Companies", "2,000"), ...])

:func:`show_takeaways` displays a :class:`Takeaways` block (sentences, then a small table of the
headline figures, formatted with :mod:`~mof_experiments.reports.formatting`) and records the
sentences as the headline ``takeaways`` (a list of strings in ``manifest.json``; the run's index
uses the first as the report's one-line takeaway when it has no rule of its own). It returns
nothing, so a notebook cell that ends with it prints no stray value.

Rules for the sentences: what changed, how sure we are (the 95% interval, in pp for a difference
of rates), what to do; every number from the results, none typed in the notebook; say
"observational" where a comparison is not randomized.
"""

from __future__ import annotations

import html as _html
from dataclasses import dataclass, field

from mof_experiments.reports.headlines import record_headline

TAKEAWAYS_CLASS = "mof-takeaways"
FIGURES_CLASS = "mof-headlines"


@dataclass(frozen=True)
class Takeaways:
    """A report's takeaways: ``sentences`` and ``figures`` (``(label, formatted value)`` rows),
    shown as HTML (a ``div.mof-takeaways`` with a list and a ``table.mof-headlines``)."""

    sentences: tuple = ()
    figures: tuple = field(default=())
    title: str = "Takeaways"

    def _repr_html_(self) -> str:
        e = _html.escape
        items = "".join(f"<li>{e(s)}</li>" for s in self.sentences)
        rows = "".join(f"<tr><th style='text-align:left'>{e(str(k))}</th><td>{e(str(v))}</td></tr>"
                       for k, v in self.figures)
        table = (f"<table class='{FIGURES_CLASS}'><caption style='text-align:left'>Headline figures</caption>"
                 f"{rows}</table>") if rows else ""
        return (f"<div class='{TAKEAWAYS_CLASS}' style='border-left:4px solid #0072B2;padding:0.5em 1em;"
                f"background:#f4f8fb'><h2>{e(self.title)}</h2><ul>{items}</ul>{table}</div>")

    def __str__(self) -> str:
        return "\n".join(f"- {s}" for s in self.sentences)


def show_takeaways(sentences, figures=(), *, title: str = "Takeaways") -> None:
    """Display the takeaways block and record the sentences as the headline ``takeaways``.

    Parameters
    ----------
    sentences : the plain sentences (strings), most important first.
    figures : ``[(label, formatted value), ...]`` shown as the headline table under them.
    title : the block's heading.
    """
    from IPython.display import display

    sentences = tuple(str(s) for s in sentences if s)
    record_headline("takeaways", list(sentences))
    display(Takeaways(sentences=sentences, figures=tuple((str(k), str(v)) for k, v in figures), title=title))


def show_note(text: str) -> None:
    """Display one sentence of narrative computed in a notebook (Markdown), instead of ``print``."""
    from IPython.display import Markdown, display

    display(Markdown(text))


__all__ = ["Takeaways", "show_takeaways", "show_note", "TAKEAWAYS_CLASS", "FIGURES_CLASS"]
