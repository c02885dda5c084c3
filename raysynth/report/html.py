"""One self-contained ``report.html``: tables, figures (inline PNG) and an audio gallery (inline FLAC)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as pds

from raysynth import storage
from raysynth.audio import decode_flac
from raysynth.report import INPUTS_FILE


def spectrogram_png(data: bytes) -> bytes:
    """A small log-mel spectrogram of encoded audio (torchaudio features, matplotlib image)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    import torchaudio

    wave, rate = decode_flac(data)
    mel = torchaudio.transforms.MelSpectrogram(rate, n_fft=512, hop_length=max(1, rate // 100), n_mels=64)
    image = torchaudio.transforms.AmplitudeToDB(top_db=80)(mel(torch.from_numpy(wave).float()))
    fig, ax = plt.subplots(figsize=(2.4, 1.1), dpi=100)
    ax.imshow(image.numpy(), origin="lower", aspect="auto", cmap="magma")
    ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 1)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _audio_tag(data: bytes, caption: str) -> str:
    """A clip as its log-mel spectrogram (people compare audio by eye first), a player and a caption."""
    source = base64.b64encode(data).decode()
    image = base64.b64encode(spectrogram_png(data)).decode()
    return (
        f"<figure><img class='spec' alt='log-mel spectrogram' src='data:image/png;base64,{image}'><br>"
        f'<audio controls preload="none" src="data:audio/flac;base64,{source}"></audio>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def audio_gallery(experiment_dir: Path, per_class: int = 2, max_classes: int = 60) -> str:
    """Synthetic clips per class for each generator × strategy, with real clips beside them.

    Every class of the real data or of the synthetic clips has a row. Its real clips come from the
    non-test splits, or, where a class has none there (a test-only corpus, a keyword never recorded
    for training), from the test split, captioned so. An experiment with no synthetic data (a
    real-only baseline, a noise study) shows its real clips alone. Data that is not where the experiment recorded it (a folder copied off the cluster
    without its work dir) leaves a one-line note in place of the gallery, never an error.
    """
    inputs_file = Path(experiment_dir) / INPUTS_FILE
    if not inputs_file.is_file():
        return "<p>No audio gallery: the experiment folder has no record of its data.</p>"
    inputs = json.loads(inputs_file.read_text())
    if not storage.exists(inputs["manifest"]):
        return (
            f"<p>No audio gallery: the manifest {html.escape(str(inputs['manifest']))} is not here "
            "(the experiment folder was moved without its work dir).</p>"
        )
    real = pds.dataset(inputs["manifest"]).to_table(columns=["label", "split", "audio"]).to_pandas()
    synth = _synthetic_clips(inputs.get("synthetic", []))
    labels = set(real["label"]) | (set(synth["label"]) if synth is not None else set())
    rows = ["<table class='gallery'><tr><th>class</th><th>real</th><th>synthetic</th></tr>"]
    for label in sorted(labels)[:max_classes]:
        mine = real[real["label"] == label]
        heard, caption = mine[mine["split"] != "test"], "real"
        if heard.empty:
            heard, caption = mine[mine["split"] == "test"], "real (test split)"
        real_cells = "".join(
            _audio_tag(r["audio"]["bytes"], caption) for _, r in heard.head(per_class).iterrows()
        )
        synth_cells = (
            "".join(
                _audio_tag(r["audio"]["bytes"], _caption(r))
                for _, group in synth[synth["label"] == label].groupby(["generator", "strategy"])
                for _, r in group.sort_values("index").head(per_class).iterrows()
            )
            if synth is not None
            else "no synthetic data in this experiment"
        )
        rows.append(
            f"<tr><td>{html.escape(str(label))}</td><td>{real_cells or '—'}</td><td>{synth_cells or '—'}</td></tr>"
        )
    return "\n".join(rows) + "</table>"


def _caption(row) -> str:
    """The generator, strategy and prompt of a clip, and what it drew (tts: voice, rate, ...)."""
    drawn = f" {row['params']}" if row["params"] not in (None, "", "{}") else ""
    return f"{row['generator']} / {row['strategy']}: {row['prompt']}{drawn}"


def _synthetic_clips(sources: list[dict]) -> pd.DataFrame | None:
    """The training clips of each synthetic source's recipe; ``None`` when there are none."""
    frames = []
    for source in sources:
        files = storage.list_files(source["folder"])
        if files:
            table = storage.unique_ids(
                files,
                columns=["label", "generator", "strategy", "prompt", "params", "index", "audio"],
                filter=(pds.field("recipe") == source["recipe"]) & (pds.field("split") == "train"),
            )
            frames.append(table.to_pandas())
    frames = [f for f in frames if len(f)]
    return pd.concat(frames) if frames else None


def write_html(out: Path, title: str, tables: dict[str, str], figures: list[Path], gallery: str) -> Path:
    """Write the report page; every figure and clip is embedded, so the file stands alone."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}figure{display:inline-block;margin:4px}"
        "figcaption{font-size:11px;max-width:300px}img.figure{display:block;max-width:100%;margin:8px 0}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for name, table_html in tables.items():
        parts += [f"<h2>{html.escape(name)}</h2>", table_html]
    if figures:
        parts.append("<h2>Figures</h2>")
    for figure in figures:
        data = base64.b64encode(Path(figure).read_bytes()).decode()
        parts.append(
            f"<img class='figure' alt='{html.escape(figure.stem)}' src='data:image/png;base64,{data}'>"
        )
    parts += ["<h2>Audio gallery</h2>", gallery, "</body></html>"]
    out.write_text("\n".join(parts))
    return out
