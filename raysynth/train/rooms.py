"""Room reverberation for training: seeded shoebox rooms simulated with pyroomacoustics.

Synthetic speech is dry, close-talk audio; real keyword recordings come from phones and laptops
in rooms. Convolving training clips with simulated room impulse responses (RIRs) is the standard
cure (Ko et al., 2017). A trial draws a bank of rooms from its seed (``train.reverb``): each a
shoebox of random size, a reverberation time drawn from a range (wall absorption and the image
order from Sabine's formula, pyroomacoustics' ``inverse_sabine``), and a random source and
microphone at least ``min_distance`` apart. With probability ``probability`` a training clip is
convolved with one of them, aligned on the direct path (the speech does not move in its clip)
and rescaled to its own energy, so the noise SNR drawn after it means what it says.

pyroomacoustics is a well-kept library for exactly this; its ISM core is C++. torchaudio's own
RIR simulator is deprecated (removed from 2.9), and torchaudio's ``fftconvolve`` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class RoomError(ValueError):
    """Room settings no room can satisfy (an RT60 too short for every room size drawn)."""


@dataclass(frozen=True)
class RoomBank:
    """The impulse responses of a trial's rooms, each normalised to a direct path of 1 at index 0."""

    rirs: list[np.ndarray]
    rt60: list[float]
    sizes: list[tuple[float, float, float]]

    def apply(self, waves: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each row convolved with a room drawn from the bank, cropped to its length and rescaled to its energy."""
        import torch
        import torchaudio.functional as AF

        picks = rng.integers(len(self.rirs), size=len(waves))
        length = max(len(self.rirs[i]) for i in picks)
        kernels = np.zeros((len(waves), length), np.float32)
        for row, pick in enumerate(picks):
            kernels[row, : len(self.rirs[pick])] = self.rirs[pick]
        wet = AF.fftconvolve(torch.from_numpy(waves.astype(np.float32)), torch.from_numpy(kernels))[
            :, : waves.shape[1]
        ]
        wet = wet.numpy()
        dry_energy = np.sqrt((waves.astype(np.float64) ** 2).sum(axis=1, keepdims=True))
        wet_energy = np.sqrt((wet.astype(np.float64) ** 2).sum(axis=1, keepdims=True))
        scale = np.where(wet_energy > 1e-12, dry_energy / np.maximum(wet_energy, 1e-12), 1.0)
        return (wet * scale).astype(np.float32)


def simulate_rooms(
    count: int,
    sample_rate: int,
    seed: int,
    rt60: tuple[float, float] = (0.2, 0.8),
    size_min: tuple[float, float, float] = (3.0, 3.0, 2.4),
    size_max: tuple[float, float, float] = (10.0, 8.0, 4.0),
    min_distance: float = 0.5,
    max_order: int = 60,
) -> RoomBank:
    """``count`` rooms drawn from ``seed``, their RIRs at ``sample_rate`` (image source method).

    The reflection order is the one Sabine's formula asks for, capped at ``max_order``: a cap of
    17 (pyroomacoustics' examples) cut small rooms' tails to about half their RT60; uncapped, the
    RT60 measured on the RIR (Schroeder integration) is 0.96-1.38 of the drawn one (tested).
    """
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    rirs, times, sizes = [], [], []
    failures = 0
    while len(rirs) < count:
        size = rng.uniform(size_min, size_max)
        target = float(rng.uniform(*rt60))
        try:
            absorption, order = pra.inverse_sabine(target, size)
        except ValueError:  # the room is too large for so short a reverberation time: draw again
            failures += 1
            if failures > 20 * count:
                raise RoomError(
                    f"train.reverb: no room of {list(size_min)}-{list(size_max)} m has an RT60 in {list(rt60)} s; "
                    f"give smaller rooms or a longer RT60"
                ) from None
            continue
        margin = 0.3
        while True:
            source = rng.uniform(margin, size - margin)
            mic = rng.uniform(margin, size - margin)
            if np.linalg.norm(source - mic) >= min_distance:
                break
        room = pra.ShoeBox(size, fs=sample_rate, materials=pra.Material(float(absorption)),
                           max_order=int(min(order, max_order)), use_rand_ism=False)  # fmt: skip
        room.add_source(source)
        room.add_microphone(mic)
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], dtype=np.float64)
        onset = int(np.argmax(np.abs(rir)))  # the direct path (the strongest arrival)
        rir = rir[onset:] / rir[onset]
        rirs.append(rir.astype(np.float32))
        times.append(target)
        sizes.append(tuple(float(x) for x in size))
    return RoomBank(rirs, times, sizes)
