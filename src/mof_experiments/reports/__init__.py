"""Reports: parameterized notebooks run with papermill, their data, headline figures and HTML.

- :mod:`~mof_experiments.reports.data`: :func:`load_report_data`, the one call every report
  notebook starts from (workspace and ``as_of`` resolved once);
- :mod:`~mof_experiments.reports.headlines`: :func:`record_headline`, used inside kernels;
- :mod:`~mof_experiments.reports.catalog`: the notebooks and their typed parameters;
- :mod:`~mof_experiments.reports.runner`: :func:`run_reports` (``mof report run``) and the
  manifest;
- :mod:`~mof_experiments.reports.html`: HTML export and the run's index page.
"""

from mof_experiments.reports.catalog import (DEFAULT_ORDER, NOTEBOOKS_ENV, ReportInfo, coerce_parameter, list_reports,
                                             notebook_dir, parse_parameter_args)
from mof_experiments.reports.data import ReportData, load_personas, load_report_data
from mof_experiments.reports.headlines import HEADLINES_ENV, read_headlines, record_headline, recorded_headlines
from mof_experiments.reports.html import export_html
from mof_experiments.reports.runner import KERNEL_NAME, ReportRun, read_manifest, run_reports

__all__ = ["record_headline", "recorded_headlines", "read_headlines", "notebook_dir", "ReportInfo", "list_reports",
           "coerce_parameter", "parse_parameter_args", "ReportRun", "run_reports", "export_html", "read_manifest",
           "ReportData", "load_report_data", "load_personas", "HEADLINES_ENV", "NOTEBOOKS_ENV", "KERNEL_NAME",
           "DEFAULT_ORDER"]
