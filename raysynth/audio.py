"""Audio I/O in one place: decode (soundfile), resample (soxr), FLAC encode/decode.

Every stage that turns audio into arrays or arrays into stored bytes goes through here, so
there is exactly one resampler and one storage format (16-bit FLAC).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr


class AudioDecodeError(RuntimeError):
    """A file or byte string that soundfile cannot read as audio."""


@dataclass(frozen=True)
class Decoded:
    """A mono float32 waveform and what the source looked like before conversion."""

    wave: np.ndarray
    sample_rate: int
    orig_sample_rate: int
    orig_channels: int


RESAMPLER = "soxr-VHQ"  # named in every manifest's and clip's recipe: another resampler makes other audio


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono float32 waveform with libsoxr (python-soxr), very high quality.

    soxr handles any rate pair in constant time: torchaudio's polyphase kernel for a pair such as
    24,414 -> 16,000 Hz takes seconds to build and about 0.1 s to apply per 3 s clip, soxr about
    1 ms (``bench/prepare.py`` measures both, with their alias rejection).
    """
    if orig_sr == target_sr or wave.size == 0:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(np.ascontiguousarray(wave, dtype=np.float32), orig_sr, target_sr, quality="VHQ")


def load_audio(source: str | os.PathLike[str] | bytes, target_sr: int | None = None) -> Decoded:
    """Decode a file path or encoded bytes into mono float32, optionally resampled.

    Args:
        source: a path, or the bytes of a WAV/FLAC/OGG file.
        target_sr: the sample rate to resample to; ``None`` keeps the original.

    Raises:
        AudioDecodeError: the source is not readable audio.
    """
    handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        data, sample_rate = sf.read(handle, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, AssertionError, ValueError) as error:
        # soundfile raises a bare AssertionError on some float files with non-finite samples
        raise AudioDecodeError(f"cannot decode audio from {_name(source)}: {error!r}") from error
    if not np.isfinite(data).all():
        raise AudioDecodeError(f"{_name(source)} has non-finite samples (NaN or inf)")
    channels = data.shape[1]
    wave = data.mean(axis=1) if channels > 1 else data[:, 0]
    out_sr = target_sr or sample_rate
    return Decoded(resample(wave, sample_rate, out_sr), out_sr, sample_rate, channels)


def _name(source: str | os.PathLike[str] | bytes) -> str:
    return (
        "<bytes>"
        if isinstance(source, bytes | bytearray)
        else os.fsdecode(source).encode("utf-8", "backslashreplace").decode()
    )


def encode_flac(wave: np.ndarray, sample_rate: int) -> bytes:
    """Encode a mono float waveform as 16-bit FLAC bytes (values are clipped to [-1, 1])."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(wave, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def decode_flac(data: bytes) -> tuple[np.ndarray, int]:
    """Decode FLAC (or any soundfile format) bytes to mono float32 and its sample rate."""
    decoded = load_audio(data)
    return decoded.wave, decoded.sample_rate


def fix_length(wave: np.ndarray, num_samples: int) -> np.ndarray:
    """Crop or zero-pad a waveform to exactly ``num_samples``."""
    if wave.shape[-1] >= num_samples:
        return wave[..., :num_samples]
    pad = [(0, 0)] * (wave.ndim - 1) + [(0, num_samples - wave.shape[-1])]
    return np.pad(wave, pad)


def load_video_audio(path: str | os.PathLike[str], target_sr: int | None = None) -> Decoded:
    """Decode the first audio stream of a video file (AVI, MP4, ...) with PyAV.

    Raises:
        AudioDecodeError: the file is unreadable or has no audio stream.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioDecodeError(f"{path} has no audio stream")
            stream = container.streams.audio[0]
            channels = stream.codec_context.channels
            sample_rate = stream.codec_context.sample_rate
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=sample_rate)
            chunks = [
                out.to_ndarray()[0] for frame in container.decode(stream) for out in resampler.resample(frame)
            ]
            chunks += [out.to_ndarray()[0] for out in resampler.resample(None)]
    except av.error.FFmpegError as error:
        raise AudioDecodeError(f"cannot decode audio from {path}: {error}") from error
    wave = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    out_sr = target_sr or sample_rate
    return Decoded(resample(wave, sample_rate, out_sr), out_sr, sample_rate, channels)
