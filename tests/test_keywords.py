"""Keyword spotting on real Speech Commands recordings, trained on synthetic speech only, with the
frozen speech embedding (issue 24's bar)."""

from __future__ import annotations

import pytest

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "stop", "go"]


def _test_only_corpus(shared_data, root, per_word: int):
    """``per_word`` real clips of each of the eight keywords of speech_commands_mini, every one in the
    test list: a corpus to test on, in the layout the speech_commands recipe reads."""
    corpus = root / "speech_commands"
    lines = []
    for word in KEYWORDS:
        (corpus / word).mkdir(parents=True)
        for wav in sorted((shared_data / "speech_commands_mini" / word).glob("*.wav"))[:per_word]:
            (corpus / word / wav.name).symlink_to(wav)
            lines.append(f"{word}/{wav.name}")
    (corpus / "testing_list.txt").write_text("\n".join(lines) + "\n")
    (corpus / "validation_list.txt").write_text("")
    return root


@pytest.mark.slow  # about 2 minutes on 2 cores: generation through Ray, 1,600 clips embedded
@pytest.mark.parametrize("head", ["linear", "temporal"])
def test_espeak_keywords_through_the_speech_embedding_recognise_real_speakers(
    shared_data, ray_session, tmp_path, head
):
    """20 eSpeak NG clips per keyword, the frozen speech embedding and a small head, tested on 100
    real recordings per keyword by speakers never heard (chance: 0.125)."""
    from raysynth.config import parse_spec
    from raysynth.inputs import ensure, resolve, trial_context
    from raysynth.train import run_trial

    data = _test_only_corpus(shared_data, tmp_path / "data", per_word=100)
    spec = parse_spec({
        "name": "kws", "dataset": {"name": "speech_commands"},
        "generation": {"generator": "tts", "concurrency": 2},
        "train": {"backbone": "speech_embedding", "head": head, "epochs": 30, "batch_size": 32,
                  "learning_rate": 3e-3, "synthetic_valid_per_class": 5},
        "grid": {"real_fraction": 0.0, "synth_multiplier": 0.2},
    })  # fmt: skip
    resolved = resolve(spec, data, tmp_path / "work")
    ensure(resolved)
    (cell,) = resolved.cells
    last = run_trial(cell, trial_context(resolved), lambda metrics, state: None)
    assert last["num_real"] == 0 and last["num_synthetic"] == 8 * 20
    print(f"\n{head} head: test accuracy {last['selected_test_acc']:.3f} on {8 * 100} real clips")
    assert last["selected_test_acc"] >= 0.5, last["selected_test_acc"]
