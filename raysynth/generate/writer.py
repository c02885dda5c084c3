"""The generation actor: one generator loaded per actor, one Parquet shard written per chunk of the plan.

Each input row is one batch (a chunk of the plan). The actor turns a chunk into audio, regenerates
bad clips with the next seeds, resamples to the dataset's rate, encodes FLAC and writes one shard
through an atomic rename, so a shard is visible only when complete.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pyarrow as pa

from raysynth import storage
from raysynth.audio import encode_flac, resample
from raysynth.config import GenerationConfig
from raysynth.generate.faults import chaos, clip_problem
from raysynth.generate.plan import attempt_seed
from raysynth.schemas import SYNTH_SHARD_SCHEMA, class_names_of, device_name, with_hf_features


class ShardWriter:
    """Ray Data callable class: one generator per actor, one shard per input chunk."""

    def __init__(
        self,
        config_json: str,
        out_dir: str,
        sample_rate: int,
        provenance: dict,
        class_names: list[str] | None = None,
    ) -> None:
        from raysynth.generators import build_generator

        self.config = GenerationConfig.model_validate_json(config_json)
        self.generator = build_generator(self.config)
        self.out_dir = out_dir
        self.sample_rate = sample_rate
        # The device the clips were made on: on a GPU its type is part of what fixes their numbers.
        self.provenance = {**provenance, "device": device_name()}
        self.class_names = class_names or []
        self.oom_splits = 0

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        out: dict[str, list] = {
            "shard": [],
            "clips": [],
            "rejected": [],
            "cut": [],
            "sped_up": [],
            "gen_seconds": [],
        }
        for chunk_json in batch["chunk"]:
            rows = json.loads(chunk_json)
            chaos(rows, "batch")
            start = time.perf_counter()
            waves = self.generate_split_on_oom([r["prompt"] for r in rows], [r["seed"] for r in rows])
            kept, kept_waves, rejected = self.guard(rows, waves)
            elapsed = time.perf_counter() - start
            path = self.write(kept, kept_waves, elapsed / len(rows)) if kept else None
            records = [self.params_of(row) for row in kept]
            out["shard"].append(str(path) if path else "")
            out["clips"].append(len(kept))
            out["rejected"].append(rejected)
            out["cut"].append(sum(r.get("cut_s", 0) > 0 for r in records))
            out["sped_up"].append(sum(r.get("speedups", 0) > 0 for r in records))
            out["gen_seconds"].append(elapsed)
        return out

    def generate_split_on_oom(self, prompts: list[str], seeds: list[int]) -> list[np.ndarray]:
        """Generate a batch; on out-of-memory, free the cache and retry each half, down to single clips.

        Not on a GPU, where a clip's id names its batch (:func:`raysynth.generators.pins_batches`):
        halves would store other audio under those ids, so the run stops and says what to change.
        """
        import torch

        from raysynth.generators import GeneratorError, pins_batches

        try:
            return self.generator.generate(prompts, seeds, self.config.duration_s)
        except torch.OutOfMemoryError:
            if pins_batches(self.config):
                raise GeneratorError(
                    f"{self.config.generator} ran out of memory at a batch of {len(prompts)} on a GPU; its clips "
                    f"are named by their batch there (half precision changes with the batch), so it is not split: "
                    f"lower generation.batch_size (a new recipe) or use a GPU with more memory"
                ) from None
            if len(prompts) == 1:
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(prompts) // 2
            self.oom_splits += 1
            return self.generate_split_on_oom(prompts[:half], seeds[:half]) + self.generate_split_on_oom(
                prompts[half:], seeds[half:]
            )

    def guard(self, rows: list[dict], waves: list[np.ndarray]) -> tuple[list[dict], list[np.ndarray], int]:
        """Regenerate NaN, silent or clipped clips with the next seeds; drop (and count) what stays bad.

        A regenerated clip keeps its planned id and seed; ``attempt`` records how many new seeds it
        took (the audio is that of :func:`attempt_seed`). A speech backend whose policy redraws
        speech too long for the clip (``truncation: redraw``) has such clips drawn again too.
        """
        overran = getattr(self.generator, "overran", lambda prompt, seed: False)

        def problem_of(row: dict, wave: np.ndarray, attempt: int) -> str | None:
            problem = clip_problem(wave)
            if problem is None and overran(row["prompt"], attempt_seed(row["seed"], attempt)):
                return "cut"
            return problem

        kept_rows, kept_waves, rejected = [], [], 0
        for row, wave in zip(rows, waves, strict=True):
            attempt = 0
            while (
                problem := problem_of(row, wave, attempt)
            ) is not None and attempt < self.config.max_regenerations:
                attempt += 1
                wave = self.generate_split_on_oom([row["prompt"]], [attempt_seed(row["seed"], attempt)])[0]
            if problem is None:
                kept_rows.append({**row, "attempt": attempt})
                kept_waves.append(wave)
            else:
                rejected += 1
        return kept_rows, kept_waves, rejected

    def params_of(self, row: dict) -> dict:
        """The values a kept clip was made with, for its row: a speech backend's as the clip was said
        (sped up, cut: ``clip_record``), else as drawn (``clip_params``), else none."""
        values = getattr(self.generator, "clip_record", None) or getattr(self.generator, "clip_params", None)
        return values(row["prompt"], attempt_seed(row["seed"], row["attempt"])) if values else {}

    def write(self, rows: list[dict], waves: list[np.ndarray], seconds_per_clip: float) -> str:
        records = []
        for row, wave in zip(rows, waves, strict=True):
            wave = resample(wave, self.generator.sample_rate, self.sample_rate)
            params = self.params_of(row)
            records.append(
                {
                    **row,
                    "params": json.dumps(params, sort_keys=True),
                    "sample_rate": self.sample_rate,
                    "num_samples": int(wave.size),
                    "audio": {"bytes": encode_flac(wave, self.sample_rate), "path": f"{row['id']}.flac"},
                    "gen_seconds": seconds_per_clip,
                }
            )
        name = hashlib.sha256("".join(row["id"] for row in rows).encode()).hexdigest()[:16]
        table = pa.Table.from_pylist(records, schema=SYNTH_SHARD_SCHEMA)
        names = self.class_names or class_names_of((r["label_id"], r["label"]) for r in records)
        table = with_hf_features(table, self.sample_rate, names)
        chaos(rows, "write")
        return storage.write_table(table, storage.join(self.out_dir, f"part-{name}.parquet"), self.provenance)
