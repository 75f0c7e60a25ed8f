"""Compute a report run's shared data while its kernels start (``mof report run --jobs N``).

The runner starts this module as its own process (``python -m mof_experiments.reports.prewarm
WORKSPACE AS_OF``, with the run's snapshot folder in ``$MOF_REPORT_SNAPSHOT``) before it starts
the kernels. It loads what the notebooks load with their default settings (funnel, tables, email
events, personas) and the run's early API events (:mod:`~mof_experiments.reports.early_events`),
storing each part in the snapshot. A kernel that needs a part meanwhile waits on that part's
lock and then reads it, as it would after another kernel (:mod:`~mof_experiments.reports.snapshot`):
the data are the same, only computed on the core that starting kernels leave idle. Anything that
fails here is left for the notebooks, which compute it themselves and report the error.
"""

from __future__ import annotations

import sys


def prewarm(workspace: str, as_of: str) -> None:
    """Store the default parts of a report run (see the module docstring)."""
    from mof_experiments.reports.data import load_report_data

    # the early events first: the experiment's features wait for them, while a kernel that
    # needs the email events meanwhile computes those itself (each part has its own lock)
    data = load_report_data(workspace, as_of, email=False, personas=False)
    if data.early_events is not None:
        data.early_events()
    load_report_data(workspace, as_of, email=False, personas=True)
    load_report_data(workspace, as_of, email=True, personas=True)   # an error here: no email events


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        prewarm(*args)
    except Exception:  # noqa: BLE001 - the notebooks report their own errors
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    import gc

    gc.freeze()         # no last collection over what it loaded: the process ends here (mof's CLI does the same)
    raise SystemExit(code)
