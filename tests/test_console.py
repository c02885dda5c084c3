"""The console: one progress line per stage that redraws on a terminal and stays sparse in a log."""

import io

from raysynth import console
from raysynth.console import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_in_a_log_prints_one_final_line_with_counts_and_rate():
    out = io.StringIO()
    with Progress("generate audiogen", 40, "clips", stream=out) as bar:
        for _ in range(40):
            bar.update()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines  # nothing every step; one line when the stage ends
    assert "generate audiogen" in lines[0] and "40/40 clips" in lines[0] and "done in" in lines[0]
    assert "[" + "#" * 20 + "]" in lines[0]


def test_progress_in_a_log_prints_at_most_every_log_interval(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(console.time, "perf_counter", lambda: now[0])
    out = io.StringIO()
    bar = Progress("trials", 10, "trials", stream=out)
    for _ in range(9):
        now[0] += 10.0
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    # 90 s of updates at one line per 30 s (at 30, 60 and 90 s), then the final line.
    assert len(lines) == 4, lines
    assert lines[0].split()[2] == "3/10" and "ETA 1m10s" in lines[0]
    assert "9/10 trials" in lines[-1] and "done in 1m30s" in lines[-1]


def test_progress_on_a_terminal_redraws_one_line_and_messages_go_above_it():
    out = Terminal()
    bar = Progress("trials", 2, "trials", stream=out)
    bar.update()
    bar.message("trial 1/2 completed")
    bar.update()
    bar.close()
    text = out.getvalue()
    assert text.count("\n") == 2  # the message line and the bar's last line
    assert "\r\033[K" in text and text.endswith("\n") and "2/2 trials" in text.splitlines()[-1]


def test_progress_pickles_without_its_stream():
    import pickle

    bar = Progress("trials", 3, "trials", stream=io.StringIO())
    bar.update(2)
    again = pickle.loads(pickle.dumps(bar))
    assert again.done == 2 and again.stream is not None


def test_unknown_total_shows_a_count():
    out = io.StringIO()
    with Progress("embed cnn", None, "clips", stream=out) as bar:
        bar.update(7)
    assert "7 clips" in out.getvalue() and "ETA" not in out.getvalue()
