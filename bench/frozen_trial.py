"""A frozen-embedding trial with cached augmented views against the same trial augmenting on the fly,
measured side by side in one run, on one core.

The trial: speech_commands_mini, speaker fold 1 (its training part: 8 keywords and _unknown_, real
clips), the frozen speech embedding with its temporal head, real background noise on half the
training clips and rooms on half, at least 300 optimiser steps over 10 epochs.

1. ``train.views: 4``, cold: the clean sets and four augmented views are embedded, then cached.
2. The same trial again, warm: every feature read from ``<work>/features``.
3. ``train.views: 0``: each noisy or reverberated batch embedded again (the old way).

    uv run python bench/frozen_trial.py [--data-root ../shared/data] [--views 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--views", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from raysynth.config import parse_spec
    from raysynth.inputs import ensure, resolve, trial_context
    from raysynth.train import run_trial

    def spec(views: int):
        return parse_spec({
            "name": "bench", "dataset": {"name": "speech_commands_mini", "sample_rate": 16000},
            "train": {"backbone": "speech_embedding", "head": "temporal", "epochs": 10, "min_steps": 300,
                      "batch_size": 32, "learning_rate": 3e-3, "views": views, "num_threads": 1,
                      "reverb": {"probability": 0.5, "rooms": 64}},
            "noise": {"directory": "noise_speech_commands/_background_noise_", "test_files": ["running_tap"],
                      "segment_seconds": 1.0, "train_snr_db": [5.0, 30.0], "train_probability": 0.5,
                      "test_snrs": []},
            "grid": {"real_fraction": 1.0, "synth_multiplier": 0, "fold": 1, "noise_source": "real"},
        })  # fmt: skip

    with tempfile.TemporaryDirectory() as work:
        figures = {}
        for name, views in (
            ("cached views, cold", args.views),
            ("cached views, warm", args.views),
            ("on the fly", 0),
        ):
            resolved = resolve(spec(views), args.data_root, Path(work))
            ensure(resolved)
            (cell,) = resolved.cells
            context = trial_context(resolved)
            if views == 0:  # nothing cached: the old way embeds every set in the trial
                import dataclasses

                context = dataclasses.replace(context, features=None)
            start = time.perf_counter()
            last = run_trial(cell, context, lambda metrics, state: None)
            figures[name] = time.perf_counter() - start
            print(f"{name}: {figures[name]:.1f} s, {last['num_real']} training clips, {last['steps']} steps, "
                  f"selected test accuracy {last['selected_test_acc']:.3f}", flush=True)  # fmt: skip
        warm, fly = figures["cached views, warm"], figures["on the fly"]
        print(
            f"warm cached trial {warm:.1f} s vs on the fly {fly:.1f} s: {fly / warm:.1f}x; "
            f"cold {figures['cached views, cold']:.1f} s (the views embedded once)"
        )


if __name__ == "__main__":
    main()
