"""The ``clap`` quality score: CLAP's text-audio cosine similarity of a clip to its label prompt, and
its margin over the best competing label (transformers ``ClapModel``).

Real use loads ``laion/clap-htsat-unfused`` (or ``quality.clap_model_id``) through
``from_pretrained``; tests and ``--smoke-test`` build a tiny CLAP offline from the same classes
(random weights), whose scores check the plumbing only.

>>> scorer = ClapScorer.build(tiny=True)  # doctest: +SKIP
>>> similarity, margin = scorer.score(waves, 16000, labels, ["dog bark sound", "siren sound"])  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_CLAP = "laion/clap-htsat-unfused"


class ClapLoadError(RuntimeError):
    """A CLAP model that cannot be loaded, with how to get it."""


def load_advice(model_id: str, error: BaseException, key: str) -> str:
    """One line: why ``model_id`` cannot be loaded, and how to get it."""
    reason = (str(error).strip().splitlines() or [""])[0][:200]
    return (
        f"cannot load '{model_id}' ({key}): {type(error).__name__}: {reason}. On a machine with network "
        f"access, pre-download it with `huggingface-cli download {model_id}` (then set HF_HUB_OFFLINE=1), "
        f"or set {key} to a local directory holding it"
    )


def check_reachable(model_id: str, key: str) -> None:
    """Raise :class:`ClapLoadError` now, on the driver, if ``model_id``'s config cannot be had (offline
    and not in the cache, no such local folder, or no such hub id): before any actor starts."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(model_id)
    except (OSError, ValueError) as error:
        raise ClapLoadError(load_advice(model_id, error, key)) from None


def _tiny_clap():
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    from raysynth.generators.tiny_tokenizers import tiny_roberta_tokenizer

    tokenizer = tiny_roberta_tokenizer()
    text = ClapTextConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=80, pad_token_id=tokenizer.pad_token_id,
        projection_dim=16,
    )  # fmt: skip
    audio = ClapAudioConfig(
        spec_size=64, window_size=4, num_mel_bins=16, hidden_size=16, patch_embeds_hidden_size=8,
        depths=[1, 1], num_attention_heads=[1, 2], patch_size=4, patch_stride=(4, 4), enable_fusion=False,
        projection_dim=16,
    )  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)  # every actor builds the same random weights
        model = ClapModel(
            ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16)
        )
    extractor = ClapFeatureExtractor(feature_size=16, sampling_rate=16000, hop_length=160, max_length_s=1,
                                     fft_window_size=400, truncation="rand_trunc")  # fmt: skip
    return model, extractor, tokenizer


def _pooled(output) -> torch.Tensor:
    # transformers 5 returns a model output whose pooler_output is the projected embedding.
    tensor = output.pooler_output if hasattr(output, "pooler_output") else output
    return torch.nn.functional.normalize(tensor.float(), dim=-1)


class ClapScorer:
    """A CLAP model with its feature extractor and tokenizer, loaded once (per Ray Data actor)."""

    def __init__(self, model, extractor, tokenizer, model_id: str) -> None:
        self.model, self.extractor, self.tokenizer, self.model_id = (
            model.eval(),
            extractor,
            tokenizer,
            model_id,
        )

    @classmethod
    def build(cls, model_id: str | None = None, tiny: bool = False) -> ClapScorer:
        if tiny:
            return cls(*_tiny_clap(), "raysynth/tiny-clap")
        from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel

        model_id = model_id or DEFAULT_CLAP
        try:
            model = ClapModel.from_pretrained(model_id)
            extractor = ClapFeatureExtractor.from_pretrained(model_id)
            tokenizer = AutoTokenizer.from_pretrained(model_id)
        except (OSError, ValueError) as error:
            raise ClapLoadError(load_advice(model_id, error, "quality.clap_model_id")) from error
        return cls(model, extractor, tokenizer, model_id)

    @torch.inference_mode()
    def text_embeddings(self, prompts: list[str]) -> torch.Tensor:
        inputs = self.tokenizer(prompts, padding=True, return_tensors="pt")
        return _pooled(self.model.get_text_features(**inputs))

    @torch.inference_mode()
    def audio_embeddings(self, waves: np.ndarray, sample_rate: int) -> torch.Tensor:
        from raysynth.audio import resample

        rate = int(self.extractor.sampling_rate)
        clips = [resample(np.asarray(w, np.float32), sample_rate, rate) for w in waves]
        inputs = self.extractor(clips, sampling_rate=rate, return_tensors="pt")
        return _pooled(self.model.get_audio_features(**inputs))

    def score(
        self, waves: np.ndarray, sample_rate: int, label_ids: np.ndarray, prompts: list[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each clip's similarity to ``prompts[label_id]`` and its margin over the best other prompt.

        Args:
            waves: [n, samples] at ``sample_rate``.
            label_ids: [n] indices into ``prompts``.
            prompts: one label prompt per class, by label id.
        """
        from raysynth.quality.filters import own_and_margin

        similarity = (self.audio_embeddings(waves, sample_rate) @ self.text_embeddings(prompts).T).numpy()
        return own_and_margin(similarity, label_ids)
