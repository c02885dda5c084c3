"""What a reader needs beside the numbers: caveats of toy or tiny runs, what the seeds vary, which
recipe and score tables each cell used, and the licences of the synthetic data trained on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PLUMBING_CAVEAT = "toy data and a random-weight generator: this checks the plumbing, not the science"


def caveat(record: dict) -> str:
    """One line for results that mean nothing as science: a toy dataset or a random-weight model."""
    spec = record.get("spec", {})
    toy = spec.get("dataset", {}).get("name") == "toy"
    tiny = bool(spec.get("generation", {}).get("tiny")) or bool(spec.get("train", {}).get("tiny"))
    if toy and tiny:
        return PLUMBING_CAVEAT
    if toy:
        return "toy data made in code: this checks the plumbing, not the science"
    if tiny:
        return "a random-weight (tiny) model: its clips are noise, so these numbers are not a finding"
    return ""


def experiment_notes(df: pd.DataFrame, record: dict) -> list[str]:
    """What a reader needs to read the numbers: what the seeds vary, and which recipe each cell used."""
    notes = []
    if record:
        draws = (
            " and the synthetic clips: each seed draws its own"
            if record.get("draw_per_seed", True)
            else ("; all seeds share one synthetic draw")
        )
        notes.append(
            "seed varies the training (initialisation, order, augmentation), the real subset" + draws
        )
    if "synthetic_recipe" in df:
        used = df.dropna(subset=["synthetic_recipe"]).groupby(
            ["generator", "strategy", "variant"], dropna=False
        )
        for (generator, strategy, variant), part in used:
            recipes = ", ".join(sorted(set(part["synthetic_recipe"])))
            name = "/".join(str(v) for v in (generator, strategy, variant) if v is not None and v == v)
            notes.append(f"synthetic clips of {name}: recipe {recipes} (see recipe.json beside the shards)")
        notes += licence_notes(
            sorted({str(g) for g in df.dropna(subset=["synthetic_recipe"])["generator"]}), record
        )
    if "quality_scores" in df:
        for quality_filter, part in df.dropna(subset=["quality_scores"]).groupby("quality_filter"):
            tables = ", ".join(
                sorted({Path(f).name for fs in part["quality_scores"] for f in str(fs).split(";")})
            )
            notes.append(
                f"quality_filter {quality_filter}: scores of {tables} (the scorer keys of the side tables)"
            )
    return notes


def licence_notes(generators: list[str], record: dict) -> list[str]:
    """The licences of the synthetic data the experiment trained on: each engine's and its model's or
    voices' (a merged generator lists each of its engines)."""
    from raysynth.generators import BACKENDS, engines_of

    tiny = bool((record.get("spec") or {}).get("generation", {}).get("tiny"))
    notes = []
    for engine in dict.fromkeys(e for g in generators for e in engines_of(g)):
        licences = dict(BACKENDS[engine].licences) if engine in BACKENDS else {}
        if tiny:
            licences["voice"] = "random weights built in code (tiny): no model licence"
        text = "; ".join(f"{k} {v}" for k, v in licences.items()) or "not recorded"
        notes.append(f"licences of the {engine} clips: {text}")
    return notes
