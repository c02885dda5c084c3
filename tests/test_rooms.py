"""Room reverberation for training (pyroomacoustics rooms): seeded, physically right, and wired in."""

import numpy as np
import pytest
from pydantic import ValidationError

from raysynth.config import ReverbConfig, TrainConfig
from raysynth.train.rooms import RoomError, simulate_rooms


def schroeder_rt60(rir: np.ndarray, sample_rate: int) -> float:
    """RT60 from the energy decay curve, T20 (-5 to -25 dB) extrapolated to 60 dB (ISO 3382)."""
    decay = np.cumsum(rir[::-1].astype(np.float64) ** 2)[::-1]
    db = 10 * np.log10(decay / decay[0] + 1e-30)
    return 3 * (int(np.argmax(db <= -25)) - int(np.argmax(db <= -5))) / sample_rate


def test_rooms_are_seeded_and_have_the_reverberation_time_drawn():
    bank = simulate_rooms(8, 16000, seed=3)
    again, other = simulate_rooms(8, 16000, seed=3), simulate_rooms(8, 16000, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(bank.rirs, again.rirs, strict=True))
    assert not np.array_equal(bank.rirs[0][:2000], other.rirs[0][: len(bank.rirs[0][:2000])])
    assert all(0.2 <= t <= 0.8 for t in bank.rt60)
    assert all(3.0 <= x <= 10.0 for x in (size[0] for size in bank.sizes))
    ratios = [schroeder_rt60(rir, 16000) / t for rir, t in zip(bank.rirs, bank.rt60, strict=True)]
    assert 0.8 <= float(np.mean(ratios)) <= 1.3 and min(ratios) > 0.6, ratios
    assert all(rir[0] == 1.0 and np.abs(rir).max() == 1.0 for rir in bank.rirs)  # direct path first


def test_reverberation_keeps_the_clip_in_place_and_its_energy():
    rng = np.random.default_rng(0)
    bank = simulate_rooms(4, 8000, seed=1)
    dry = np.zeros((3, 8000), np.float32)
    dry[:, 2000:2400] = (rng.standard_normal((3, 400)) * 0.2).astype(np.float32)
    wet = bank.apply(dry, np.random.default_rng(2))
    assert wet.shape == dry.shape and wet.dtype == np.float32
    np.testing.assert_allclose((wet**2).sum(axis=1), (dry**2).sum(axis=1), rtol=1e-4)
    for d, w in zip(dry, wet, strict=True):
        lags = np.correlate(w, d, mode="full")
        assert int(np.argmax(lags)) - (len(d) - 1) == 0  # the speech does not move
        assert np.abs(w[2600:4000]).max() > 10 * np.abs(d[2600:4000]).max() + 1e-6  # a tail after it
    impulse = np.zeros((1, 8000), np.float32)
    impulse[0, 0] = 1.0
    out = bank.apply(impulse, np.random.default_rng(5))[0]
    rir = next(r for r in bank.rirs if np.allclose(out[:50] / out[0], r[:50], atol=1e-5))
    assert rir is not None


def test_impossible_rooms_and_bad_ranges_are_refused():
    with pytest.raises(RoomError, match="no room of"):
        simulate_rooms(2, 8000, seed=0, rt60=(0.05, 0.05), size_min=(40, 40, 20), size_max=(50, 50, 30))
    with pytest.raises(ValidationError, match=r"rt60 has to be \[low, high\]"):
        ReverbConfig(rt60=(0.9, 0.3))
    with pytest.raises(ValidationError, match="size_min and size_max"):
        ReverbConfig(size_min=(5, 5, 5), size_max=(4, 6, 6))
    with pytest.raises(ValidationError, match="linear_probe trains on cached clean"):
        TrainConfig(mode="linear_probe", reverb={})


def test_the_reverb_axis_makes_cells_and_is_checked():
    from raysynth.config import SpecError, parse_spec
    from raysynth.inputs.cells import trial_cells

    base = {"name": "r", "dataset": {"name": "toy"}, "generation": {"generator": "tts"},
            "grid": {"real_fraction": 1.0, "synth_multiplier": 0}}  # fmt: skip
    assert "reverb" not in trial_cells(parse_spec(base))[0]
    cells = trial_cells(parse_spec({**base, "grid": {**base["grid"], "reverb": [0.0, 0.5]}}))
    assert [c["reverb"] for c in cells] == [0.0, 0.5]
    with pytest.raises(SpecError, match="grid.reverb value is a probability"):
        parse_spec({**base, "grid": {**base["grid"], "reverb": [1.5]}})
    with pytest.raises(SpecError, match="grid.reverb reverberates training clips"):
        parse_spec({**base, "train": {"mode": "linear_probe"}, "grid": {**base["grid"], "reverb": [0.5]}})
