"""Reading an experiment folder: one record per planned trial, with its status.

Every planned trial is accounted for: ``completed`` (it reported its last planned epoch),
``stopped`` (it ended early with a reason: a NaN loss, or an ASHA early stop), ``errored`` (Tune gave up on it
after its retries), ``unfinished`` (it started and never ended: the run was killed) and
``not run`` (planned in ``raysynth_inputs.json`` but never started) and ``not readable`` (its
``params.json`` or ``result.json`` is corrupt: named, skipped and counted). Tables average
completed trials only and say when a cell has fewer than were planned.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

AXES = (
    "dataset", "generator", "variant", "backbone", "real_fraction", "synth_multiplier", "strategy", "seed",
    "fold", "noise_source", "train_snr_db", "reverb", "quality_filter", "round",
)  # fmt: skip
AXIS_DEFAULTS = {
    "strategy": "label", "fold": None, "noise_source": "none", "variant": None, "train_snr_db": None,
    "quality_filter": "none", "reverb": None, "round": 1,
}  # fmt: skip
INPUTS_FILE = "raysynth_inputs.json"
# Per-class results (dicts by class name), flattened into ``<prefix>/<class>`` columns.
PER_CLASS_FIELDS = {
    "selected_test_precision": "precision", "selected_test_recall": "recall",
    "quality_kept": "kept", "quality_rejected": "rejected", "fad_per_class": "fad",
}  # fmt: skip
STATUSES = ("completed", "stopped", "errored", "unfinished", "not run", "not readable")


class UnreadableTrial(ValueError):
    """A trial file that exists and cannot be read (not UTF-8, not JSON, or empty after a checkpoint)."""


class ReportError(ValueError):
    """An experiment directory or a query that cannot be answered, with what is available."""


def flat_config(config: dict[str, Any], cells: list[dict] | None = None) -> dict[str, Any]:
    """A trial config with its cell's axes beside the fixed values; lists as JSON text (hashable).

    A search's trial names its cell by ``cell_index`` into the experiment's ``cells``; the values
    it sampled (``real_fraction``) win over the cell's.
    """
    if "cell_index" in config and cells is not None:
        sampled = {k: v for k, v in config.items() if k != "cell_index"}
        config = {**cells[int(config["cell_index"])], **sampled}
    config = {**{k: v for k, v in config.items() if k != "cell"}, **(config.get("cell") or {})}
    return {k: json.dumps(v) if isinstance(v, list) else v for k, v in config.items()}


def _rows(result_file: Path) -> list[dict]:
    """The JSON lines of ``result.json``; a file none of whose lines is a JSON object is unreadable,
    and so is an empty one in a trial that wrote checkpoints (it had reported)."""
    if not result_file.is_file():
        return []
    text = result_file.read_bytes().decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict):
            rows.append(row)
        else:
            warnings.warn(f"{result_file}: skipping a line that is not a JSON object", stacklevel=4)
    if lines and not rows:
        raise UnreadableTrial(f"{result_file}: no line is a JSON object (corrupt)")
    if not lines and any(result_file.parent.glob("checkpoint_*")):
        raise UnreadableTrial(f"{result_file}: empty, but the trial wrote checkpoints (truncated)")
    return rows


def _params(params_file: Path) -> dict:
    try:
        params = json.loads(params_file.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableTrial(f"{params_file}: not JSON ({str(error)[:60]})") from None
    if not isinstance(params, dict):
        raise UnreadableTrial(f"{params_file}: not a JSON object")
    return params


def trial_status(trial_dir: Path, rows: list[dict]) -> tuple[str, str | None]:
    """The status of a trial and, for stopped and errored ones, why."""
    last = rows[-1] if rows else {}
    planned = last.get("epochs_planned")
    if last.get("stopped_reason"):
        return "stopped", str(last["stopped_reason"])
    marker = trial_dir / "early_stopped.json"
    if marker.is_file():
        info = json.loads(marker.read_text())
        return (
            "stopped",
            f"early-stopped by {info.get('by', 'the scheduler')} after epoch {info.get('epoch')}",
        )
    if planned is not None and last.get("epoch") == planned:
        return "completed", None
    if (trial_dir / "error.txt").is_file():
        lines = [
            line
            for line in (trial_dir / "error.txt").read_text(errors="replace").splitlines()
            if line.strip()
        ]
        return "errored", lines[-1][-200:] if lines else "error"
    if planned is None and rows:
        return "completed", None  # results of an older version, which did not report epochs_planned
    return "unfinished", None


def read_trial(trial_dir: Path, cells: list[dict] | None = None) -> dict | None:
    """One trial's record: its axis values, status and last reported metrics (``None``: not a trial)."""
    params_file = trial_dir / "params.json"
    if not params_file.is_file():
        return None
    try:
        config = flat_config(_params(params_file), cells)
        rows = _rows(trial_dir / "result.json")
    except (UnreadableTrial, IndexError, KeyError) as error:  # a cell_index the record lacks: Index/KeyError
        warnings.warn(f"skipping trial {trial_dir.name}: {error}", stacklevel=3)
        return {"trial": trial_dir.name, "epochs_reported": 0, "status": "not readable",
                "status_reason": str(error)}  # fmt: skip
    last = next((r for r in reversed(rows) if "epoch" in r), {})
    status, reason = trial_status(trial_dir, rows)
    record = {**config, "trial": trial_dir.name, "epochs_reported": len([r for r in rows if "epoch" in r]),
              "status": status, "status_reason": reason}  # fmt: skip
    for key, value in last.items():
        if key not in config and key != "config" and not isinstance(value, dict | list):
            record[key] = value
    for field, prefix in PER_CLASS_FIELDS.items():
        for key, value in (last.get(field) or {}).items():
            record[f"{prefix}/{key}"] = value
    for field in ("selected_test_confusion", "selected_valid_confusion", "round2_counts"):
        if last.get(field) is not None:  # JSON text, so a table cell stays hashable
            record[field] = json.dumps(last[field])
    return record


def experiment_record(root: str | Path) -> dict:
    """The experiment's own record (spec, planned cells, data), or ``{}`` for older experiments."""
    from raysynth import storage

    text = storage.read_text(storage.join(str(root), INPUTS_FILE))
    return json.loads(text) if text else {}


def local_copy(experiment_dir: str | Path, cache: Path | None = None) -> Path:
    """A local folder with the experiment: the folder itself, or a copy of an ``s3://`` one under ``cache``."""
    from raysynth import storage

    if not storage.is_remote(experiment_dir):
        return Path(experiment_dir)
    import tempfile

    name = str(experiment_dir).rstrip("/").rsplit("/", 1)[-1]
    cache = cache or Path(tempfile.mkdtemp(prefix="raysynth-report-"))
    try:
        return storage.download_tree(experiment_dir, cache / name)
    except (OSError, storage.StorageError) as error:
        raise ReportError(f"cannot read experiment directory {experiment_dir}: {error}") from error


@contextlib.contextmanager
def readable(experiment_dir: str | Path) -> Iterator[Path]:
    """``with readable(d) as root``: a local folder with the experiment, the folder itself or, for one on
    an object store, a temporary copy removed when the block ends."""
    import tempfile

    from raysynth import storage

    if not storage.is_remote(experiment_dir):
        yield Path(experiment_dir)
        return
    with tempfile.TemporaryDirectory(prefix="raysynth-report-") as cache:
        yield local_copy(experiment_dir, Path(cache))


def _not_run(root: Path, seen: list[dict]) -> list[dict]:
    """Records for the cells the experiment planned but never started."""
    record = experiment_record(root)
    spec = record.get("spec", {})
    if spec.get("search", {}).get("algorithm", "grid") != "grid":
        return []  # a search samples cells: the grid is not a plan of trials
    fixed = {
        "dataset": spec.get("dataset", {}).get("name"),
        "backbone": spec.get("train", {}).get("backbone"),
        "reverb": (spec.get("train", {}).get("reverb") or {}).get(
            "probability", 0.0
        ),  # as param_space fixes it
        "round": 1,  # as param_space fixes it (a grid.round cell's wins)
    }
    missing = []
    for cell in record.get("cells", []):
        cell = flat_config(cell)
        key = json.dumps(cell, sort_keys=True, default=str)
        if not any(json.dumps({a: r.get(a) for a in cell}, sort_keys=True, default=str) == key for r in seen):
            missing.append(
                {
                    **fixed,
                    **cell,
                    "trial": None,
                    "epochs_reported": 0,
                    "status": "not run",
                    "status_reason": None,
                }
            )
    return missing


def load(*experiment_dirs: str | Path) -> pd.DataFrame:
    """One row per planned trial: its config (every axis), its status and its last reported metrics.

    Args:
        experiment_dirs: one or more Tune experiment folders (local or ``s3://``); their trials
            are combined.
    """
    records: list[dict] = []
    for experiment_dir in experiment_dirs:
        with readable(experiment_dir) as root:
            if not root.is_dir():
                raise ReportError(f"experiment directory {root} does not exist")
            cells = experiment_record(root).get("cells")
            found = [
                r
                for r in (read_trial(p.parent, cells) for p in sorted(root.glob("*/params.json")))
                if r is not None
            ]
            if not found:
                raise ReportError(f"{experiment_dir} holds no Tune trials (no */params.json)")
            for record in [*found, *_not_run(root, found)]:
                record["experiment"] = root.name
                records.append(record)
    df = pd.DataFrame.from_records(records)
    absent = [axis for axis in AXES if axis not in df.columns]
    if absent:
        warnings.warn(
            f"results from an older spec version: axes {', '.join(absent)} are absent; "
            f"filled with their defaults where they have one",
            stacklevel=2,
        )
        for axis in absent:
            df[axis] = AXIS_DEFAULTS.get(axis)
    return df


def status_counts(df: pd.DataFrame) -> dict[str, int]:
    """How many trials have each status (every status listed, zeros included)."""
    counts = df["status"].value_counts() if "status" in df else pd.Series(dtype=int)
    return {status: int(counts.get(status, 0)) for status in STATUSES}


def status_line(df: pd.DataFrame) -> str:
    """``6 trial(s): 4 completed, 1 stopped (NaN loss: ...), 1 errored (...), 0 unfinished, 0 not run``."""
    counts = status_counts(df)
    parts = []
    for status in STATUSES:
        part = f"{counts[status]} {status}"
        reasons = (
            sorted({str(r) for r in df.loc[df["status"] == status, "status_reason"].dropna()})
            if counts[status]
            else []
        )
        if reasons:
            part += f" ({'; '.join(r[:80] for r in reasons[:3])})"
        parts.append(part)
    return f"{len(df)} trial(s): " + ", ".join(parts)
