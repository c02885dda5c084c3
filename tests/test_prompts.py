"""Prompts: label-guided and LLM-assisted, and the describe client against a local chat-completions server."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from raysynth.datasets import DATASETS
from raysynth.generate import ClassInfo, plan_clips
from raysynth.prompts import label_prompt, make_prompt
from raysynth.prompts.llm import (
    DescriptionError,
    DescriptionSet,
    describe_labels,
    parse_reply,
    shipped_descriptions,
)


def test_label_prompts_and_templates():
    assert label_prompt("dog bark") == "dog bark sound"
    assert label_prompt("three", "a person saying the number {label}") == "a person saying the number three"
    assert label_prompt("jazz", DATASETS["gtzan"].prompt_template) == "jazz music"
    with pytest.raises(ValueError, match="has to contain '{label}'"):
        label_prompt("x", "no field")


def test_llm_prompts_sample_k_descriptions_per_clip_seed():
    descriptions = ["a", "b", "c", "d", "e"]
    first = make_prompt("llm", "dog bark", None, descriptions, seed=1, k=3)
    assert first.startswith("dog bark sound, ") and len(first.split(", ")) == 4
    assert first == make_prompt("llm", "dog bark", None, descriptions, seed=1, k=3)
    assert len({make_prompt("llm", "dog bark", None, descriptions, seed=s, k=3) for s in range(20)}) > 3
    with pytest.raises(ValueError, match="needs descriptions"):
        make_prompt("llm", "dog bark")


def test_plan_with_llm_strategy_uses_shipped_descriptions():
    shipped = DescriptionSet.load(shipped_descriptions("toy"))
    assert (
        shipped.provenance["method"] == "hand-written"
        and "not the descriptions" in shipped.provenance["note"]
    )
    recipe = {"generator": "audiogen", "model_id": "m"}
    rows = plan_clips(
        "toy", [ClassInfo("beep", 0, "beep")], recipe, "llm", 4, 0, descriptions=shipped.descriptions
    )
    assert all(r["prompt"].startswith("beep sound, ") for r in rows)
    assert len({r["prompt"] for r in rows}) > 1
    assert {r["id"] for r in rows}.isdisjoint(
        r["id"] for r in plan_clips("toy", [ClassInfo("beep", 0, "beep")], recipe, "label", 4, 0)
    )


def test_shipped_description_files_cover_their_labels():
    from raysynth.datasets.crema_d import CREMA_LABELS
    from raysynth.datasets.emodb import EMODB_LABELS
    from raysynth.datasets.fsdd import DIGIT_WORDS
    from raysynth.datasets.gtzan import GENRE_TEXT, GENRES
    from raysynth.datasets.iemocap import IEMOCAP_LABELS
    from raysynth.datasets.ravdess import RAVDESS_LABELS
    from raysynth.datasets.speech_commands import WORDS12
    from raysynth.datasets.tess import TESS_LABELS
    from raysynth.datasets.ucf101 import CLASS_TEXT
    from raysynth.testing import TOY_LABELS

    expected = {
        "toy": TOY_LABELS,
        "fsdd": DIGIT_WORDS,
        "emodb": EMODB_LABELS,
        "gtzan": [GENRE_TEXT.get(g, g) for g in GENRES],
        "ucf101": list(CLASS_TEXT.values()),
        "speech_commands12": [*WORDS12, "an unknown word", "silence"],
        "iemocap": IEMOCAP_LABELS,
        "crema_d": CREMA_LABELS,
        "ravdess": RAVDESS_LABELS,
        "tess": TESS_LABELS,
    }
    for (
        dataset
    ) in DATASETS:  # every built-in dataset ships a file (a variant such as fsdd_speakers: its corpus's)
        path = shipped_descriptions(dataset)
        shipped = DescriptionSet.load(
            path if path.is_file() else shipped_descriptions(DATASETS[dataset].corpus_name)
        )
        assert shipped.provenance["method"] == "hand-written"
        assert all(len(d) == shipped.provenance["n"] == len(set(d)) for d in shipped.descriptions.values())
        assert set(shipped.descriptions) >= set(expected.get(dataset, [])), dataset
    assert len(DescriptionSet.load(shipped_descriptions("esc50")).descriptions) == 50


@pytest.mark.parametrize(
    "reply, ok",
    [
        ('["low hum", "steady drone", "fan noise"]', True),
        ("1. low hum\n2. steady drone\n3. fan noise", True),
        ("Sure! Here:\n- low hum\n- steady drone\n- fan noise", False),  # the preamble is a 4th item
        ('["low hum", "low hum", "fan noise"]', False),
        ('["low hum", "", "fan noise"]', False),
        ('["low hum", "fan noise"]', False),
    ],
)
def test_parse_reply_validates(reply, ok):
    if ok:
        assert parse_reply(reply, 3) == ["low hum", "steady drone", "fan noise"]
    else:
        with pytest.raises(ValueError, match="expected 3"):
            parse_reply(reply, 3)


class ChatServer:
    """A local OpenAI-compatible chat-completions endpoint that plays a script of responses."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                status, content, delay = server.script.pop(0) if server.script else (200, '["x", "y"]', 0)
                time.sleep(delay)
                if status == 200:
                    payload = {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": content}}]}  # fmt: skip
                else:
                    payload = {"error": {"message": content, "type": "server_error"}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(data)
                except BrokenPipeError:
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()


GOOD = '["low hum", "steady drone"]'


@pytest.mark.parametrize(
    "script",
    [
        [(429, "slow down", 0), (200, GOOD, 0)],
        [(500, "boom", 0), (503, "busy", 0), (200, GOOD, 0)],
        [(200, GOOD, 3.0), (200, GOOD, 0)],  # the first reply comes after the client's timeout
        [(200, "I cannot help with that.", 0), (200, GOOD, 0)],  # malformed, asked again
    ],
    ids=["429", "5xx", "timeout", "malformed"],
)
def test_describe_retries_then_succeeds_and_caches(tmp_path, script):
    server = ChatServer(script)
    cache = tmp_path / "descriptions.json"
    try:
        result = describe_labels(
            ["fan"], server.url, "tiny-model", n=2, cache=cache, timeout=1.0, max_retries=3
        )
        asked = len(server.requests)
        # The same endpoint again, still up: the cache answers, the server is not asked.
        describe_labels(["fan"], server.url, "tiny-model", n=2, cache=cache, timeout=1.0)
        assert len(server.requests) == asked, "served from the cache"
        # A new label is asked for, and only it.
        describe_labels(["fan", "tap"], server.url, "tiny-model", n=2, cache=cache, timeout=1.0)
        assert len(server.requests) == asked + 1 and "tap" in server.requests[-1]["messages"][0]["content"]
    finally:
        server.close()
    assert result.descriptions == {"fan": ["low hum", "steady drone"]}
    saved = DescriptionSet.load(cache)
    assert saved.descriptions == {**result.descriptions, "tap": ["x", "y"]}
    assert saved.provenance["endpoint"] == server.url and saved.provenance["model"] == "tiny-model"
    assert "{label}" in saved.provenance["prompt_template"] and saved.provenance["date"]
    assert "fan" in server.requests[0]["messages"][0]["content"]


def test_endpoint_that_keeps_failing_is_reported(tmp_path):
    server = ChatServer([(500, "boom", 0)] * 10)
    try:
        with pytest.raises(DescriptionError, match="kept failing for 'fan': HTTP 500"):
            describe_labels(["fan"], server.url, "m", n=2, timeout=1.0, max_retries=1)
    finally:
        server.close()


def test_unreachable_endpoint_is_reported():
    with pytest.raises(DescriptionError, match="cannot reach the endpoint"):
        describe_labels(["fan"], "http://127.0.0.1:9/v1", "m", n=2, timeout=0.5, max_retries=0)


def test_missing_description_file_is_clear(tmp_path):
    with pytest.raises(DescriptionError, match="jobs/describe.py"):
        DescriptionSet.load(tmp_path / "none.json")
