"""Backbone contract: every backbone, built tiny from its real classes, through the same checks."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from raysynth.config import TrainConfig
from raysynth.testing import dummy_manifest
from raysynth.train import TrialContext, run_trial
from raysynth.train.models import BACKBONES, CheckpointKeyError, build_classifier, map_ssast_state_dict
from raysynth.train.models.pretrained import BackboneLoadError, build_ast
from raysynth.train.models.ssast import ast_key_scheme, build_ssast

WAVES = np.random.default_rng(0).standard_normal((3, 16000)).astype(np.float32) * 0.1


@pytest.mark.parametrize("backbone", BACKBONES)
def test_backbone_contract(backbone):
    torch.manual_seed(0)
    extra = {"n_mels": 32} if backbone == "cnn" else {}
    model = build_classifier(TrainConfig(backbone=backbone, tiny=True, **extra), num_classes=5)
    features = model.features(WAVES)
    assert features.shape[0] == 3 and torch.isfinite(features).all()
    assert model.augment(features).shape == features.shape
    model.eval()
    embeddings = model.embed(features)
    assert embeddings.shape == (3, model.embed_dim)
    assert model(features).shape == (3, 5)
    np.testing.assert_allclose(
        model.embed(features[:1]).detach(), embeddings[:1].detach(), rtol=1e-4, atol=1e-5
    )
    # A clip's features never depend on the clips beside it (the speech embedding's mel model scales its
    # dB to the largest value of its whole input: run on a batch, it once made every clip depend on the rest).
    loud = WAVES * np.array([[1.0], [8.0], [0.2]], dtype=np.float32)
    np.testing.assert_allclose(model.features(loud)[:1], model.features(loud[:1]), rtol=1e-4, atol=1e-4)


def to_ssast_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse mapping, written out independently: an ASTModel state dict in SSAST's naming."""
    top = {
        "embeddings.cls_token": "cls_token",
        "embeddings.distillation_token": "dist_token",
        "embeddings.position_embeddings": "pos_embed",
        "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
        "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
        "layernorm.weight": "norm.weight",
        "layernorm.bias": "norm.bias",
    }
    blocks = {  # transformers 5 and 4 namings of one block's parts
        "layernorm_before": "norm1", "layernorm_after": "norm2", "attention.o_proj": "attn.proj",
        "attention.output.dense": "attn.proj", "mlp.fc1": "mlp.fc1", "intermediate.dense": "mlp.fc1",
        "mlp.fc2": "mlp.fc2", "output.dense": "mlp.fc2",
    }  # fmt: skip
    qkv = {"q_proj": 0, "k_proj": 1, "v_proj": 2, "query": 0, "key": 1, "value": 2}
    out = {"module.cpredlayer.0.weight": torch.zeros(4, 4), "module.mask_embed": torch.zeros(1, 1, 16)}
    fused: dict[str, list] = {}
    for key, value in state.items():
        if key in top:
            out[f"module.v.{top[key]}"] = value
            continue
        match = re.match(r"^(?:layers|encoder\.layer)\.(\d+)\.(.+)\.(weight|bias)$", key)
        index, part, kind = match.groups()
        last = part.rsplit(".", 1)[-1]
        if last in qkv and "attention" in part:
            fused.setdefault(f"module.v.blocks.{index}.attn.qkv.{kind}", [None] * 3)[qkv[last]] = value
        else:
            out[f"module.v.blocks.{index}.{blocks[part]}.{kind}"] = value
    out.update({key: torch.cat(parts) for key, parts in fused.items()})
    return out


def test_ssast_checkpoint_key_mapping_round_trips():
    torch.manual_seed(1)
    reference = build_ssast(3, tiny=True)
    official = to_ssast_keys(reference.encoder.state_dict())
    scheme = ast_key_scheme(set(reference.encoder.state_dict()))
    assert set(map_ssast_state_dict(official, scheme)) == set(reference.encoder.state_dict())
    loaded = build_ssast(3, tiny=True, state=official)
    features = reference.features(WAVES)
    reference.eval(), loaded.eval()
    torch.testing.assert_close(loaded.embed(features), reference.embed(features))


def test_ssast_mismatched_checkpoint_lists_keys():
    reference = build_ssast(3, tiny=True)
    official = to_ssast_keys(reference.encoder.state_dict())
    del official["module.v.blocks.1.mlp.fc2.weight"]
    official["module.v.extra_thing"] = torch.zeros(1)
    with pytest.raises(
        CheckpointKeyError,
        match=r"1 missing key\(s\).*1\.mlp\.fc2\.weight.*1 unexpected key\(s\).*extra_thing",
    ):
        build_ssast(3, tiny=True, state=official)


def test_ssast_missing_checkpoint_file_says_where_to_get_it(tmp_path):
    with pytest.raises(BackboneLoadError, match="SSAST-Base-Patch-400.pth"):
        build_ssast(3, checkpoint=str(tmp_path / "nope.pth"))


def test_unreachable_pretrained_model_is_clear(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneLoadError, match=r"(?s)MIT/ast-finetuned.*huggingface-cli download"):
        build_ast(3)


@pytest.fixture
def context(tmp_path):
    manifest = dummy_manifest(tmp_path / "m.parquet", per_split={"train": 6, "valid": 2, "test": 2})
    return lambda **train: TrialContext(
        str(manifest), 16000, 1.0, TrainConfig(epochs=2, batch_size=8, **train)
    )


@pytest.mark.parametrize("mode", ["finetune", "linear_probe"])
def test_pretrained_trial_modes(context, mode):
    reports = []
    cfg = {"real_fraction": 1.0, "synth_multiplier": 0, "strategy": "label", "seed": 0}
    last = run_trial(cfg, context(backbone="ast", tiny=True, mode=mode), lambda m, s: reports.append(m))
    assert [r["epoch"] for r in reports] == [1, 2] and 0 <= last["selected_test_acc"] <= 1


@pytest.mark.e2e
@pytest.mark.slow  # 40-60 s: in the slow step of .ci/run, which CI always runs
def test_embedding_cache_through_ray_matches_in_trial_embeddings(ray_session, tmp_path):
    import soundfile as sf

    from raysynth.config import NoiseConfig
    from raysynth.datasets.noise import prepare_noise
    from raysynth.testing import dummy_shard
    from raysynth.train.embeddings import cached_ids, run_embedding_cache

    manifest = dummy_manifest(tmp_path / "m.parquet", per_split={"train": 4, "valid": 2, "test": 2})
    dummy_shard(tmp_path / "shards" / "part-0.parquet", clips_per_class=2)
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        sf.write(tmp_path / f"{name}.wav", 0.1 * rng.standard_normal(16000).astype(np.float32), 16000)
    noise_manifest = prepare_noise(tmp_path, tmp_path / "w", segment_seconds=0.5, test_files=["b"]).manifest
    train = TrainConfig(backbone="ast", tiny=True, mode="linear_probe", epochs=3, batch_size=8)
    noise = NoiseConfig(test_snrs=[10.0])
    out = tmp_path / "emb"
    args = (manifest, [tmp_path / "shards"], out, train, 16000, 1.0, noise, noise_manifest)
    written = run_embedding_cache(*args, batch_size=8)
    assert written == 32 + 8 + 8  # manifest clips, synthetic clips, test clips at 10 dB
    assert run_embedding_cache(*args, batch_size=8) == 0  # resumed: nothing left to embed
    assert len(cached_ids(out)) == written

    cfg = {"real_fraction": 1.0, "synth_multiplier": 0, "strategy": "label", "seed": 0}
    base = dict(manifest=str(manifest), sample_rate=16000, clip_seconds=1.0, train=train,
                noise=noise, noise_manifest=str(noise_manifest))  # fmt: skip
    cached = run_trial(cfg, TrialContext(**base, embeddings=str(out)), lambda m, s: None)
    direct = run_trial(cfg, TrialContext(**base), lambda m, s: None)
    assert cached["train_loss"] == pytest.approx(direct["train_loss"], rel=1e-4)
    assert cached["test_acc@10dB"] == direct["test_acc@10dB"]
