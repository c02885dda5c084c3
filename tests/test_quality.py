"""Synthetic-data quality: the Fréchet distance, diversity, filters, the teacher, CLAP scores and the
scoring pass (issue 13)."""

import numpy as np
import pytest
import scipy.linalg

from raysynth.quality.fad import (
    diversity,
    frechet_distance,
    frechet_distance_of,
    mean_pairwise_distance,
    near_duplicates,
    per_class_fad,
)
from raysynth.quality.filters import QualityShortfall, parse_filter, pool_count, select


def scipy_frechet(mu1, s1, mu2, s2) -> float:
    """The textbook formula through ``scipy.linalg.sqrtm`` of the product (independent of ours)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def random_spd(rng, d: int, condition: float = 10.0) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (q * np.linspace(1.0, condition, d)) @ q.T


def test_frechet_distance_matches_the_closed_form_of_two_gaussians():
    rng = np.random.default_rng(0)
    # Commuting covariances (same eigenvectors): FD = |dmu|^2 + sum (sqrt(a) - sqrt(b))^2.
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    a, b = rng.uniform(0.1, 5, 6), rng.uniform(0.1, 5, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    closed = float(((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    got = frechet_distance(mu1, (q * a) @ q.T, mu2, (q * b) @ q.T)
    assert got == pytest.approx(closed, rel=1e-3)
    assert got == pytest.approx(closed, rel=1e-9)  # in fact to round-off
    # One dimension: (m1 - m2)^2 + (s1 - s2)^2.
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0, rel=1e-12)


def test_frechet_distance_matches_scipy_where_that_is_well_conditioned():
    rng = np.random.default_rng(1)
    for d in (2, 8, 32):
        s1, s2 = random_spd(rng, d), random_spd(rng, d)
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(scipy_frechet(mu1, s1, mu2, s2), rel=1e-6)


def test_frechet_distance_of_samples_converges_to_the_closed_form():
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 1.0, size=(200_000, 2))
    y = rng.normal(0.5, 2.0, size=(200_000, 2))
    closed = 2 * 0.5**2 + 2 * (1.0 - 2.0) ** 2
    assert frechet_distance_of(x, y) == pytest.approx(closed, rel=1e-2)


def test_a_set_against_itself_is_zero_and_rank_deficient_sets_stay_real():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 16))
    assert frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-8)
    # Fewer clips than dimensions (as per-class sets are): scipy's sqrtm of the product goes
    # complex or inaccurate; ours stays a finite, non-negative real number.
    few, other = rng.normal(size=(10, 64)), rng.normal(size=(12, 64)) + 0.1
    value = frechet_distance_of(few, other)
    assert np.isfinite(value) and value >= 0
    assert frechet_distance_of(few, few) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"means of shape \(2,\)"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_per_class_fad_and_diversity():
    rng = np.random.default_rng(4)
    a = np.concatenate([rng.normal(0, 1, (50, 4)), rng.normal(5, 1, (50, 4))])
    labels = np.array([0] * 50 + [1] * 50)
    per = per_class_fad(a, labels, a, labels)
    assert set(per) == {0, 1} and all(v == pytest.approx(0.0, abs=1e-8) for v in per.values())
    # Mean pairwise distance, against scipy's pdist.
    import scipy.spatial.distance as distance

    x = rng.normal(size=(20, 3))
    assert mean_pairwise_distance(x) == pytest.approx(distance.pdist(x).mean(), rel=1e-9)
    # Near-duplicates: 3 copies of one row (with a tiny jitter) among distinct rows.
    dup = np.concatenate([np.tile(x[:1], (3, 1)) + 1e-6, x[1:]])
    assert near_duplicates(dup) == 3 and near_duplicates(x, 0.9999) == 0
    stats = diversity(dup, np.zeros(len(dup), int))
    assert stats["near_duplicates"] == 3 and stats["diversity"] > 0


def test_quality_filter_values_parse_or_name_the_forms():
    assert parse_filter("none") is None and parse_filter(None) is None
    f = parse_filter("clap_threshold:0.3")
    assert (f.score, f.rule, f.value) == ("clap", "threshold", 0.3)
    for bad in (
        "teacher_top_fraction:0",
        "teacher_top_fraction:1.5",
        "clip_threshold:0.3",
        "teacher",
        "clap_best:2",
    ):
        with pytest.raises(ValueError, match="quality_filter|top_fraction|threshold"):
            parse_filter(bad)
    assert pool_count(5, parse_filter("teacher_top_fraction:0.5"), 2.0) == 10
    assert pool_count(5, parse_filter("teacher_top_fraction:0.3"), 2.0) == 17
    assert pool_count(5, parse_filter("teacher_threshold:0.5"), 3.0) == 15
    assert pool_count(5, None, 3.0) == 5


def test_select_keeps_the_best_per_class_or_the_first_passing_by_index():
    labels = ["a"] * 4 + ["b"] * 4
    index = [0, 1, 2, 3] * 2
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.2, 0.3, 0.8, 0.1], np.float32)
    rows, kept, rejected = select(
        labels, index, scores, {"a": 2, "b": 2}, parse_filter("teacher_top_fraction:0.5")
    )
    assert rows.tolist() == [1, 3, 5, 6]  # a: the two 0.9s (ties by index); b: 0.8 and 0.3
    assert kept == {"a": 2, "b": 2} and rejected == {"a": 2, "b": 2}
    rows, kept, rejected = select(
        labels, index, scores, {"a": 1, "b": 1}, parse_filter("teacher_threshold:0.25")
    )
    assert rows.tolist() == [1, 5] and rejected == {"a": 3, "b": 3}
    with pytest.raises(QualityShortfall, match=r"'b' 1/2 of 4 candidates.*quality.oversample"):
        select(labels, index, scores, {"a": 2, "b": 2}, parse_filter("teacher_threshold:0.5"))


# --- The teacher, the scorers and the scoring pass ------------------------------------------------

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from raysynth.testing import dummy_manifest, dummy_shard  # noqa: E402


def corrupt_roles(manifest, roles=("valid", "test")):
    """Replace the audio of the given splits with bytes that do not decode: reading them fails."""
    table = pq.read_table(manifest)
    rows = table.to_pylist()
    for row in rows:
        if row["split"] in roles:
            row["audio"] = {"bytes": b"not audio", "path": None}
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), manifest)
    return manifest


def trained_teacher(tmp_path, epochs=15):
    from raysynth.quality.teacher import TeacherPlan, train_teacher

    manifest = corrupt_roles(
        dummy_manifest(tmp_path / "m.parquet", per_split={"train": 8, "valid": 2, "test": 2})
    )
    plan = TeacherPlan(str(tmp_path / "teacher" / "fold-None.pt"), str(manifest), None, 16000, 1.0, 32, epochs,
                       batch_size=8)  # fmt: skip
    return manifest, plan, train_teacher(plan)


def test_the_teacher_trains_on_the_training_split_only(tmp_path):
    """Its validation and test clips do not even decode, so a teacher that read one would fail."""
    from raysynth.quality.teacher import Teacher

    _, plan, summary = trained_teacher(tmp_path)
    assert summary["clips"] == 4 * 8 and summary["classes"] == 4 and summary["train_acc"] > 0.5
    teacher = Teacher.load(plan.path)
    waves = np.stack([dummy_clip_wave(label, 3) for label in ("beep", "chirp")])
    probs = teacher.probabilities(waves)
    assert probs.shape == (2, 4) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert teacher.embed(waves).shape == (2, 256)
    assert not list((tmp_path / "teacher").glob(".tmp-*"))


def dummy_clip_wave(label, seed):
    from raysynth.testing import dummy_clip

    return dummy_clip(label, seed=seed)


def score_job(tmp_path, kind, teacher=None):
    from raysynth.quality.scoring import ScoreJob

    prompts = tuple(f"{label} sound" for label in ("beep", "chirp", "click train", "noise burst"))
    return ScoreJob(kind, shards=str(tmp_path / "shards"), recipe="dummy", folder=str(tmp_path / f"scores-{kind}"),
                    sample_rate=16000, num_samples=16000, teacher=teacher, prompts=prompts, tiny=True)  # fmt: skip


@pytest.mark.e2e
def test_the_scoring_pass_scores_every_training_clip_once_and_a_rerun_only_new_ones(ray_session, tmp_path):
    from raysynth.quality.scoring import load_scores, run_scoring, scored_ids, training_ids

    _, plan, _ = trained_teacher(tmp_path)
    dummy_shard(tmp_path / "shards" / "part-0.parquet", clips_per_class=3, valid_per_class=2)
    teacher_job, clap_job = score_job(tmp_path, "teacher", plan.path), score_job(tmp_path, "clap")
    # Two CPU actors on the 2-CPU session Ray: they leave room for the read tasks (they once waited forever).
    assert run_scoring(teacher_job, batch_size=5) == 12 and run_scoring(clap_job, 2, batch_size=5) == 12
    # More clips of the same recipe: only they are scored (validation clips never are).
    (tmp_path / "shards" / "part-0.parquet").unlink()
    dummy_shard(tmp_path / "shards" / "part-1.parquet", clips_per_class=5, valid_per_class=2)
    assert run_scoring(teacher_job, batch_size=5) == 8 and run_scoring(teacher_job) == 0
    ids = training_ids(teacher_job)
    parts = pq.read_table(sorted((tmp_path / "scores-teacher").glob("part-*.parquet")))
    assert sorted(parts.column("id").to_pylist()) == sorted(ids) and len(ids) == 20
    assert scored_ids(teacher_job.folder) == set(ids) and not any("/valid/" in i for i in ids)
    # The teacher's score is its probability of the clip's own label, the margin over the best other.
    from raysynth.quality.teacher import Teacher

    score, margin = load_scores(teacher_job.folder, ids[:4])
    table = pq.read_table(tmp_path / "shards" / "part-1.parquet").to_pylist()
    rows = {r["id"]: r for r in table}
    from raysynth.audio import decode_flac

    waves = np.stack([decode_flac(rows[i]["audio"]["bytes"])[0] for i in ids[:4]])
    probs = Teacher.load(plan.path).probabilities(waves)
    own = probs[np.arange(4), [rows[i]["label_id"] for i in ids[:4]]]
    assert np.allclose(score, own, atol=1e-5)
    assert np.all(margin <= score) and np.all(margin >= -1)
    with pytest.raises(FileNotFoundError, match="no quality score for 1 clip"):
        load_scores(teacher_job.folder, ["synth/dummy/0/beep/train/99"])


def test_tiny_clap_scores_are_deterministic_with_the_margin_over_the_best_other_label():
    from raysynth.quality.clap import ClapScorer

    waves = np.stack([dummy_clip_wave(label, 1) for label in ("beep", "chirp", "beep")])
    prompts = ["beep sound", "chirp sound", "siren sound"]
    first = ClapScorer.build(tiny=True).score(waves, 16000, np.array([0, 1, 2]), prompts)
    second = ClapScorer.build(tiny=True).score(waves, 16000, np.array([0, 1, 2]), prompts)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    scorer = ClapScorer.build(tiny=True)
    similarity = (scorer.audio_embeddings(waves, 16000) @ scorer.text_embeddings(prompts).T).numpy()
    assert np.allclose(first[0], np.diag(similarity), atol=1e-6)
    others = np.where(np.eye(3, dtype=bool), -np.inf, similarity).max(axis=1)
    assert np.allclose(first[1], np.diag(similarity) - others, atol=1e-6)


def test_an_unreachable_clap_model_names_how_to_get_it(monkeypatch):
    from raysynth.quality.clap import ClapLoadError, ClapScorer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ClapLoadError, match="huggingface-cli download laion/clap-htsat-unfused"):
        ClapScorer.build()


# --- The filter in the mixture sampler -------------------------------------------------------------


def filtered_context(tmp_path, scores_by_index, oversample=2.0):
    from raysynth.config import QualityConfig, TrainConfig
    from raysynth.quality.scoring import SCORE_SCHEMA
    from raysynth.train import SyntheticSource, TrialContext
    from raysynth.train.context import ScoreTable

    manifest = dummy_manifest(tmp_path / "m.parquet", per_split={"train": 5, "valid": 2, "test": 2})
    shard = dummy_shard(tmp_path / "s" / "part-0.parquet", clips_per_class=15)
    rows = pq.read_table(shard, columns=["id", "label", "index"]).to_pylist()
    table = pa.table({"id": [r["id"] for r in rows], "label": [r["label"] for r in rows],
                      "score": [scores_by_index(r["index"]) for r in rows], "margin": [0.0] * len(rows)},
                     schema=SCORE_SCHEMA)  # fmt: skip
    (tmp_path / "scores").mkdir()
    pq.write_table(table, tmp_path / "scores" / "part-0.parquet")
    return TrialContext(
        str(manifest), 16000, 1.0, TrainConfig(epochs=1), quality=QualityConfig(oversample=oversample),
        synthetic=(SyntheticSource(str(tmp_path / "s"), "dummy", "dummy", "label"),),
        # the table of the teacher of the trials' own real subset (real_fraction 0.4, seed 0)
        scores=(ScoreTable("dummy", "teacher", None, str(tmp_path / "scores"), (0.4, 0)),),
    )  # fmt: skip


def test_a_top_fraction_trial_keeps_m_times_n_of_the_best_candidates(tmp_path):
    from raysynth.train import build_mixture

    context = filtered_context(tmp_path, lambda index: float(index % 3 == 0) + index / 100)
    config = {"real_fraction": 0.4, "synth_multiplier": 1, "strategy": "label", "seed": 0}
    mixture = build_mixture({**config, "quality_filter": "teacher_top_fraction:0.5"}, context)
    # n = 5 real training clips per class, so 5 kept of a pool of 10 (indices 0-9) per class: the
    # multiples of 3 (0, 3, 6, 9), then the best of the rest (8).
    synthetic = [i for i in mixture.train.ids if i.startswith("synth/")]
    assert mixture.num_synthetic == len(synthetic) == 4 * 5
    assert sorted({int(i.rsplit("/", 1)[1]) for i in synthetic}) == [0, 3, 6, 8, 9]
    assert mixture.quality_kept == {label: 5 for label in mixture.class_names}
    assert mixture.quality_rejected == {label: 5 for label in mixture.class_names}
    unfiltered = build_mixture({**config, "quality_filter": "none"}, context)
    assert sorted({int(i.rsplit("/", 1)[1]) for i in unfiltered.train.ids if i.startswith("synth/")}) == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert unfiltered.quality_kept is None


def test_a_threshold_keeps_the_first_passing_clips_or_says_what_is_short(tmp_path):
    from raysynth.quality.filters import QualityShortfall
    from raysynth.train import build_mixture

    context = filtered_context(tmp_path, lambda index: 0.9 if index % 2 else 0.1, oversample=3.0)
    config = {"real_fraction": 0.4, "synth_multiplier": 1, "strategy": "label", "seed": 0}
    mixture = build_mixture({**config, "quality_filter": "teacher_threshold:0.5"}, context)
    synthetic = [i for i in mixture.train.ids if i.startswith("synth/")]
    assert sorted({int(i.rsplit("/", 1)[1]) for i in synthetic}) == [1, 3, 5, 7, 9]
    assert mixture.quality_rejected == {label: 10 for label in mixture.class_names}  # pool of 15
    with pytest.raises(QualityShortfall, match="keeps too few clips: 'beep' 0/5 of 15 candidates"):
        build_mixture({**config, "quality_filter": "teacher_threshold:0.95"}, context)


# --- The filter axis in a spec ---------------------------------------------------------------------


def quality_spec(**grid):
    from raysynth.config import parse_spec

    return parse_spec({"name": "q", "dataset": {"name": "toy"}, "generation": {"tiny": True},
                       "quality": {"oversample": 3.0},
                       "grid": {"real_fraction": [0.5, 1.0], "synth_multiplier": [0, 1], **grid}},
                      source="q.yaml")  # fmt: skip


def test_the_filter_axis_makes_cells_pools_teachers_and_score_tables(tmp_path):
    from raysynth.inputs import resolve

    spec = quality_spec(quality_filter=["none", "teacher_top_fraction:0.5", "clap_threshold:0.2"])
    r = resolve(spec, None, tmp_path)
    filters = sorted({str(c["quality_filter"]) for c in r.cells})
    assert len(r.cells) == 2 + 2 * 3 and filters == [
        "None",
        "clap_threshold:0.2",
        "none",
        "teacher_top_fraction:0.5",
    ]
    (job,) = r.generation
    # The largest candidate pool: 3 x n for the threshold (oversample), 2 x n for the top half.
    from raysynth.inputs.synthetic import pool_size

    assert pool_size(job, 10) == 30
    # One teacher per (fold, real subset): the real_fraction 0.5 cells' own half, and the whole split.
    assert [(t.fold, t.real_fraction, t.seed) for t in r.teachers] == [(None, 0.5, 0), (None, 1.0, 0)]
    assert sorted(j.kind for j in r.score_jobs) == ["clap", "teacher", "teacher"]
    assert all(j.recipe == job.recipe_hash for j in r.score_jobs)


def test_other_teacher_settings_or_another_recipe_never_reuse_scores(tmp_path):
    """A score table is named by the recipe it scores and the scorer that made it."""
    from raysynth.config import parse_spec
    from raysynth.inputs import resolve

    def folders(**changes):
        raw = {"name": "q", "dataset": {"name": "toy"}, "generation": {"tiny": True, **changes.get("generation", {})},
               "quality": {"teacher_epochs": changes.get("epochs", 10)},
               "grid": {"real_fraction": 1.0, "synth_multiplier": 1, "quality_filter": "teacher_top_fraction:0.5"}}  # fmt: skip
        r = resolve(parse_spec(raw), None, tmp_path)
        return r.teachers[0].path, r.score_jobs[0].folder

    base = folders()
    assert folders() == base
    epochs = folders(epochs=11)
    assert epochs[0] != base[0] and epochs[1] != base[1]
    recipe = folders(generation={"top_k": 10})
    assert recipe[0] == base[0] and recipe[1] != base[1]


def test_a_malformed_filter_names_the_file_and_the_key():
    from raysynth.config import SpecError

    with pytest.raises(SpecError, match=r"(?s)q.yaml: .*grid.quality_filter.*'<score>_top_fraction:<f>'"):
        quality_spec(quality_filter=["teacher_best:0.5"])
    with pytest.raises(SpecError, match="filters synthetic clips, but every grid.synth_multiplier is 0"):
        quality_spec(quality_filter=["teacher_top_fraction:0.5"], synth_multiplier=0)


# --- The report's quality section ------------------------------------------------------------------


def test_the_fad_section_correlates_cell_means_with_spearman():
    import pandas as pd
    import scipy.stats

    from raysynth.report.quality import fad_cells, fad_correlation, filter_counts

    rows = []
    for cell, (fad, acc) in enumerate([(1.0, 0.9), (2.0, 0.7), (3.0, 0.8), (4.0, 0.5)]):
        for fold in (1, 2):
            rows.append({"status": "completed", "variant": f"v{cell}", "fold": fold, "quality_filter": "none",
                         "fad": fad + fold / 10, "selected_test_acc": acc, "diversity": 1.0, "near_duplicates": 0,
                         "kept/a": 3, "rejected/a": 1})  # fmt: skip
    df = pd.DataFrame(rows)
    cells = fad_cells(df, "selected_test_acc")
    assert len(cells) == 4 and cells["n"].tolist() == [2, 2, 2, 2]
    assert cells["fad"].tolist() == pytest.approx([1.15, 2.15, 3.15, 4.15])
    rho, n, sentence = fad_correlation(cells, "selected_test_acc")
    expected = scipy.stats.spearmanr([1, 2, 3, 4], [0.9, 0.7, 0.8, 0.5]).statistic
    assert rho == pytest.approx(expected) and n == 4 and "n = 4 cells" in sentence
    assert fad_correlation(cells.head(2), "selected_test_acc")[0] is None
    counts = filter_counts(df)
    assert counts["a"].tolist() == ["6 / 2"] * 4 and counts["trials"].tolist() == [2] * 4
    from raysynth.report.quality import teacher_warning

    assert teacher_warning(df.assign(real_fraction=1.0)) == ""
    zero_shot = df.assign(real_fraction=0.0, quality_filter="teacher_top_fraction:0.5")
    assert teacher_warning(zero_shot).startswith(
        "8 trial(s) with real_fraction 0 filter on the teacher score"
    )


# --- A trial's measures ----------------------------------------------------------------------------


def test_measuring_fad_changes_no_number_of_the_trial(tmp_path):
    """The teacher that embeds the clips is built inside the trial; it must not draw from the trial's
    random state (it did: with quality.measure on, the trial's initialisation changed)."""
    from dataclasses import replace

    from raysynth.config import QualityConfig, TrainConfig
    from raysynth.quality.fad import frechet_distance_of
    from raysynth.quality.teacher import Teacher
    from raysynth.train import SyntheticSource, TrialContext, run_trial

    manifest, plan, _ = trained_teacher(tmp_path)
    manifest = dummy_manifest(tmp_path / "m2.parquet", per_split={"train": 8, "valid": 2, "test": 2})
    dummy_shard(tmp_path / "s" / "part-0.parquet", clips_per_class=8)
    context = TrialContext(
        str(manifest), 16000, 1.0, TrainConfig(epochs=2, batch_size=8, n_mels=32),
        synthetic=(SyntheticSource(str(tmp_path / "s"), "dummy", "dummy", "label"),),
        teachers=((None, plan.path),),
    )  # fmt: skip
    config = {"real_fraction": 0.5, "synth_multiplier": 1, "strategy": "label", "seed": 0}
    runs = {}
    for measure in (False, True):
        reported = []
        trial_context = replace(context, quality=QualityConfig(measure=measure))
        run_trial(config, trial_context, lambda metrics, state, out=reported: out.append(dict(metrics)))
        runs[measure] = reported
    for key in ("train_loss", "valid_loss", "test_acc", "selected_test_acc"):
        assert [m[key] for m in runs[True]] == [m[key] for m in runs[False]], key
    measured = runs[True][-1]
    assert "fad" not in runs[False][-1] and measured["fad_embedding"] == "teacher"
    # The FAD is the synthetic training clips' (8 per class) against the full real training split.
    from raysynth.train import build_mixture
    from raysynth.train.data import decode_rows, load_real

    mixture = build_mixture(config, context)
    teacher = Teacher.load(plan.path)
    real = decode_rows(load_real(manifest, 1.0, 0).train, 16000, 16000)
    expected = frechet_distance_of(
        teacher.embed(mixture.train.waves[mixture.num_real :]), teacher.embed(real.waves)
    )
    assert measured["fad"] == pytest.approx(expected, rel=1e-6) and len(real) == 4 * 8
    assert set(measured["fad_per_class"]) == set(mixture.class_names)
    assert measured["diversity"] > 0 and measured["real_diversity"] > 0


def test_the_run_summary_table_averages_over_folds_and_shows_the_filter():
    """The run's own table used to put ``fold`` in a column (n=1 per fold, nothing averaged)."""
    from raysynth.cli import smoke_spec
    from raysynth.config import load_spec
    from raysynth.inputs import table_axes, trial_cells

    from conftest import REPO_ROOT

    quality = trial_cells(load_spec(REPO_ROOT / "search_spaces" / "fsdd_tts_quality.yaml"))
    assert len(quality) == 12 and table_axes(quality) == (["variant"], ["quality_filter"])
    smoke = trial_cells(load_spec(smoke_spec()))
    assert len(smoke) == 6 and table_axes(smoke) == (
        ["real_fraction"],
        ["synth_multiplier", "quality_filter"],
    )


@pytest.mark.parametrize("embedding", ["clap", "ast", "whisper", "speech_embedding"])
def test_every_fad_embedding_gives_one_vector_per_clip(embedding):
    from raysynth.config import QualityConfig, TrainConfig
    from raysynth.quality.measure import embedder
    from raysynth.train import TrialContext

    context = TrialContext(
        "m.parquet", 16000, 1.0, TrainConfig(), quality=QualityConfig(embedding=embedding, tiny=True)
    )
    waves = np.stack([dummy_clip_wave(label, i) for i, label in enumerate(["beep", "chirp", "beep"])])
    first, second = embedder(context, None)(waves), embedder(context, None)(waves)
    assert first.shape[0] == 3 and first.ndim == 2 and np.isfinite(first).all()
    assert np.allclose(first, second, atol=1e-5)  # tiny models: the same random weights in every process
    if embedding == "speech_embedding":  # the real frozen model: mean and max of its 96-d frames
        assert first.shape == (3, 192) and not np.allclose(first[0], first[1])


def test_a_teacher_of_a_re_prepared_manifest_is_refused_not_reused(tmp_path):
    """A teacher's path names its manifest's recipe, not its bytes: one trained before the corpus was
    prepared again would score the new clips silently. It is refused, naming what to delete."""
    from raysynth.quality.teacher import StaleTeacher, check_teacher

    manifest, plan, _ = trained_teacher(tmp_path, epochs=1)
    assert check_teacher(plan)
    dummy_manifest(manifest, per_split={"train": 9, "valid": 2, "test": 2})  # prepared again, same path
    with pytest.raises(StaleTeacher, match="trained on another version of .* delete"):
        check_teacher(plan)


def test_own_score_and_margin_of_one_class_is_finite():
    from raysynth.quality.filters import own_and_margin

    own, margin = own_and_margin(np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]), np.array([0, 1]))
    assert own.tolist() == pytest.approx([0.7, 0.3]) and margin.tolist() == pytest.approx([0.5, -0.3])
    assert own_and_margin(np.array([[1.0], [1.0]]), np.array([0, 0]))[1].tolist() == [0.0, 0.0]
