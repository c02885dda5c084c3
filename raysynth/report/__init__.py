"""Reports from Tune experiment directories, read offline (no running cluster).

>>> df = load("raysynth_work/ray_results/smoke-20261126-050000")  # doctest: +SKIP
>>> print(status_line(df))  # every planned trial, by status  # doctest: +SKIP
>>> print(to_markdown(pivot(df, rows=["real_fraction"], cols=["synth_multiplier"])))  # doctest: +SKIP
"""

from raysynth.report.notes import caveat, experiment_notes
from raysynth.report.tables import (
    DEFAULT_METRIC,
    best_per_column,
    metric_name,
    pivot,
    shortfall_notes,
    to_html,
    to_latex,
    to_markdown,
)
from raysynth.report.trials import (
    AXES,
    INPUTS_FILE,
    STATUSES,
    ReportError,
    experiment_record,
    load,
    local_copy,
    status_counts,
    status_line,
)

__all__ = [
    "AXES",
    "DEFAULT_METRIC",
    "INPUTS_FILE",
    "STATUSES",
    "ReportError",
    "best_per_column",
    "caveat",
    "metric_name",
    "to_html",
    "experiment_notes",
    "experiment_record",
    "load",
    "local_copy",
    "pivot",
    "shortfall_notes",
    "status_counts",
    "status_line",
    "to_latex",
    "to_markdown",
]
