"""What a run prints: one progress line per stage, one line per finished trial, Ray quiet unless ``-v``.

On a terminal a stage's progress line redraws in place; in a log (CI, ``ray job submit``, a pipe)
it prints at most one line every :data:`LOG_EVERY_S` seconds and one when the stage ends, so a
log stays readable. Progress goes to stderr and results to stdout, as tqdm and Ray do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

LOG_EVERY_S = 30.0
REDRAW_EVERY_S = 0.1
_verbose = False


# Ray Data's default logging config (ray/data/_internal/logging.py) with its console handler at
# ERROR: its file log (ray-data.log in the session folder) keeps everything.
_RAY_DATA_QUIET = """\
version: 1
disable_existing_loggers: false
formatters:
  ray: {format: "%(asctime)s\\t%(levelname)s %(filename)s:%(lineno)s -- %(message)s"}
filters:
  console_filter: {"()": ray.data._internal.logging.HiddenRecordFilter}
handlers:
  file: {class: ray.data._internal.logging.SessionFileHandler, formatter: ray, filename: ray-data.log}
  console: {class: ray._private.log.PlainRayHandler, formatter: ray, level: ERROR, filters: [console_filter]}
loggers:
  ray.data: {level: DEBUG, handlers: [file, console], propagate: false}
"""


def set_verbose(verbose: bool) -> None:
    """``-v``: Ray's own logs, Ray Data's progress, worker output and Tune's tables come back.

    Quiet (the default) sets, unless the user set them: ``RAY_DATA_LOGGING_CONFIG`` (Ray Data's
    console log at errors only), ``RAY_BACKEND_LOG_LEVEL=fatal`` and ``RAY_AIR_NEW_OUTPUT=0``
    (Tune's legacy reporter, which prints nothing at ``verbose=0``; the new one prints its
    configuration box at any verbosity).
    """
    global _verbose
    _verbose = verbose
    if verbose:
        return
    path = Path(tempfile.gettempdir()) / f"raysynth-ray-data-logging-{os.getuid()}.yaml"
    if not path.is_file() or path.read_text() != _RAY_DATA_QUIET:
        path.write_text(_RAY_DATA_QUIET)
    os.environ.setdefault("RAY_DATA_LOGGING_CONFIG", str(path))
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # The driver's C++ core worker logs an expected "constructor arguments in the object store"
    # error line for every Ray Data actor pool (ray-project/ray#53727); failures that matter
    # still surface as Python exceptions.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    if "ray.data" in sys.modules:
        from ray.data._internal.logging import configure_logging

        configure_logging()


def verbose() -> bool:
    return _verbose


def quiet_ray_logs() -> None:
    """Ray's, Ray Data's and Tune's Python loggers at INFO with ``-v`` and at ERROR otherwise, and
    Ray Data's progress bars only with ``-v``; the project's own progress lines replace them."""
    level = logging.INFO if _verbose else logging.ERROR
    for name in ("ray", "ray.data", "ray.tune", "ray.train", "ray.air"):
        logging.getLogger(name).setLevel(level)
    try:
        from ray.data import DataContext
    except ImportError:  # pragma: no cover - Ray is a dependency
        return
    context = DataContext.get_current()
    context.enable_progress_bars = _verbose
    context.enable_operator_progress_bars = _verbose
    context.enable_auto_log_stats = False


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """A stage's progress: ``stage  [#####.....] done/total unit  rate  ETA``.

    Args:
        stage: the stage's name (``prepare toy``, ``generate audiogen``, ``trials``).
        total: the number of units planned (``None`` when unknown).
        unit: what is counted (``files``, ``clips``, ``trials``).
        stream: where it prints (stderr by default).
    """

    def __init__(self, stage: str, total: int | None, unit: str, stream: TextIO | None = None) -> None:
        self.stage, self.total, self.unit = stage, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.start = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = float("-inf") if self.tty else self.start
        self._drawn = False
        self.closed = False

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.stage:<18}"]
        if self.total:
            filled = int(20 * min(self.done, self.total) / self.total)
            parts.append(f"[{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.total} {self.unit}")
        else:
            parts.append(f"{self.done} {self.unit}")
        parts.append(f"{rate:.2f} {self.unit}/s" if rate < 10 else f"{rate:.0f} {self.unit}/s")
        if self.closed:
            parts.append(f"done in {_duration(elapsed)}")
        elif self.total and rate > 0:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        return "  ".join(parts)

    def update(self, count: int = 1) -> None:
        self.done += count
        now = time.perf_counter()
        if now - self._last >= (REDRAW_EVERY_S if self.tty else LOG_EVERY_S):
            self._last = now
            self._draw()

    def message(self, text: str) -> None:
        """Print a line of its own (a finished trial) without breaking the progress line."""
        if self.tty and self._drawn:
            self.stream.write("\r\033[K")
        print(text, file=sys.stdout if self.stream is sys.stderr else self.stream, flush=True)
        if self.tty and self._drawn:
            self._draw()

    def _draw(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._draw()
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def __getstate__(self) -> dict:
        # Tune pickles its callbacks with the experiment; a stream does not pickle.
        state = dict(self.__dict__)
        state["stream"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        # A resumed run: the clock of the process that pickled it means nothing here.
        self.__dict__.update(state)
        self.stream = sys.stderr
        self.start = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = float("-inf") if self.tty else self.start

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def native_stderr_to_file(active: bool = True):
    """Send what native code writes to stderr while Ray starts (the C++ core worker's start-up
    lines) to a temporary file; on an error the file is printed, so nothing that explains it is
    lost. The file is removed afterwards."""
    if not active:
        yield
        return
    sys.stderr.flush()
    log = tempfile.NamedTemporaryFile(prefix="raysynth-ray-init-", suffix=".log", delete=False)
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        yield
    except BaseException:
        os.dup2(saved, 2)
        sys.stderr.write(Path(log.name).read_text(errors="replace"))
        raise
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        log.close()
        Path(log.name).unlink(missing_ok=True)


class Interrupted(Exception):
    """Ctrl-C: the run stopped cleanly; ``hint`` says what was kept and how to go on."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


def resume_command(name: str) -> str:
    """This run's own command line, with ``--name <name> --resume`` (and no earlier --name)."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg == "--name":
            skip = True
            continue
        if arg.startswith("--name=") or arg == "--resume":
            continue
        args.append(shlex.quote(arg))
    return " ".join(["uv run python", sys.argv[0], *args, "--name", shlex.quote(name), "--resume"])
