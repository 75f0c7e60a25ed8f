"""mof-experiments: behavioral email research toolkit for API platforms.

The package supplies funnel-stage labeling, segmentation, experiments and uplift models,
attribution and engagement analyses, report runs and a send module. The layers and one line
per module: docs/architecture.md.
"""

__version__ = "0.1.0"

from mof_experiments.errors import MofConfigError, MofError, MofInputError  # noqa: E402

__all__ = ["MofError", "MofInputError", "MofConfigError", "__version__"]
