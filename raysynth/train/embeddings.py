"""Embedding cache for linear probes: one embedding per (clip id, backbone), computed by Ray Data.

Clips are read from the manifest and the synthetic shards by Ray Data tasks, embedded by actors
that load the frozen backbone once (``num_gpus`` each), and written as Parquet parts
(``id, embedding``) through atomic renames. A rerun embeds only ids not yet on disk. Test clips
are also embedded mixed with the held-out real test noise at each test SNR (id ``<id>@<snr>dB``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pds
import torch

from raysynth import storage
from raysynth.audio import decode_flac, fix_length
from raysynth.config import NoiseConfig, TrainConfig
from raysynth.console import Progress
from raysynth.datasets.manifest import read_manifest

PART_GLOB = "part-*.parquet"


@torch.inference_mode()
def embed_clips(model: torch.nn.Module, waves: np.ndarray, batch_size: int = 32) -> torch.Tensor:
    """Pooled embeddings of ``waves`` from a classifier's frozen backbone."""
    model.eval()
    out = [model.embed(model.features(waves[i : i + batch_size])) for i in range(0, len(waves), batch_size)]
    return torch.cat(out).float()


def cache_dir(
    work_dir: Path | str, dataset: str, train: TrainConfig, clip_seconds: float, noise_key: str = ""
) -> Path | str:
    """``<work_dir>/embeddings/<dataset>/<backbone>-<hash of what changes an embedding>``."""
    source = train.checkpoint_path or ("tiny" if train.tiny else train.model_id or "default")
    key = json.dumps([train.backbone, source, clip_seconds, noise_key])
    return storage.join(
        work_dir, "embeddings", dataset, f"{train.backbone}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    )


def cached_ids(out_dir: Path | str) -> set[str]:
    files = storage.list_files(out_dir, PART_GLOB)
    return set(storage.dataset(files).to_table(columns=["id"]).column("id").to_pylist()) if files else set()


def missing_embeddings(manifest: Path, shard_dirs: list, out_dir: Path) -> int:
    """How many clips of ``manifest`` and ``shard_dirs`` have no cached embedding in ``out_dir``."""
    done = cached_ids(out_dir)
    ids = set(read_manifest(manifest, columns=["id"]).column("id").to_pylist())
    for shard_dir in shard_dirs:
        files = storage.list_files(shard_dir)
        if files:
            ids |= set(storage.dataset(files).to_table(columns=["id"]).column("id").to_pylist())
    return len(ids - done)


def load_embeddings(out_dir: Path, wanted: dict) -> dict:
    """For each key of ``wanted`` (a list of ids), the embeddings in that order, as a tensor."""
    files = storage.list_files(out_dir, PART_GLOB)
    if not files:
        raise FileNotFoundError(f"no cached embeddings in {out_dir}; run the sweep's embedding stage")
    all_ids = [i for ids in wanted.values() for i in ids]
    table = storage.dataset(files).to_table(filter=pds.field("id").isin(all_ids))
    index = {clip_id: row for row, clip_id in enumerate(table.column("id").to_pylist())}
    missing = [i for i in all_ids if i not in index]
    if missing:
        raise FileNotFoundError(
            f"{out_dir} lacks embeddings for {len(missing)} clip(s), first: {missing[:3]}"
        )
    matrix = np.stack(table.column("embedding").to_numpy(zero_copy_only=False)).astype(np.float32)
    return {key: torch.from_numpy(matrix[[index[i] for i in ids]]) for key, ids in wanted.items()}


class Embedder:
    """Ray Data callable class: the frozen backbone, loaded once per actor."""

    def __init__(self, train_json: str, out_dir: str, sample_rate: int, clip_seconds: float,
                 noise_json: str, noise_manifest: str | None, test_ids: list[str]) -> None:  # fmt: skip
        from raysynth.train.models import build_classifier
        from raysynth.train.noise import NoiseBank

        self.model = build_classifier(TrainConfig.model_validate_json(train_json), 1, sample_rate)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device)
        self.out_dir = out_dir
        self.num_samples = int(round(sample_rate * clip_seconds))
        self.noise = NoiseConfig.model_validate_json(noise_json)
        self.bank = NoiseBank.from_manifest(noise_manifest, "test", sample_rate) if noise_manifest else None
        self.test_ids = set(test_ids)

    @torch.inference_mode()
    def embed(self, waves: np.ndarray) -> np.ndarray:
        inputs = self.model.features(waves).to(self.device)
        return self.model.embed(inputs).float().cpu().numpy()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        from raysynth.train.noise import noisy_copy, noisy_seed

        ids = list(batch["id"])
        waves = np.stack([fix_length(decode_flac(a["bytes"])[0], self.num_samples) for a in batch["audio"]])
        rows_ids, embeddings = list(ids), list(self.embed(waves))
        is_test = np.array([i in self.test_ids for i in ids], dtype=bool)
        if self.bank is not None and is_test.any():
            test_ids = [i for i, flag in zip(ids, is_test, strict=True) if flag]
            for snr in self.noise.test_snrs:
                # The same mix as the trials' noisy test sets (noise drawn per clip id).
                noisy = noisy_copy(waves[is_test], self.bank, snr, noisy_seed(snr), test_ids)
                rows_ids += [f"{i}@{snr:g}dB" for i in test_ids]
                embeddings += list(self.embed(noisy))
        name = hashlib.sha256("".join(rows_ids).encode()).hexdigest()[:16]
        table = pa.table({"id": rows_ids, "embedding": [e.astype(np.float32) for e in embeddings]})
        storage.write_table(table, storage.join(self.out_dir, f"part-{name}.parquet"))
        return {"written": [len(rows_ids)]}


def run_embedding_cache(
    manifest: Path,
    shard_dirs: list[Path],
    out_dir: Path,
    train: TrainConfig,
    sample_rate: int,
    clip_seconds: float,
    noise: NoiseConfig,
    noise_manifest: Path | None = None,
    num_gpus: float = 0.0,
    concurrency: int = 1,
    batch_size: int = 32,
) -> int:
    """Embed every clip of ``manifest`` and ``shard_dirs`` not yet in ``out_dir``; returns rows written."""
    import ray

    done = cached_ids(out_dir)
    splits = read_manifest(manifest, columns=["id", "split"]).to_pydict()
    # Test clips are also embedded noisy; their ids are few, so they travel as a list.
    test_ids = [i for i, split in zip(splits["id"], splits["split"], strict=True) if split == "test"]
    parts = [ray.data.read_parquet(str(manifest), columns=["id", "audio"])]  # a path or a URI
    for shard_dir in shard_dirs:
        files = storage.list_files(shard_dir)
        if files:
            parts.append(ray.data.read_parquet(files, columns=["id", "audio"]))
    dataset = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    if done:
        dataset = dataset.filter(lambda row: row["id"] not in done)
    out = dataset.map_batches(
        Embedder,
        fn_constructor_kwargs={
            "train_json": train.model_dump_json(),
            "out_dir": str(out_dir),
            "sample_rate": sample_rate,
            "clip_seconds": clip_seconds,
            "noise_json": noise.model_dump_json(),
            "noise_manifest": str(noise_manifest) if noise_manifest else None,
            "test_ids": test_ids if noise_manifest else [],
        },
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        num_gpus=num_gpus,
    )
    written = 0
    with Progress(f"embed {train.backbone}", None, "clips") as bar:
        for row in out.iter_rows():
            written += int(row["written"])
            bar.update(int(row["written"]))
    return written
