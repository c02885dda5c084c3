"""Speaker diversity with the real pretrained speaker encoder (resemblyzer) on real recordings."""

import numpy as np
import pytest
import soundfile as sf

from raysynth.quality.speakers import mean_cosine_distance, speaker_diversity, vendi_score


def test_vendi_counts_orthogonal_and_identical_voices():
    assert vendi_score(np.eye(6)) == pytest.approx(6.0)
    assert vendi_score(np.ones((6, 4))) == pytest.approx(1.0)
    two = np.repeat(np.eye(2), 3, axis=0)  # two voices, three clips each
    assert vendi_score(two) == pytest.approx(2.0)
    assert mean_cosine_distance(np.ones((3, 2))) == pytest.approx(0.0)
    assert mean_cosine_distance(np.eye(2)) == pytest.approx(1.0)


@pytest.mark.slow  # resemblyzer's encoder over 90 clips: 15-30 s on 2 cores, kept out of the default run
def test_many_real_speakers_hold_more_voices_than_one_synthetic_voice(shared_data):
    """30 real speakers saying "yes" (one clip each) against 30 clips of one fixed eSpeak NG voice."""
    from raysynth.config import GenerationConfig
    from raysynth.generators import build_generator

    files = sorted((shared_data / "speech_commands_mini" / "yes").glob("*.wav"))[:30]
    speakers = {f.name.split("_")[0] for f in files}
    assert len(speakers) == 30
    real = np.stack([np.pad(sf.read(f, dtype="float32")[0], (0, 16000))[:16000] for f in files])
    one_voice = build_generator(
        GenerationConfig(
            generator="tts",
            voices=["en-us"],
            voice_variants=["m1"],
            pitch=(50, 50),
            pitch_range=(50, 50),
            rate_wpm=(160, 160),
        )  # fmt: skip
    )
    synthetic = np.stack(one_voice.generate(["yes"] * 30, list(range(30)), 1.0))
    many, one = (
        speaker_diversity(real, 16000, 30, 0),
        speaker_diversity(synthetic, one_voice.sample_rate, 30, 0),
    )
    assert many["speaker_clips"] == one["speaker_clips"] == 30
    assert many["effective_voices"] > 4 * one["effective_voices"] and one["effective_voices"] < 1.5
    assert many["speaker_distance"] > 5 * one["speaker_distance"]


def test_the_report_shows_speaker_diversity_beside_accuracy(tmp_path):
    import pandas as pd

    from raysynth.report.quality import quality_section, speaker_cells

    rows = [{"status": "completed", "generator": g, "seed": s, "selected_test_acc": acc, "effective_voices": ev,
             "speaker_distance": 0.1, "real_effective_voices": 8.0, "real_speaker_distance": 0.4,
             "real_speaker_source": "test"}
            for g, ev, acc in (("tts", 1.2, 0.5), ("piper", 3.0, 0.7)) for s in (0, 1)]  # fmt: skip
    cells = speaker_cells(pd.DataFrame(rows), "selected_test_acc")
    assert cells["effective_voices"].tolist() == [3.0, 1.2] and cells["n"].tolist() == [2, 2]
    said = []
    tables = quality_section(pd.DataFrame(rows), "selected_test_acc", tmp_path, said.append)
    assert "Speaker diversity beside accuracy" in tables and (tmp_path / "quality_speakers.csv").is_file()
    assert any("real (test) clips" in line for line in said)


def test_a_test_only_corpus_measures_its_real_voices_on_the_test_recordings(tmp_path):
    """A test-only corpus (or fold 0) has no real training split: the reference is empty, not an
    error, and the real speaker measure falls back to the test clips (the trial crashed here)."""
    from raysynth.config import QualityConfig, TrainConfig
    from raysynth.quality.measure import _real_reference
    from raysynth.testing import dummy_manifest
    from raysynth.train import TrialContext

    manifest = dummy_manifest(tmp_path / "m.parquet", per_split={"train": 0, "valid": 0, "test": 3})
    context = TrialContext(str(manifest), 16000, 1.0, TrainConfig(), quality=QualityConfig(speakers=True))
    assert len(_real_reference({"seed": 0, "fold": None}, context)) == 0
