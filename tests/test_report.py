import json

import pandas as pd
import pytest

from raysynth.report import ReportError, load, pivot, to_markdown


def fake_experiment(root, results):
    """A Tune experiment folder as Tune writes it: <trial>/params.json and result.json (JSON lines)."""
    for i, (config, accs) in enumerate(results):
        trial = root / f"trainable_{i:05d}"
        trial.mkdir(parents=True)
        (trial / "params.json").write_text(json.dumps(config))
        lines = [
            json.dumps({"epoch": e + 1, "selected_test_acc": a, "config": config}) for e, a in enumerate(accs)
        ]
        (trial / "result.json").write_text("\n".join(lines) + "\n")
    return root


def test_pivot_mean_std_over_seeds(tmp_path):
    exp = fake_experiment(
        tmp_path / "exp",
        [
            ({"real_fraction": 1.0, "synth_multiplier": 0, "seed": 0}, [0.5, 0.8]),
            ({"real_fraction": 1.0, "synth_multiplier": 0, "seed": 1}, [0.6]),
            ({"real_fraction": 0.5, "synth_multiplier": 0, "seed": 0}, [0.4]),
        ],
    )
    df = load(exp)
    assert len(df) == 3 and set(df["epochs_reported"]) == {1, 2}
    stats = pivot(df, ["real_fraction"], ["synth_multiplier"])
    row = stats[stats.real_fraction == 1.0].iloc[0]
    assert row["mean"] == pytest.approx(0.7) and row["count"] == 2
    assert row["std"] == pytest.approx(0.1414, abs=1e-3)
    md = to_markdown(stats, ["real_fraction"], ["synth_multiplier"])
    assert "0.700 ± 0.141 (n=2)" in md and "| real_fraction=0.5 | 0.400 (n=1) |" in md  # n=1: no spread
    assert md.startswith("test accuracy at the epoch chosen on validation: mean ± std")


def test_unknown_axis_lists_available(tmp_path):
    df = load(fake_experiment(tmp_path / "e", [({"real_fraction": 1.0, "seed": 0}, [0.5])]))
    with pytest.raises(ReportError, match=r"not in the results: temperature; available: .*real_fraction"):
        pivot(df, ["temperature"], [])


def test_older_spec_version_is_read_with_a_warning(tmp_path):
    exp = fake_experiment(
        tmp_path / "old", [({"real_fraction": 1.0, "synth_multiplier": 0, "seed": 0}, [0.5])]
    )
    with pytest.warns(UserWarning, match=r"older spec version: axes .*noise_source"):
        df = load(exp)
    assert df.loc[0, "noise_source"] == "none" and df.loc[0, "strategy"] == "label"
    assert pivot(df, ["noise_source"], [])["mean"].tolist() == [0.5]


def test_latex_booktabs_marks_best_cell(tmp_path):
    from raysynth.report import to_latex

    exp = fake_experiment(
        tmp_path / "e",
        [
            ({"real_fraction": r, "synth_multiplier": m, "seed": 0}, [a])
            for r, m, a in [(0.5, 0, 0.4), (0.5, 1, 0.6), (1.0, 0, 0.8), (1.0, 1, 0.7)]
        ],
    )
    with pytest.warns(UserWarning):
        stats = pivot(load(exp), ["real_fraction"], ["synth_multiplier"])
    latex = to_latex(stats, ["real_fraction"], ["synth_multiplier"], "FSDD.")
    assert "\\toprule" in latex and "\\bottomrule" in latex and "n = 1" in latex
    assert "\\textbf{0.800}" in latex and "\\textbf{0.700}" in latex and "$\\pm$ 0.000" not in latex
    assert "Test accuracy at the epoch chosen on validation" in latex
    assert "\\textbf{0.400" not in latex


def test_combines_directories_and_rejects_empty(tmp_path):
    a = fake_experiment(tmp_path / "a", [({"real_fraction": 1.0, "seed": 0}, [0.5])])
    b = fake_experiment(tmp_path / "b", [({"real_fraction": 1.0, "seed": 1}, [0.7])])
    assert len(load(a, b)) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="no Tune trials"):
        load(tmp_path / "empty")


def test_ties_are_not_bold_and_html_shows_the_same_pivot(tmp_path):
    from raysynth.report import caveat, metric_name, to_html

    exp = fake_experiment(
        tmp_path / "e",
        [
            ({"real_fraction": r, "synth_multiplier": m, "seed": 0}, [a])
            for r, m, a in [(0.5, 0, 0.8), (1.0, 0, 0.8), (0.5, 1, 0.6), (1.0, 1, 0.7)]
        ],
    )
    with pytest.warns(UserWarning):
        stats = pivot(load(exp), ["real_fraction"], ["synth_multiplier"])
    md = to_markdown(stats, ["real_fraction"], ["synth_multiplier"])
    assert "**0.800" not in md and "**0.700 (n=1)**" in md  # a tie marks no cell; a unique best does
    page = to_html(stats, ["real_fraction"], ["synth_multiplier"], caveat="toy")
    assert page.count("<tr>") == 3 and "<th>synth_multiplier=0</th>" in page and "<b>0.700 (n=1)</b>" in page
    assert "<b>0.800" not in page and "<p><b>toy</b></p>" in page
    assert metric_name("selected_test_acc@10dB").endswith("held-out noise at 10dB")
    smoke = {"spec": {"dataset": {"name": "toy"}, "generation": {"tiny": True}}}
    assert (
        caveat(smoke) == "toy data and a random-weight generator: this checks the plumbing, not the science"
    )
    assert caveat({"spec": {"dataset": {"name": "fsdd"}, "generation": {"generator": "tts"}}}) == ""


def test_figures_facet_every_varying_axis_and_keep_error_bars_in_range(tmp_path):
    import matplotlib.pyplot as plt

    from raysynth.report.figures import MAX_FACETS, all_figures, interval, real_fraction_figure

    rows = []
    for generator in ("audiogen", "tts"):
        for rf in (0.1, 1.0):
            for m in (0, 1):
                for seed, acc in ((0, 0.99), (1, 0.55)):  # a wide spread near 1: a naive bar leaves [0, 1]
                    rows.append({"generator": generator, "real_fraction": rf, "synth_multiplier": m,
                                 "seed": seed, "selected_test_acc": acc, "strategy": "label"})  # fmt: skip
    df = pd.DataFrame(rows)
    ci = interval(df, ["generator", "real_fraction", "synth_multiplier"], "selected_test_acc")
    assert (ci["high"] <= 1).all() and (ci["low"] >= 0).all() and (ci["high"] == 1).any()
    fig = real_fraction_figure(df)
    assert len(fig.axes) == 2  # generator varies and is not a line: one panel each
    assert {ax.get_title().splitlines()[-1] for ax in fig.axes} == {"generator=audiogen", "generator=tts"}
    assert all("(n=2)" in t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts())
    plt.close(fig)
    many = pd.concat([df.assign(fold=None, variant=str(v)) for v in range(MAX_FACETS)])
    written, skipped = all_figures(many, tmp_path)
    assert any(s.startswith("fig_real_fraction: 24 panels of generator, variant") for s in skipped), skipped


def test_a_table_that_averages_over_an_axis_it_does_not_show_says_so():
    from raysynth.report import to_html, to_latex

    df = pd.DataFrame(
        [
            {
                "real_fraction": 0.0,
                "synth_multiplier": 1,
                "noise_source": n,
                "seed": 0,
                "fold": f,
                "status": "completed",
                "selected_test_acc": a,
            }  # fmt: skip
            for n, a in (("none", 0.6), ("real", 0.8))
            for f in (1, 2)
        ]
    )
    stats = pivot(df, ["real_fraction"], ["synth_multiplier"])
    warning = "averaged over noise_source (none, real), which the table does not show"
    for text in (to_markdown(stats, ["real_fraction"], ["synth_multiplier"]),
                 to_html(stats, ["real_fraction"], ["synth_multiplier"])):  # fmt: skip
        assert warning in text
    assert warning.replace("_", "\\_").capitalize() in to_latex(
        stats, ["real_fraction"], ["synth_multiplier"]
    )
    alone = pivot(df, ["noise_source"], ["synth_multiplier"])  # seeds and folds are replicates, not axes
    assert "averaged over" not in to_markdown(alone, ["noise_source"], ["synth_multiplier"])


def test_a_collapsed_axis_as_a_column_keeps_its_cells(tmp_path):
    """``strategy`` is None where synth_multiplier is 0 (collapsed). As a table column it used to raise a
    TypeError (pandas 3 keeps None through ``astype(str)``), and ``pivot_table`` dropped those cells."""
    exp = fake_experiment(
        tmp_path / "exp",
        [
            ({"real_fraction": 1.0, "synth_multiplier": 0, "strategy": None, "seed": 0}, [0.5]),
            ({"real_fraction": 1.0, "synth_multiplier": 1, "strategy": "label", "seed": 0}, [0.7]),
            ({"real_fraction": 1.0, "synth_multiplier": 1, "strategy": "llm", "seed": 0}, [0.6]),
        ],
    )
    with pytest.warns(UserWarning, match="older spec version"):
        df = load(exp)
    rows, cols = ["real_fraction"], ["synth_multiplier", "strategy"]
    md = to_markdown(pivot(df, rows, cols), rows, cols)
    assert "| synth_multiplier=0, strategy=- | synth_multiplier=1, strategy=label |" in md
    assert "| real_fraction=1.0 | **0.500 (n=1)** | **0.700 (n=1)** | **0.600 (n=1)** |" in md  # one row
    # Pooled over strategy: the note names its values, the collapsed one as "-".
    stats = pivot(df, rows, ["synth_multiplier"])
    assert stats.attrs["pooled"] == {"strategy": ["-", "label", "llm"]}


def test_figures_name_one_best_cell_when_cells_tie(tmp_path):
    """Tied best cells: the class-precision figure and the confusion figure name the same one (the
    first by key), where each used its own rule before."""
    from raysynth.report.cells import cell_means

    df = pd.DataFrame(
        {"real_fraction": [0.5, 0.5, 1.0, 1.0], "synth_multiplier": [0.0, 1.0, 0.0, 1.0],
         "selected_test_acc": [0.25, 1.0, 1.0, 1.0]}
    )  # fmt: skip
    means = cell_means(df, ["real_fraction", "synth_multiplier"], "selected_test_acc")
    assert list(means.index) == [("0.5", "1.0"), ("1.0", "0.0"), ("1.0", "1.0"), ("0.5", "0.0")]


def test_the_gallery_of_a_test_only_corpus_shows_every_class_with_real_test_clips_beside(tmp_path):
    """Speech Commands' test-set release has no training split: the gallery once listed its classes from
    the non-test splits only, and came out an empty table."""
    import json

    from raysynth.config import GenerationConfig
    from raysynth.generate import ClassInfo, plan_clips
    from raysynth.generate.engine import ShardWriter
    from raysynth.generators import generation_recipe
    from raysynth.report.html import audio_gallery
    from raysynth.report.trials import INPUTS_FILE
    from raysynth.testing.dummies import dummy_manifest

    labels = ["yes", "no", "_silence_"]
    manifest = dummy_manifest(tmp_path / "manifest.parquet", labels, {"test": 3})
    config = GenerationConfig(generator="tts")
    recipe = generation_recipe(config)
    plan = plan_clips(
        "sc",
        [ClassInfo(w, i, w) for i, w in enumerate(labels[:2])],
        recipe,
        "label",
        2,
        0,
        template="{label}",
    )
    writer = ShardWriter(config.model_dump_json(), str(tmp_path / "shards"), 16000, {})
    writer.write(
        plan, writer.generator.generate([r["prompt"] for r in plan], [r["seed"] for r in plan], 1.0), 0.0
    )
    source = {"folder": str(tmp_path / "shards"), "recipe": plan[0]["recipe"]}
    (tmp_path / INPUTS_FILE).write_text(json.dumps({"manifest": str(manifest), "synthetic": [source]}))
    page = audio_gallery(tmp_path)
    for label in labels:
        assert f"<td>{label}</td>" in page
    assert page.count("real (test split)") == 3 * 2 and page.count("tts / label") == 2 * 2


def test_accuracy_axes_span_zero_to_one(tmp_path):
    """A noise-robustness figure once ran its accuracy axis from 0.548 to 0.556: a 0.8-point drop filled it."""
    import pandas as pd

    from raysynth.report.figures import line_figure

    df = pd.DataFrame(
        {"x": [1, 2, 1, 2], "series": ["a", "a", "b", "b"], "acc": [0.556, 0.550, 0.552, 0.548]}
    )
    fig = line_figure(df, "x", ["series"], "acc", "t", "x")
    assert fig.axes[0].get_ylim() == (-0.02, 1.02)
