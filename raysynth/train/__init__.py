"""Training and evaluation of audio classifiers on real, synthetic or mixed data."""

from raysynth.train.context import SyntheticSource, TrialContext
from raysynth.train.loop import NaNLossError, run_trial
from raysynth.train.mixture import LeakageError, Mixture, build_mixture

__all__ = [
    "LeakageError",
    "Mixture",
    "NaNLossError",
    "SyntheticSource",
    "TrialContext",
    "build_mixture",
    "run_trial",
]
