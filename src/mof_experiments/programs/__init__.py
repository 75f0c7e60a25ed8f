"""Behavioral programs: emails triggered by what a company does, run daily, with a holdout.

- :mod:`~mof_experiments.programs.spec`: the program YAML (:func:`load_program`).
- :mod:`~mof_experiments.programs.evaluate`: one day's entries, exits and due steps (:func:`decide_day`).
- :mod:`~mof_experiments.programs.run`: :func:`run_program`, the daily run through the send ledger.
- :mod:`~mof_experiments.programs.store`: the tables ``program_enrollments``, ``program_steps``, ``program_runs``.
- :mod:`~mof_experiments.programs.status` and :mod:`~mof_experiments.programs.readout`: what a
  program did, and its causal effect (program vs holdout).

The walkthrough is ``docs/programs.md``.
"""

from mof_experiments.programs.run import ProgramRun, run_program
from mof_experiments.programs.spec import ProgramSpec, Step, find_program, load_program

__all__ = ["ProgramSpec", "Step", "find_program", "load_program", "run_program", "ProgramRun"]
