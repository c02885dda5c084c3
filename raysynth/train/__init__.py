"""Training and evaluation of audio classifiers on real, synthetic or mixed data."""

from raysynth.train.loop import NaNLossError, TrialContext, build_mixture, run_trial

__all__ = ["NaNLossError", "TrialContext", "build_mixture", "run_trial"]
