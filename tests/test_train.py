import copy
import dataclasses

import numpy as np
import pytest

from raysynth.config import TrainConfig
from raysynth.testing import TOY_LABELS, dummy_manifest, dummy_shard
from raysynth.train import NaNLossError, SyntheticSource, TrialContext, build_mixture, run_trial
from raysynth.train.data import load_synthetic
from raysynth.train.metrics import classification_metrics


def test_metrics_match_hand_computation():
    targets = np.array([0, 0, 1, 1, 2, 2])
    predictions = np.array([0, 1, 1, 1, 2, 0])
    m = classification_metrics(targets, predictions, 3)
    assert m["acc"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx([0.5, 2 / 3, 1.0])
    assert m["recall"] == pytest.approx([0.5, 1.0, 0.5])
    f1 = [0.5, 0.8, 2 / 3]
    assert m["macro_f1"] == pytest.approx(np.mean(f1))
    assert m["confusion"][2] == [1, 0, 1]


@pytest.fixture
def context(tmp_path):
    manifest = dummy_manifest(
        tmp_path / "toy" / "manifest.parquet", per_split={"train": 10, "valid": 2, "test": 3}
    )
    shards = tmp_path / "synthetic"
    dummy_shard(shards / "part-0.parquet", clips_per_class=12, valid_per_class=3)
    train = TrainConfig(epochs=2, batch_size=8, n_mels=32, synthetic_valid_per_class=3)
    source = SyntheticSource(str(shards), "dummy", "dummy", "label")
    return TrialContext(str(manifest), 16000, 1.0, train, synthetic=(source,))


def config(real_fraction, multiplier, seed=0):
    return {"real_fraction": real_fraction, "synth_multiplier": multiplier, "strategy": "label", "seed": seed}


def test_mixture_counts(context):
    mix = build_mixture(config(0.5, 1), context)
    assert (mix.num_real, mix.num_synthetic) == (4 * 5, 4 * 10)
    assert len(mix.train) == 60 and len(mix.valid) == 8 and len(mix.test) == 12
    assert mix.train.waves.shape == (60, 16000)
    assert sorted(np.unique(mix.train.labels, return_counts=True)[1]) == [15] * 4


def test_zero_shot_validates_on_synthetic_clips_made_on_top(context):
    mix = build_mixture(config(0.0, 1), context)
    assert mix.num_real == 0 and mix.num_synthetic == 4 * 10  # all of m x n: validation comes on top
    assert len(mix.valid) == 4 * 3 and all("/valid/" in i for i in mix.valid.ids)
    assert not set(mix.valid.ids) & set(mix.train.ids)


def test_missing_synthetic_clips_are_reported(context):
    with pytest.raises(FileNotFoundError, match="lacks synthetic clips"):
        build_mixture(config(1.0, 2), context)


def test_nothing_to_train_on(context):
    with pytest.raises(ValueError, match="nothing to train on"):
        build_mixture(config(0.0, 0), context)


def test_synthetic_selection_is_nested_and_keeps_to_its_recipe_and_draw(tmp_path):
    dummy_shard(tmp_path / "part-0.parquet", clips_per_class=6)
    dummy_shard(tmp_path / "part-1.parquet", clips_per_class=6, recipe="other")
    dummy_shard(tmp_path / "part-2.parquet", clips_per_class=6, draw_seed=1)
    small = load_synthetic(tmp_path, "dummy", 0, {label: 2 for label in TOY_LABELS})
    large = load_synthetic(tmp_path, "dummy", 0, {label: 4 for label in TOY_LABELS})
    assert set(small.column("id").to_pylist()) < set(large.column("id").to_pylist())
    assert set(large.column("recipe").to_pylist()) == {"dummy"} and set(
        large.column("draw_seed").to_pylist()
    ) == {0}
    other = load_synthetic(tmp_path, "dummy", 1, {label: 4 for label in TOY_LABELS})
    assert not set(other.column("id").to_pylist()) & set(large.column("id").to_pylist())


def test_run_trial_reports_every_epoch_and_is_deterministic(context):
    reports = []
    last = run_trial(config(1.0, 1), context, lambda m, s: reports.append(m))
    assert [r["epoch"] for r in reports] == [1, 2]
    for key in (
        "train_loss",
        "valid_acc",
        "test_acc",
        "test_macro_f1",
        "selected_test_acc",
        "selected_epoch",
    ):
        assert key in last
    assert set(last["selected_test_precision"]) == set(TOY_LABELS)
    again = run_trial(config(1.0, 1), context, lambda m, s: None)
    assert again["train_loss"] == pytest.approx(last["train_loss"], rel=1e-5)


def test_nan_loss_stops_with_reason(context):
    bad = dataclasses.replace(
        context, train=TrainConfig(epochs=1, batch_size=8, n_mels=32, learning_rate=1e30)
    )
    with pytest.raises(NaNLossError, match="loss became"):
        run_trial(config(1.0, 0), bad, lambda m, s: None)


@pytest.mark.slow  # 80 s: in the slow step of .ci/run, which CI always runs
def test_fsdd_real_recordings_reach_the_bar(shared_data, tmp_path):
    """The issue's bar on real audio: CNN, real data only, FSDD's own test split, >= 0.95."""
    from raysynth.config import load_spec
    from raysynth.datasets import prepare

    from conftest import REPO_ROOT

    spec = load_spec(REPO_ROOT / "search_spaces" / "fsdd.yaml")
    spec.train.epochs = 6  # the spec's 12 give 0.99 (see the README); 6 keep the suite fast
    manifest = prepare("fsdd", shared_data, tmp_path, spec.dataset.sample_rate).manifest
    context = TrialContext(str(manifest), spec.dataset.sample_rate, spec.dataset.clip_seconds, spec.train)
    last = run_trial(config(1.0, 0), context, lambda m, s: None)
    assert last["selected_test_acc"] >= 0.95, last


def test_fold_datasets_train_validate_and_test_on_folds(tmp_path):
    from raysynth.datasets.sampling import split_roles

    assert split_roles({"1", "2", "3", "4", "5"}, 5) == ({"2", "3", "4"}, {"1"}, {"5"})
    with pytest.raises(ValueError, match="fold has to be one of them"):
        split_roles({"1", "2", "3"}, None)
    with pytest.raises(ValueError, match="fixed train/valid/test"):
        split_roles({"train", "valid", "test"}, 2)
    manifest = dummy_manifest(tmp_path / "m.parquet", per_split={"1": 3, "2": 3, "3": 3, "4": 3})
    context = TrialContext(str(manifest), 16000, 1.0, TrainConfig(epochs=1, batch_size=8, n_mels=32))
    mix = build_mixture({**config(1.0, 0), "fold": 2}, context)
    assert len(mix.test) == len(mix.valid) == 12 and len(mix.train) == 24
    assert all("/2/" in i for i in mix.test.ids) and all("/3/" in i for i in mix.valid.ids)


def test_snr_is_exact_when_measured_from_the_parts():
    import torch

    from raysynth.train.noise import measured_snr, mix_at_snr

    rng = np.random.default_rng(0)
    clean = rng.standard_normal((6, 16000)).astype(np.float32) * rng.uniform(0.01, 1, (6, 1)).astype(
        np.float32
    )
    noise = rng.standard_normal((6, 16000)).astype(np.float32) * 0.3
    targets = np.array([-5, 0, 5, 10, 20, 30], dtype=np.float32)
    mixed = mix_at_snr(torch.from_numpy(clean), torch.from_numpy(noise), torch.from_numpy(targets)).numpy()
    for row, target in enumerate(targets):
        assert abs(measured_snr(clean[row], mixed[row]) - target) < 0.1


def test_short_noise_is_looped_and_silent_noise_rejected():
    from raysynth.train.noise import NoiseBank, SilentNoiseError, loop_to_length

    np.testing.assert_array_equal(
        loop_to_length(np.array([1.0, 2.0, 3.0]), 7, offset=2), [3, 1, 2, 3, 1, 2, 3]
    )
    bank = NoiseBank([np.ones(100, np.float32) * 0.1], "short")
    assert bank.draw(2, 1000, np.random.default_rng(0)).shape == (2, 1000)
    with pytest.raises(SilentNoiseError, match="silent"):
        NoiseBank([np.zeros(1000, np.float32)], "silence.wav")


def test_trial_with_real_noise_reports_snr_metrics(context, tmp_path):
    import soundfile as sf

    from raysynth.datasets.noise import prepare_noise

    rng = np.random.default_rng(1)
    for name in ("hum", "fan", "tap"):
        sf.write(tmp_path / f"{name}.wav", 0.2 * rng.standard_normal(16000 * 2).astype(np.float32), 16000)
    noise = prepare_noise(tmp_path, tmp_path / "w", segment_seconds=0.5, test_files=["tap"]).manifest
    noisy_context = dataclasses.replace(context, noise_manifest=str(noise))
    reports = []
    last = run_trial(
        {**config(1.0, 0), "noise_source": "real"},
        noisy_context,
        lambda m, s: reports.append((m, copy.deepcopy(s))),
    )
    for snr in (20, 10, 5):
        assert 0.0 <= last[f"test_acc@{snr}dB"] <= 1.0 and f"selected_test_acc@{snr}dB" in last
    assert len(last["selected_test_confusion"]) == 4

    # Resuming from the epoch-1 state, saved and read back as the sweep does (tensors and plain data
    # only), reproduces epoch 2 exactly.
    import torch

    from raysynth.sweep import load_trial_state

    torch.save(reports[0][1], tmp_path / "state.pt")
    resumed = run_trial(
        {**config(1.0, 0), "noise_source": "real"}, noisy_context, lambda m, s: None,
        load_trial_state(tmp_path / "state.pt"),
    )  # fmt: skip
    assert resumed["train_loss"] == pytest.approx(last["train_loss"], rel=1e-6)
    assert resumed["test_acc@5dB"] == last["test_acc@5dB"]


def test_trial_with_rooms_trains_differently_and_deterministically(context):
    from raysynth.config import ReverbConfig

    reverb = dataclasses.replace(
        context, train=context.train.model_copy(update={"reverb": ReverbConfig(probability=1.0, rooms=4)})
    )
    dry = run_trial(config(1.0, 1), context, lambda m, s: None)
    wet = run_trial(config(1.0, 1), reverb, lambda m, s: None)
    again = run_trial(config(1.0, 1), reverb, lambda m, s: None)
    assert wet["train_loss"] != pytest.approx(dry["train_loss"], rel=1e-6)
    assert again["train_loss"] == pytest.approx(wet["train_loss"], rel=1e-6)


def test_trial_reports_speaker_diversity_and_is_unchanged_by_it(context):
    from raysynth.config import QualityConfig

    plain = run_trial(config(1.0, 1), context, lambda m, s: None)
    measured = dataclasses.replace(context, quality=QualityConfig(speakers=True, speaker_clips=8))
    reports = []
    run_trial(config(1.0, 1), measured, lambda m, s: reports.append(m))
    last = reports[-1]
    assert (
        last["speaker_clips"] == 8
        and last["effective_voices"] >= 1.0
        and last["real_speaker_source"] == "train"
    )
    assert 1.0 <= last["real_effective_voices"] <= 8.0 and "fad" not in last
    assert last["train_loss"] == pytest.approx(plain["train_loss"], rel=1e-6)


def test_the_reverb_axis_is_train_reverb_with_its_probability(context):
    from raysynth.config import ReverbConfig

    rooms = ReverbConfig(probability=1.0, rooms=4)
    given = dataclasses.replace(context, train=context.train.model_copy(update={"reverb": rooms}))
    on_axis = dataclasses.replace(
        context,
        train=context.train.model_copy(update={"reverb": rooms.model_copy(update={"probability": 0.2})}),
    )
    by_setting = run_trial(config(1.0, 1), given, lambda m, s: None)
    by_axis = run_trial({**config(1.0, 1), "reverb": 1.0}, on_axis, lambda m, s: None)
    off = run_trial({**config(1.0, 1), "reverb": 0.0}, given, lambda m, s: None)
    plain = run_trial(config(1.0, 1), context, lambda m, s: None)
    assert by_axis["train_loss"] == pytest.approx(by_setting["train_loss"], rel=1e-6)
    assert off["train_loss"] == pytest.approx(plain["train_loss"], rel=1e-6)


@pytest.mark.slow  # five trials through the real frozen embedding: about 45 s on 2 cores
def test_frozen_features_and_augmented_views_are_cached_by_content(context, tmp_path):
    """train.views with the frozen speech embedding: the views are embedded once and read back in a
    later trial (no file written again), the trial is the same with a warm cache, and a view
    differs from the clean features (it was augmented)."""
    from raysynth.config import NoiseConfig, ReverbConfig
    from raysynth.train.views import FeatureCache

    train = context.train.model_copy(update={"backbone": "speech_embedding", "views": 2, "n_mels": 40,
                                             "reverb": ReverbConfig(probability=1.0, rooms=2)})  # fmt: skip
    features = tmp_path / "features"
    frozen = dataclasses.replace(context, train=train, features=str(features), noise=NoiseConfig())
    first = run_trial(config(1.0, 1), frozen, lambda m, s: None)
    written = sorted(p.name for p in features.glob("*.npy"))
    assert len(written) == 3 + 2  # train, valid, test clean; two views
    stamps = {p.name: p.stat().st_mtime_ns for p in features.glob("*.npy")}
    again = run_trial(config(1.0, 1), frozen, lambda m, s: None)
    assert {p.name: p.stat().st_mtime_ns for p in features.glob("*.npy")} == stamps  # read, not written
    assert again["train_loss"] == pytest.approx(first["train_loss"], rel=1e-6)
    uncached = run_trial(config(1.0, 1), dataclasses.replace(frozen, features=None), lambda m, s: None)
    assert uncached["train_loss"] == pytest.approx(first["train_loss"], rel=1e-6)
    arrays = [np.load(features / name, allow_pickle=False) for name in written]
    assert len({a.shape for a in arrays}) > 1 or not all(np.allclose(arrays[0], a) for a in arrays[1:])
    on_the_fly = run_trial(config(1.0, 1), dataclasses.replace(frozen, train=train.model_copy(update={"views": 0})),
                           lambda m, s: None)  # fmt: skip
    assert on_the_fly["train_loss"] != pytest.approx(first["train_loss"], rel=1e-6)
    cache = FeatureCache(features)
    assert np.array_equal(
        cache.get(written[0][:-4], lambda: pytest.fail("a hit computes nothing")), arrays[0]
    )


def test_a_cached_feature_file_can_never_run_code(tmp_path):
    """A pickled array planted under a key is refused when read (allow_pickle=False), not executed."""
    from raysynth.train.views import FeatureCache

    np.save(tmp_path / "k.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        FeatureCache(tmp_path).get("k", lambda: np.zeros(1))
