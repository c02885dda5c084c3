"""Scoring synthetic clips into side tables, by a Ray Data pass over the shards.

Each (recipe, scorer) pair has its own side table of Parquet parts, keyed by clip id:
``<work_dir>/quality/<dataset>/scores/<recipe hash>/<scorer key>/part-*.parquet`` with columns
``id, label, score, margin``. The scorer key hashes what makes a score (the teacher checkpoint's
path, which hashes its data and settings, or the CLAP model and the prompts). A rerun scores only
the clips not yet in the table, so generating more clips later costs only their scores. Only
training clips (split ``train``) are scored: filters never touch zero-shot validation clips.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pds

from raysynth import storage, workspace
from raysynth.storage import SHARD_GLOB

PART_GLOB = "part-*.parquet"
SCORE_SCHEMA = pa.schema(
    [("id", pa.string()), ("label", pa.string()), ("score", pa.float32()), ("margin", pa.float32())]
)


@dataclass(frozen=True)
class ScoreJob:
    """One recipe's shards scored by one scorer.

    Attributes:
        kind: ``teacher``, ``clap`` or ``asr``.
        shards: the recipe's shard folder (local or s3://); ``recipe`` its hash.
        folder: the side table.
        teacher: the teacher checkpoint (kind ``teacher``); ``fold`` the test fold it was trained for.
        template: the label-guided prompt template (kind ``clap``; for ``asr`` the words the speech
            backend says); ``prompts`` its prompts by label id, formatted by the quality stage from the
            manifest's classes (``asr``: the task's words, the non-word classes left out).
        clap_model_id, tiny: the CLAP model (kind ``clap``).
        sample_rate, num_samples: the clips' rate and length.
    """

    kind: str
    shards: str
    recipe: str
    folder: str
    sample_rate: int
    num_samples: int
    teacher: str | None = None
    fold: int | None = None
    template: str | None = None
    prompts: tuple[str, ...] = ()
    clap_model_id: str | None = None
    tiny: bool = False
    real_fraction: float = 1.0  # kind teacher: the real subset its teacher trained on (with ``seed``)
    seed: int = 0

    def describe(self) -> str:
        parts = [f"fold {self.fold}"] if self.kind == "teacher" and self.fold is not None else []
        if self.kind == "teacher" and self.real_fraction < 1:
            parts.append(f"real_fraction {self.real_fraction:g}, seed {self.seed}")
        where = f" ({', '.join(parts)})" if parts else ""
        return f"{self.kind}{where} scores of recipe {self.recipe}"


def scorer_key(kind: str, teacher: str | None, prompts: tuple[str, ...], clap_model_id: str | None,
               tiny: bool) -> str:  # fmt: skip
    what = [kind, teacher] if kind == "teacher" else [kind, clap_model_id or "default", tiny, list(prompts)]
    return f"{kind}-{hashlib.sha256(json.dumps(what).encode()).hexdigest()[:10]}"


def scores_dir(work_dir: Path | str, dataset: str, recipe: str, key: str) -> Path | str:
    return storage.join(work_dir, "quality", dataset, "scores", recipe, key)


def score_parts(folder: str | Path) -> list[str]:
    """The side table's parts (local or on a store). A part that does not read as a score table
    (damaged, truncated, foreign) is moved aside as ``corrupt-<name>``, named on stderr, and its clips
    are scored again."""
    parts = []
    for path in storage.list_files(folder, PART_GLOB):
        try:
            if not SCORE_SCHEMA.equals(storage.read_schema(path).remove_metadata()):
                raise ValueError("its columns are not a score table's")
        except (storage.StorageError, ValueError) as error:
            aside = workspace.name(workspace.move(path, f"corrupt-{workspace.name(path)}"))
            print(f"warning: score table part {path} is damaged ({str(error).splitlines()[0][:120]}); "
                  f"moved aside to {aside}, its clips are scored again", file=sys.stderr)  # fmt: skip
            continue
        parts.append(path)
    return parts


def scored_ids(folder: str | Path) -> set[str]:
    ids: set[str] = set()
    for path in score_parts(folder):
        ids.update(storage.dataset([path]).to_table(columns=["id"]).column("id").to_pylist())
    return ids


def training_ids(job: ScoreJob) -> list[str]:
    """The ids of the recipe's training clips on disk."""
    files = storage.list_files(job.shards, SHARD_GLOB)
    if not files:
        return []
    wanted = (pds.field("recipe") == job.recipe) & (pds.field("split") == "train")
    return storage.unique_ids(files, columns=["id"], filter=wanted).column("id").to_pylist()


def missing_scores(job: ScoreJob) -> int:
    return len(set(training_ids(job)) - scored_ids(job.folder))


def seconds_per_clip(folder: str | Path) -> float:
    """The mean scoring seconds of one clip of a side table (0 where its parts predate the record)."""
    from raysynth.schemas import PROVENANCE_KEY

    seconds = clips = 0.0
    for path in score_parts(folder):
        raw = (storage.read_schema(path).metadata or {}).get(PROVENANCE_KEY)
        provenance = json.loads(raw) if raw else {}
        if "seconds" in provenance:
            seconds += float(provenance["seconds"])
            clips += storage.dataset([path]).count_rows()
    return seconds / clips if clips else 0.0


def load_scores(folder: str | Path, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The score and margin of each of ``ids``, in that order.

    Raises:
        FileNotFoundError: a clip has no score (the quality stage has not scored it).
    """
    files = score_parts(folder)
    table = storage.dataset(files).to_table(filter=pds.field("id").isin(ids)) if files else None
    index = {i: row for row, i in enumerate(table.column("id").to_pylist())} if table is not None else {}
    missing = [i for i in ids if i not in index]
    if missing:
        raise FileNotFoundError(
            f"{folder} has no quality score for {len(missing)} clip(s), first: {missing[:3]}; "
            f"run the sweep (its quality stage scores them) without --no-generate"
        )
    rows = [index[i] for i in ids]
    score = table.column("score").to_numpy(zero_copy_only=False)[rows]
    margin = table.column("margin").to_numpy(zero_copy_only=False)[rows]
    return score.astype(np.float32), margin.astype(np.float32)


class ClipScorer:
    """Ray Data callable class: the scorer (a teacher or CLAP), loaded once per actor."""

    def __init__(self, job_json: str) -> None:
        fields = json.loads(job_json)
        self.job = ScoreJob(**{**fields, "prompts": tuple(fields["prompts"])})
        if self.job.kind == "teacher":
            from raysynth.quality.teacher import Teacher

            self.teacher = Teacher.load(self.job.teacher)
        elif self.job.kind == "asr":
            from raysynth.quality.asr import AsrScorer

            self.asr = AsrScorer(list(self.job.prompts))
        else:
            from raysynth.quality.clap import ClapScorer

            self.clap = ClapScorer.build(self.job.clap_model_id, self.job.tiny)

    def score(
        self, waves: np.ndarray, label_ids: np.ndarray, texts: list[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.job.kind == "asr":
            return self.asr.score(waves, self.job.sample_rate, texts)
        if self.job.kind == "clap":
            return self.clap.score(waves, self.job.sample_rate, label_ids, list(self.job.prompts))
        from raysynth.quality.filters import own_and_margin

        return own_and_margin(self.teacher.probabilities(waves), label_ids)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        """Score one work item: the listed clips of one shard file, read here (not in the driver)."""
        from raysynth.audio import decode_flac, fix_length
        from raysynth.schemas import device_name

        written = []
        for file, ids_json in zip(batch["file"], batch["ids"], strict=True):
            wanted = json.loads(str(ids_json))
            rows = storage.dataset([str(file)]).to_table(
                columns=["id", "label", "label_id", "prompt", "audio"], filter=pds.field("id").isin(wanted)
            )
            n = self.job.num_samples
            waves = np.stack(
                [fix_length(decode_flac(a["bytes"])[0], n) for a in rows.column("audio").to_pylist()]
            )
            label_ids = rows.column("label_id").to_numpy().astype(np.int64)
            start = time.perf_counter()
            score, margin = self.score(waves, label_ids, rows.column("prompt").to_pylist())
            seconds = time.perf_counter() - start
            ids = rows.column("id").to_pylist()
            table = pa.table({"id": ids, "label": rows.column("label").to_pylist(), "score": score,
                              "margin": margin}, schema=SCORE_SCHEMA)  # fmt: skip
            name = hashlib.sha256("".join(sorted(ids)).encode()).hexdigest()[:16]
            storage.write_table(
                table,
                storage.join(self.job.folder, f"part-{name}.parquet"),
                {"scorer": asdict(self.job), "seconds": seconds, "device": device_name()},
            )
            written.append(len(ids))
        return {"written": written}


def run_scoring(job: ScoreJob, concurrency: int = 1, batch_size: int = 64, num_gpus: float = 0.0) -> int:
    """Score every training clip of ``job``'s recipe not yet in its side table; returns clips scored."""
    import ray

    from raysynth.console import Progress

    done = scored_ids(job.folder)
    # Work items are (shard file, clip ids): the driver reads ids only, each actor reads its clips'
    # audio itself. No read tasks compete with CPU actors for CPUs (a read_parquet pipeline with an
    # actor per CPU waited forever for a CPU to read with, seen with 2 actors on 2 CPUs).
    items = []
    wanted = (pds.field("recipe") == job.recipe) & (pds.field("split") == "train")
    for file in storage.list_files(job.shards, SHARD_GLOB):
        ids = storage.dataset([file]).to_table(columns=["id"], filter=wanted).column("id").to_pylist()
        mine = [i for i in ids if i not in done]
        items += [
            {"file": file, "ids": json.dumps(mine[i : i + batch_size])}
            for i in range(0, len(mine), batch_size)
        ]
    todo = sum(len(json.loads(item["ids"])) for item in items)
    if not todo:
        return 0
    out = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        ClipScorer, fn_constructor_kwargs={"job_json": json.dumps(asdict(job))}, batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=concurrency), num_gpus=num_gpus, num_cpus=1,
    )  # fmt: skip
    written = 0
    with Progress(f"score {job.kind}", todo, "clips") as bar:
        for row in out.iter_rows():
            written += int(row["written"])
            bar.update(int(row["written"]))
    return written
