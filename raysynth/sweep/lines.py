"""One console line per finished trial, and the trials' progress line (Tune's own tables stay behind ``-v``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raysynth.console import Progress
from raysynth.inputs import varying_axes


def _value(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _error_line(trial) -> str:
    """The error's last line, from the trial's ``error.txt`` where Tune wrote one locally."""
    path = getattr(trial, "error_file", None)
    if path and Path(path).is_file():
        lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return f"{lines[-1].strip()[:160]} (traceback: {path})"
    return "see the trial's error.txt"


def trial_lines_class():
    from ray.tune import Callback

    class TrialLines(Callback):
        """Prints ``trial k/n <status>  <varying axes>  valid … test … (epoch e/E)  <time>`` as each
        trial ends; trials that a resumed run finds already finished count as done."""

        def __init__(self, cells: list[dict], total: int, trial_config) -> None:
            self.cells, self.trial_config = cells, trial_config
            self.axes = [a for a in varying_axes(cells) if a != "seed"] + (
                ["seed"] if "seed" in varying_axes(cells) else []
            )
            self.bar = Progress("trials", total, "trials")
            self.seen: set[str] = set()
            self.started = False

        def on_step_begin(self, iteration, trials, **info) -> None:
            if not self.started:  # a resumed run: what finished before counts as done
                self.started = True
                for trial in trials:
                    if trial.status in ("TERMINATED", "ERROR"):
                        self.seen.add(trial.trial_id)
                self.bar.done = len(self.seen)

        def _axes(self, trial) -> str:
            config = self.trial_config(trial.config, self.cells)
            shown = [f"{a}={_value(config.get(a))}" for a in self.axes]
            if (
                "real_fraction" in config
                and "real_fraction" not in self.axes
                and "cell_index" in trial.config
            ):
                shown.append(f"real_fraction={config['real_fraction']:.3g}")  # sampled by a search
            return " ".join(shown) or trial.trial_id

        def _finish(self, trial, text: str) -> None:
            if trial.trial_id in self.seen:
                return
            self.seen.add(trial.trial_id)
            self.bar.update()
            total = self.bar.total or len(self.seen)
            self.bar.message(f"trial {self.bar.done}/{total} {text}")

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            last = trial.last_result or {}
            status = "completed"
            if last.get("stopped_reason"):
                status = f"stopped ({last['stopped_reason'][:80]})"
            elif last.get("epoch") is not None and last.get("epoch", 0) < last.get("epochs_planned", 0):
                status = f"stopped early by ASHA at epoch {last['epoch']}"
            scores = ""
            if last.get("selected_test_acc") is not None:
                scores = (
                    f"  valid {last.get('selected_valid_acc', float('nan')):.3f}"
                    f"  test {last['selected_test_acc']:.3f}"
                    f" (epoch {last.get('selected_epoch')}/{last.get('epochs_planned')})"
                )
            seconds = last.get("time_total_s")
            timing = f"  {seconds:.0f}s" if seconds is not None else ""
            self._finish(trial, f"{status:<9}  {self._axes(trial)}{scores}{timing}")

        def on_trial_recover(self, iteration, trials, trial, **info) -> None:
            self.bar.message(f"trial {self._axes(trial)} failed and is retried: {_error_line(trial)}")

        def on_trial_error(self, iteration, trials, trial, **info) -> None:
            self._finish(trial, f"errored    {self._axes(trial)}  {_error_line(trial)}")

        def on_experiment_end(self, trials, **info) -> None:
            self.bar.close()

    return TrialLines


def TrialLines(cells: list[dict], total: int, trial_config):  # noqa: N802 (a factory: no Tune import)
    return trial_lines_class()(cells, total, trial_config)
