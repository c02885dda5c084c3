"""Where an experiment's results go, checked before Ray starts: a new run never writes into another
run's folder, and ``--resume`` continues only the experiment its spec describes."""

from __future__ import annotations

import json
from typing import Any

from raysynth import storage
from raysynth.report import INPUTS_FILE


class ExperimentExists(ValueError):
    """A run whose experiment folder is taken, or a resume whose spec is not the experiment's."""


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as dotted keys (``train.epochs``); lists and scalars are leaves."""
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def changed_keys(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The dotted spec keys whose values differ between two specs (as JSON)."""
    old, new = flatten(json.loads(json.dumps(recorded))), flatten(json.loads(json.dumps(current)))
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def check_target(
    experiment_dir: str, name: str, spec: dict[str, Any], resume: bool, given_name: bool
) -> None:
    """Refuse a new run into an existing experiment folder (unless ``--resume``), and a resume whose
    spec differs from the one the experiment recorded when it started, naming the changed keys.

    Args:
        experiment_dir: ``<storage path>/<name>``.
        name: the experiment's name; ``given_name``: whether the user chose it (``--name``).
        spec: the current spec as JSON (``Resolved.spec``).
        resume: ``--resume``.
    """
    taken = storage.exists(experiment_dir)
    if not resume:
        if taken:
            hint = "give another --name, or add --resume to continue it" if given_name else "run it again"
            raise ExperimentExists(f"experiment {name} already exists at {experiment_dir}: {hint}")
        return
    text = storage.read_text(storage.join(experiment_dir, INPUTS_FILE)) if taken else None
    if text is None:
        return  # nothing recorded to compare (Tune's restore says whether there is anything to resume)
    recorded = json.loads(text).get("spec", {})
    changed = changed_keys(recorded, spec)
    if changed:
        shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
        raise ExperimentExists(
            f"--resume: the spec of experiment {name} has changed since it started ({shown}); resume it "
            f"with its own spec, or start a new experiment under another --name"
        )


def check_tracking(spec: dict[str, Any], timeout_s: float = 5.0, work_dir: Any = None) -> None:
    """``tracking_uri`` can be used, before Ray starts: an http(s) server answers within ``timeout_s``
    (MLflow's client would retry for minutes), a folder store, which MLflow 3 refuses, is named, and
    with a ``work_dir`` on an object store the default SQLite store (a local file) is refused.

    Raises:
        SpecError: naming the address and what to do.
    """
    import urllib.error
    import urllib.request

    from raysynth.config import SpecError

    uri = spec.get("tracking_uri")
    if spec.get("tracking", "none") != "mlflow":
        return
    if not uri and work_dir is not None and "://" in str(work_dir):
        raise SpecError(
            f"tracking: mlflow keeps its default store in sqlite:///<work_dir>/mlflow.db, a local file, but the work "
            f"dir is {work_dir}: set tracking_uri to an MLflow server (http://...) or to a sqlite:/// file"
        )
    if not uri:
        return
    if uri.startswith(("http://", "https://")):
        try:
            urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s)  # noqa: S310 (the user's server)
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SpecError(
                f"tracking_uri {uri}: no MLflow server answered in {timeout_s:g} s ({reason}); start it or fix the "
                f"address, or remove tracking_uri to track into sqlite:///<work_dir>/mlflow.db (no server needed)"
            ) from None
    elif uri.startswith("file:") or "://" not in uri:
        raise SpecError(
            f"tracking_uri {uri}: MLflow 3 refuses a folder store; give sqlite:///path/to/mlflow.db or a server's "
            f"http(s) address, or remove tracking_uri (the default is sqlite:///<work_dir>/mlflow.db)"
        )
