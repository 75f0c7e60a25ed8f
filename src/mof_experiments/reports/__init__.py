"""Reports: parameterized notebooks run with papermill, their data, headline figures and HTML.

- :mod:`~mof_experiments.reports.data`: :func:`load_report_data`, the one call every report
  notebook starts from (workspace and ``as_of`` resolved once);
- :mod:`~mof_experiments.reports.headlines`: :func:`record_headline`, used inside kernels;
- :mod:`~mof_experiments.reports.catalog`: the notebooks and their typed parameters;
- :mod:`~mof_experiments.reports.runner`: :func:`run_reports` (``mof report run``) and the
  manifest;
- :mod:`~mof_experiments.reports.html`: HTML export and the run's index page
  (:mod:`~mof_experiments.reports.headline_table`: formatted headlines and one-line takeaways);
- :mod:`~mof_experiments.reports.takeaways`: :func:`show_takeaways`, the block every report opens
  with (:mod:`~mof_experiments.reports.report_takeaways`: the shipped reports' sentences;
  :mod:`~mof_experiments.reports.formatting`: %, pp, CIs);
- :mod:`~mof_experiments.reports.outputs`: :func:`stray_outputs`, what a report may not show.
"""

from mof_experiments.reports.catalog import (DEFAULT_ORDER, NOTEBOOKS_ENV, ReportInfo, coerce_parameter, list_reports,
                                             notebook_dir, parse_parameter_args)
from mof_experiments.reports.data import ReportData, load_personas, load_report_data
from mof_experiments.reports.headlines import HEADLINES_ENV, read_headlines, record_headline, recorded_headlines
from mof_experiments.reports.headline_table import format_headlines, index_takeaway
from mof_experiments.reports.html import export_html
from mof_experiments.reports.outputs import stray_outputs
from mof_experiments.reports.report_takeaways import (FirstAppReport, content_takeaways, engagement_takeaways,
                                                      first_app_report, funnel_takeaways, program_takeaways,
                                                      readout_takeaways)
from mof_experiments.reports.runner import KERNEL_NAME, ReportRun, read_manifest, run_reports
from mof_experiments.reports.takeaways import Takeaways, show_note, show_takeaways

__all__ = ["record_headline", "recorded_headlines", "read_headlines", "notebook_dir", "ReportInfo", "list_reports",
           "coerce_parameter", "parse_parameter_args", "ReportRun", "run_reports", "export_html", "read_manifest",
           "ReportData", "load_report_data", "load_personas", "HEADLINES_ENV", "NOTEBOOKS_ENV", "KERNEL_NAME",
           "DEFAULT_ORDER", "Takeaways", "show_takeaways", "show_note", "format_headlines", "index_takeaway",
           "stray_outputs", "FirstAppReport", "first_app_report", "funnel_takeaways", "engagement_takeaways",
           "readout_takeaways", "content_takeaways", "program_takeaways"]
