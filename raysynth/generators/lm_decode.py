"""A fast decoding loop for audiocraft's language models (AudioGen): the same tokens, fewer launches.

audiocraft's ``LMModel.generate`` decodes through its streaming API. Every step it grows each
layer's key/value cache with ``torch.cat`` (a new allocation per layer per step), recomputes the
cross-attention keys and values of the text condition, and dispatches attention through einsum
(or xFormers). At batch 1 a step costs tens of milliseconds of CPU and launch overhead against
about a millisecond of GPU work (see ``bench/gpu_generation.py``).

:func:`fast_generate` runs the same model, step for step:

- a static key/value cache, allocated once for the whole sequence (fixed shapes, so a step can be
  captured in a CUDA graph);
- the cross-attention keys and values of the condition computed once, not every step;
- attention through ``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient
  kernels on a GPU, in the model's dtype);
- classifier-free guidance as one forward over the conditional and unconditional halves, as
  audiocraft does;
- cross-attention that never looks at a text condition's padding: a batch's prompts are padded
  to the longest (T5), and audiocraft's loop lets the padded positions take attention weight, so
  its clips depend on their batch-mates. Here each row attends to exactly the positions it has
  when it is generated alone (its conditional and its unconditional half alike);
- on CUDA and when asked (``generation.compile``), the step compiled with
  ``torch.compile(mode="reduce-overhead")`` (CUDA graphs); off by default, unproven on a GPU.
  Inductor skips CUDA graphs for a graph input that the step mutates unless its address is
  static, and the caches are mutated every step (``index_copy_``). So a compiled step runs in a
  workspace kept for its shape: caches, condition and mask buffers allocated once, marked with
  ``torch._dynamo.mark_static_address`` and refilled in place each call, so the compiled step
  (and its graphs) is reused, never recompiled for new tensors (``raysynth/generators/lm_compile.py``).

Sampling is audiocraft's own (``utils.sample_top_k``, ``utils.multinomial``), so per-clip seeded
sampling (:func:`raysynth.generators.audiogen.per_clip_sampling`) draws the same numbers, and in
fp32 the fast path gives the reference path's tokens (``tests/test_generators.py`` asserts it on
tiny models). :func:`unsupported` names any model feature the loop does not implement; the
generator then falls back to the reference path and says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


def unsupported(lm: Any, **params: Any) -> str | None:
    """Why :func:`fast_generate` cannot run this model with these parameters (``None``: it can)."""
    transformer = lm.transformer
    if params.get("two_step_cfg") or lm.two_step_cfg:
        return "two_step_cfg runs guidance as two passes"
    if params.get("top_p", 0.0) > 0:
        return "top_p sampling"
    if set(lm.fuser.cond2fuse.values()) - {"cross"}:
        return (
            f"condition fusing {sorted(set(lm.fuser.cond2fuse.values()) - {'cross'})} (only cross-attention)"
        )
    if transformer.positional_embedding != "sin" or transformer.rope is not None:
        return f"positional embedding {transformer.positional_embedding!r} (only 'sin')"
    if lm.fuser.cross_attention_pos_emb and list(lm.fuser.cond2fuse.values()).count("cross") > 1:
        return "positional embeddings over several cross-attention conditions"
    if transformer.checkpointing != "none":
        return "activation checkpointing"
    for layer in transformer.layers:
        attention = layer.self_attn
        if not attention.custom:
            return "torch.nn.MultiheadAttention layers (custom=False)"
        if attention.past_context is not None or attention.kv_repeat != 1 or attention.qk_layer_norm:
            return "past_context, kv_repeat or qk_layer_norm"
        if layer.cross_attention is None or layer.cross_attention.qk_layer_norm:
            return "layers without plain cross-attention"
    pattern = lm.pattern_provider.get_pattern(8)
    if pattern.get_first_step_with_timesteps(0) != 1:
        return "a codebook pattern whose first step is not a single special token"
    return None


@dataclass
class _Layer:
    keys: torch.Tensor  # [N, H, S, D] static self-attention cache
    values: torch.Tensor
    cross_keys: torch.Tensor  # [N, H, L, D] the condition, computed once
    cross_values: torch.Tensor
    cross_mask: torch.Tensor | None = None  # [N, 1, 1, L] the positions each row has alone


def cross_key_mask(lm: Any, condition_tensors: dict, batch: int) -> torch.Tensor | None:
    """``[2B, 1, 1, L]``: the cross-attention positions each row of a guided batch has when its
    prompt is generated alone; ``None`` when nothing is padded.

    The fuser concatenates the ``cross`` conditions in order and drops their masks. Alone, a
    prompt's call pads to its own length (its unconditional half, all zeros, has that length too),
    so row b, conditional or not, keeps the positions its conditional mask marks. An empty prompt
    (a mask of zeros) keeps its one position, the end token it has alone.
    """
    masks = [
        mask[:batch] for name, (_, mask) in condition_tensors.items() if lm.fuser.cond2fuse[name] == "cross"
    ]
    if not masks:
        return None
    keep = torch.cat(masks, dim=1).bool()
    keep[~keep.any(dim=1), 0] = True
    if bool(keep.all()):
        return None
    return torch.cat([keep, keep], dim=0)[:, None, None, :]


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    n, t, c = x.shape
    return x.view(n, t, heads, c // heads).transpose(1, 2)


def _prepare(lm: Any, cross_src: torch.Tensor, length: int, cross_mask: torch.Tensor | None) -> list[_Layer]:
    layers = []
    n = cross_src.shape[0]
    for layer in lm.transformer.layers:
        attention, cross = layer.self_attn, layer.cross_attention
        heads, dim = attention.num_heads, attention.embed_dim
        weight, bias = cross.in_proj_weight, cross.in_proj_bias
        b_k = None if bias is None else bias[dim : 2 * dim]
        b_v = None if bias is None else bias[2 * dim :]
        cross_keys = _heads(F.linear(cross_src, weight[dim : 2 * dim], b_k), heads)
        cross_values = _heads(F.linear(cross_src, weight[2 * dim :], b_v), heads)
        shape = (n, heads, length, dim // heads)
        dtype = cross_keys.dtype
        empty = torch.zeros(shape, dtype=dtype, device=cross_src.device)
        layers.append(_Layer(empty, empty.clone(), cross_keys, cross_values, cross_mask))
    return layers


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask, as_float32: bool) -> torch.Tensor:
    dtype = q.dtype
    if as_float32:
        q, k, v = q.float(), k.float(), v.float()
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return out.to(dtype)


def _self_attention(layer: Any, h: torch.Tensor, cache: _Layer, position: torch.Tensor, mask) -> torch.Tensor:
    attention = layer.self_attn
    heads = attention.num_heads
    q, k, v = F.linear(h, attention.in_proj_weight, attention.in_proj_bias).chunk(3, dim=-1)
    q, k, v = _heads(q, heads), _heads(k, heads), _heads(v, heads)
    cache.keys.index_copy_(2, position, k)
    cache.values.index_copy_(2, position, v)
    x = _attend(q, cache.keys, cache.values, mask, attention.attention_as_float32)
    return attention.out_proj(x.transpose(1, 2).reshape(h.shape))


def _cross_attention(layer: Any, h: torch.Tensor, cache: _Layer) -> torch.Tensor:
    attention = layer.cross_attention
    dim = attention.embed_dim
    bias = None if attention.in_proj_bias is None else attention.in_proj_bias[:dim]
    q = _heads(F.linear(h, attention.in_proj_weight[:dim], bias), attention.num_heads)
    x = _attend(q, cache.cross_keys, cache.cross_values, cache.cross_mask, attention.attention_as_float32)
    return attention.out_proj(x.transpose(1, 2).reshape(h.shape))


def _layer_step(layer: Any, x: torch.Tensor, cache: _Layer, position: torch.Tensor, mask) -> torch.Tensor:
    """One token through one ``StreamingTransformerLayer`` (both its norm orders), dropout off.

    Post-norm layers query the cross-attention with the layer's input, not the self-attention's
    output: audiocraft does so, and the same tokens need the same quirk.
    """
    if layer.norm_first:
        x = x + layer.layer_scale_1(_self_attention(layer, layer.norm1(x), cache, position, mask))
        x = x + layer.layer_scale_cross(_cross_attention(layer, layer.norm_cross(x), cache))
        return x + layer.layer_scale_2(layer._ff_block(layer.norm2(x)))
    src = x
    x = layer.norm1(x + layer.layer_scale_1(_self_attention(layer, x, cache, position, mask)))
    x = layer.norm_cross(x + layer.layer_scale_cross(_cross_attention(layer, src, cache)))
    return layer.norm2(x + layer.layer_scale_2(layer._ff_block(x)))


def _make_step(lm: Any, layers: list[_Layer], cfg_coef: float, batch: int):
    from audiocraft.modules.transformer import create_sin_embedding

    transformer = lm.transformer
    width = transformer.layers[0].self_attn.embed_dim
    length = layers[0].keys.shape[2]

    def step(tokens: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K, card]`` after guidance, for tokens ``[B, K, 1]`` at ``position``."""
        both = torch.cat([tokens, tokens], dim=0)
        x = sum(lm.emb[k](both[:, k]) for k in range(both.shape[1]))
        positions = position.view(1, 1, 1)
        x = x + transformer.positional_scale * create_sin_embedding(
            positions, width, transformer.max_period, x.dtype
        )
        mask = (torch.arange(length, device=x.device) <= position).view(1, 1, 1, length)
        for layer, cache in zip(transformer.layers, layers, strict=True):
            x = _layer_step(layer, x, cache, position, mask)
        if lm.out_norm:
            x = lm.out_norm(x)
        logits = torch.stack([linear(x) for linear in lm.linears], dim=1)[:, :, -1]  # [2B, K, card]
        cond, uncond = logits.split(batch, dim=0)
        return uncond + (cond - uncond) * cfg_coef

    return step


@torch.no_grad()
def fast_generate(
    lm: Any,
    prompt: torch.Tensor | None = None,
    conditions: list | None = None,
    num_samples: int | None = None,
    max_gen_len: int = 256,
    use_sampling: bool = True,
    temp: float = 1.0,
    top_k: int = 250,
    top_p: float = 0.0,
    cfg_coef: float | None = None,
    two_step_cfg: bool | None = None,
    remove_prompts: bool = False,
    check: bool = False,
    callback=None,
    compiler: Any = None,
) -> torch.Tensor:
    """``LMModel.generate`` for text-conditioned generation without an audio prompt, via the fast loop.

    Takes ``LMModel.generate``'s arguments and returns the same ``[B, K, T]`` codes. ``compiler``
    (``lm_compile.compiled_step``, its backend bound) makes the step compiled, in place of the eager one.
    """
    from audiocraft.modules.conditioners import ClassifierFreeGuidanceDropout
    from audiocraft.utils import utils as ac_utils

    if prompt is not None and prompt.shape[-1] > 0:
        raise ValueError("fast_generate does not continue an audio prompt; use LMModel.generate")
    if not conditions:
        raise ValueError("fast_generate needs text conditions (classifier-free guidance)")
    reason = unsupported(lm, top_p=top_p, two_step_cfg=two_step_cfg)
    if reason:
        raise ValueError(f"fast_generate does not support {reason}")
    device = next(lm.parameters()).device
    batch, codebooks = len(conditions), lm.num_codebooks
    cfg_coef = lm.cfg_coef if cfg_coef is None else cfg_coef
    null_conditions = ClassifierFreeGuidanceDropout(p=1.0)(conditions)
    condition_tensors = lm.condition_provider(lm.condition_provider.tokenize(conditions + null_conditions))
    placeholder = torch.zeros(2 * batch, 1, lm.dim, device=device)
    _, cross_src = lm.fuser(placeholder, condition_tensors)

    pattern = lm.pattern_provider.get_pattern(max_gen_len)
    unknown = -1
    codes = torch.full((batch, codebooks, max_gen_len), unknown, dtype=torch.long, device=device)
    sequence, _, mask = pattern.build_pattern_sequence(codes, lm.special_token_id)
    steps = sequence.shape[-1]
    cross_mask = cross_key_mask(lm, condition_tensors, batch)
    if compiler is not None:  # opt-in: the captured step is unproven on a GPU
        step = compiler(lm, cross_src, steps, cross_mask, cfg_coef, batch)
    else:
        step = _make_step(lm, _prepare(lm, cross_src, steps, cross_mask), cfg_coef, batch)
    for offset in range(1, steps):
        position = torch.tensor([offset - 1], device=device)
        logits = step(sequence[..., offset - 1 : offset], position).float()
        if use_sampling and temp > 0.0:
            probs = torch.softmax(logits / temp, dim=-1)
            token = ac_utils.sample_top_k(probs, k=top_k) if top_k > 0 else ac_utils.multinomial(probs, 1)
        else:
            token = torch.argmax(logits, dim=-1, keepdim=True)
        valid = mask[..., offset : offset + 1].expand(batch, -1, -1)
        token[~valid] = lm.special_token_id
        current = sequence[..., offset : offset + 1]
        sequence[..., offset : offset + 1] = torch.where(current == unknown, token, current)
        if callback is not None:
            callback(offset, steps - 1)
    out, _, out_mask = pattern.revert_pattern_sequence(sequence, special_token=unknown)
    if not (out[..., :max_gen_len] != unknown).all() or not bool(out_mask[..., :max_gen_len].all()):
        raise RuntimeError("fast_generate left codes ungenerated: the codebook pattern was not followed")
    return out[..., :max_gen_len]
