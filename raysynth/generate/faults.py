"""Failures during generation: clips unfit to keep, one clear error for a batch that failed after Ray's retries, and the
fault injection that ``tests/chaos`` drives."""

from __future__ import annotations

import errno
import os
import re

import numpy as np

from raysynth.storage import Location

SILENCE_RMS = 1e-4
CLIPPED_FRACTION = 0.01

CHAOS_ENV = "RAYSYNTH_CHAOS"


def chaos(rows: list[dict], stage: str) -> None:
    """Fault injection for ``tests/chaos``, off unless ``$RAYSYNTH_CHAOS`` is
    ``<raise|exit|enospc>:<clip id>[:<marker file>]``: the batch holding that clip raises, kills its
    actor's process, or its shard write fails as a full disk does; with a marker file, only once."""
    spec = os.environ.get(CHAOS_ENV)
    if not spec:
        return
    action, clip, *marker = spec.split(":", 2)
    if (action == "enospc") != (stage == "write") or clip not in {row["id"] for row in rows}:
        return
    if marker:
        if os.path.exists(marker[0]):
            return
        open(marker[0], "w").close()
    if action == "exit":
        os._exit(1)
    if action == "enospc":
        raise OSError(errno.ENOSPC, "No space left on device (injected)")
    raise RuntimeError(f"injected fault in the batch of clip {clip}")


def _root_cause(error: BaseException) -> str:
    """The ``Type: message`` line the worker raised: Ray's error text holds the worker's traceback,
    then Ray's own wrappers (``UserCodeException``) and retry hints."""
    text = "\n".join(str(e) for e in (error, error.__cause__, error.__context__) if e is not None)
    raised = [
        line.strip()
        for line in re.findall(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Exit)\b:?.*)$", text, re.MULTILINE)
        if not re.match(r"(ray\.|RayTaskError|UserCodeException|RayError)", line.strip())
    ]
    return raised[-1] if raised else f"{type(error).__name__}: {(str(error).splitlines() or [''])[-1]}"


class GenerationFailed(RuntimeError):
    """A batch failed after Ray's retries. Every shard written before is complete and kept; a rerun
    generates only the clips that are missing."""

    def __init__(self, out_dir: Location, summary, error: BaseException) -> None:
        cause = _root_cause(error)
        super().__init__(
            f"generation into {out_dir} failed in a batch: {cause[:300]}. The {summary.written} clips "
            f"written before are kept (whole shards only); run the same command again to make the rest"
        )


def clip_problem(wave: np.ndarray) -> str | None:
    """Why a generated clip is unusable (``nan``, ``silent``, ``clipped``), or ``None`` if it is fine."""
    if wave.size == 0 or not np.all(np.isfinite(wave)):
        return "nan"
    if float(np.sqrt(np.mean(wave.astype(np.float64) ** 2))) < SILENCE_RMS:
        return "silent"
    if float(np.mean(np.abs(wave) >= 0.999)) > CLIPPED_FRACTION:
        return "clipped"
    return None


def trial_chaos(cell: dict) -> None:
    """Fault injection for a sweep's trials (``tests/chaos``): with ``$RAYSYNTH_CHAOS`` set to
    ``trial-raise:<seed>:<attempts file>``, the trial of that seed appends a line to the file and
    raises, at every attempt."""
    spec = os.environ.get(CHAOS_ENV, "")
    if not spec.startswith("trial-raise:"):
        return
    _, seed, attempts = spec.split(":", 2)
    if str(cell.get("seed")) == seed:
        with open(attempts, "a") as handle:
            handle.write("attempt\n")
        raise RuntimeError(f"injected fault in the trial of seed {seed}")
