"""Chaos, security: hostile labels and prompts in the HTML report, and hostile archives."""

import io
import json
import tarfile
import zipfile

import pandas as pd
import pytest

SCRIPT = "<script>document.title='PWNED'</script>"
IMG = "<img src=x onerror=\"document.title='PWNED'\">"


def test_the_html_report_escapes_labels_and_prompts_and_runs_no_script_in_chromium(tmp_path):
    from test_e2e import check_chromium_dom

    from raysynth.report import INPUTS_FILE, pivot, to_html
    from raysynth.report.html import audio_gallery, write_html
    from raysynth.testing import dummy_manifest, dummy_shard

    manifest = dummy_manifest(tmp_path / "manifest.parquet", labels=[SCRIPT, "beep"])
    shards = tmp_path / "shards"
    dummy_shard(shards / "part-0.parquet", labels=[SCRIPT, "beep"], clips_per_class=1)
    exp = tmp_path / "exp"
    exp.mkdir()
    synthetic = [{"folder": str(shards), "recipe": "dummy", "generator": IMG, "strategy": "label"}]
    (exp / INPUTS_FILE).write_text(json.dumps({"manifest": str(manifest), "synthetic": synthetic}))
    df = pd.DataFrame({"generator": [IMG, "tts"], "real_fraction": [1.0, 1.0], "status": "completed",
                       "selected_test_acc": [0.5, 0.6]})  # fmt: skip
    table = to_html(pivot(df, ["generator"], ["real_fraction"]), ["generator"], ["real_fraction"])
    page = write_html(exp / "report.html", f"exp {SCRIPT}", {"main": table}, [], audio_gallery(exp))
    text = page.read_text()
    assert "<script>" not in text and "<img src=x" not in text  # escaped wherever it appears
    assert "&lt;script&gt;" in text
    dom = check_chromium_dom(page)
    assert "PWNED</title>" not in dom and "<title>exp &lt;script&gt;" in dom  # no script ran


def test_archive_members_outside_the_target_and_links_are_refused(tmp_path):
    from raysynth.datasets import DatasetError
    from raysynth.datasets.download import safe_extract

    def tar_with(member: tarfile.TarInfo, data: bytes = b"") -> str:
        path = tmp_path / f"{member.name.replace('/', '_')}.tar"
        with tarfile.open(path, "w") as tf:
            tf.addfile(member, io.BytesIO(data) if data else None)
        return path

    link = tarfile.TarInfo("corpus/passwd")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("corpus/hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "../../outside"
    up = tarfile.TarInfo("../escape.wav")
    up.size = 3
    for member, data, why in ((link, b"", "is a link"), (hard, b"", "is a link"), (up, b"abc", "outside")):
        target = tmp_path / f"out-{member.name.replace('/', '_')}"
        with pytest.raises(DatasetError, match=why):
            safe_extract(tar_with(member, data), target)
        assert not any(target.rglob("*")) if target.exists() else True
    assert not (tmp_path / "escape.wav").exists()

    # A zip "symlink" (unix mode bits in the header) is written as a plain file holding the target's
    # path, never as a link.
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("corpus/passwd")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
        zf.writestr("../escape.txt", "x")
    with pytest.raises(DatasetError, match="outside"):
        safe_extract(archive, tmp_path / "zip-out")
    only_link = tmp_path / "only-link.zip"
    with zipfile.ZipFile(only_link, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    safe_extract(only_link, tmp_path / "zip-ok")
    extracted = tmp_path / "zip-ok" / "corpus" / "passwd"
    assert extracted.is_file() and not extracted.is_symlink() and extracted.read_text() == "/etc/passwd"
