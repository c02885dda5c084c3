"""The fast decode step compiled for CUDA graphs, in a workspace that inductor can capture.

Inductor skips CUDA graphs for a graph input that the step mutates unless its address is static
(``torch/_inductor/cudagraph_utils.py``, "mutated inputs"), and the fast step writes its key/value
caches every step (``index_copy_``). So a compiled step runs in a workspace kept on the model for
its shape: caches, condition and mask buffers allocated once, marked with
``torch._dynamo.mark_static_address`` and refilled in place each call, so one compiled step (and on
CUDA its graphs) serves every call; a new closure per call would make dynamo compile again, and
new tensors would make cudagraph trees re-record. :func:`unstatic_mutations` proves on CPU that no
mutated input is left non-static; a capture inductor still skips on a GPU is logged and counted
(:data:`cudagraph_skips`), and ``bench/gpu_generation.py --compile`` prints it beside its figures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from raysynth.generators.lm_decode import _Layer, _make_step, _prepare

log = logging.getLogger(__name__)

WORKSPACES = 4  # compiled steps kept per model (one per batch, length and condition shape)


@dataclass
class _Workspace:
    layers: list[_Layer]
    cross_src: torch.Tensor  # [2B, L, C] refilled each call
    step: Any
    captured: bool = False


def compiled_step(lm, cross_src, steps, cross_mask, cfg_coef, batch, backend=None):
    """The step compiled for this shape, in a workspace kept on ``lm``: static buffers refilled in
    place, so every call reuses one compiled step (and on CUDA its captured graphs).
    ``backend``: a ``torch.compile`` backend (``None``: inductor with CUDA graphs, ``reduce-overhead``).
    """
    workspaces: dict = lm.__dict__.setdefault("_raysynth_workspaces", {})
    key = (tuple(cross_src.shape), cross_src.dtype, cross_src.device, steps, float(cfg_coef), batch, cross_mask is None,
           repr(backend))  # fmt: skip
    workspace = workspaces.pop(key, None)
    if workspace is None:
        if len(workspaces) >= WORKSPACES:
            workspaces.pop(next(iter(workspaces)))
        buffer = cross_src.clone()
        mask = None if cross_mask is None else cross_mask.clone()
        layers = _prepare(lm, buffer, steps, mask)
        for layer in layers:
            for tensor in (layer.keys, layer.values, layer.cross_keys, layer.cross_values, layer.cross_mask):
                if tensor is not None:
                    torch._dynamo.mark_static_address(tensor)
        eager = _make_step(lm, layers, cfg_coef, batch)
        if backend is None:
            compiled = torch.compile(eager, mode="reduce-overhead", dynamic=False)
        else:
            compiled = torch.compile(eager, backend=backend, dynamic=False)
        workspace = _Workspace(layers, buffer, compiled)
    else:  # refill in place: the same tensors, the same compiled step
        workspace.cross_src.copy_(cross_src)
        fresh = _prepare(lm, cross_src, 0, cross_mask)
        for layer, new in zip(workspace.layers, fresh, strict=True):
            layer.keys.zero_()
            layer.values.zero_()
            layer.cross_keys.copy_(new.cross_keys)
            layer.cross_values.copy_(new.cross_values)
            if layer.cross_mask is not None:
                layer.cross_mask.copy_(new.cross_mask)
    workspaces[key] = workspace
    return _watch_capture(workspace)


def _watch_capture(workspace: _Workspace):
    """The workspace's step; on its first call on CUDA, a skipped CUDA-graph capture is logged and
    counted on the workspace (``cudagraph_skips``), never silent."""
    if workspace.captured:
        return workspace.step

    def first(*args):
        from torch._dynamo.utils import counters

        before = counters["inductor"]["cudagraph_skips"]
        out = workspace.step(*args)
        workspace.captured = True
        skipped = counters["inductor"]["cudagraph_skips"] - before
        if skipped:
            global cudagraph_skips
            cudagraph_skips += skipped
            log.warning("fast_generate: inductor skipped CUDA graphs for the compiled step (%d); see "
                        "TORCH_LOGS=perf_hints for why", skipped)  # fmt: skip
        return out

    return first


cudagraph_skips = 0  # compiled steps whose CUDA-graph capture inductor skipped, in this process


def unstatic_mutations(lm: Any, batch: int = 2, steps: int = 8) -> list[str]:
    """The graph inputs the compiled step mutates whose address is not static (inductor would skip
    CUDA graphs for them), found by compiling one step on this device with an AOT backend that
    reads the graph's own input metadata. Empty: nothing stops a capture on this count."""
    from torch._dynamo.backends.common import aot_autograd

    found: list[str] = []

    def inspect(gm, example_inputs):
        meta = torch._guards.TracingContext.try_get().fw_metadata
        static = set(meta.static_input_indices)
        names = [node.name for node in gm.graph.find_nodes(op="placeholder")]
        found.extend(
            names[i] if i < len(names) else str(i)
            for i, info in enumerate(meta.input_info)
            if info.mutates_data and i not in static
        )
        return gm

    device = next(lm.parameters()).device
    dim = lm.dim
    cross_src = torch.zeros(2 * batch, 3, dim, device=device)
    step = compiled_step(lm, cross_src, steps, None, 3.0, batch, backend=aot_autograd(fw_compiler=inspect))
    lm.__dict__["_raysynth_workspaces"].clear()
    tokens = torch.full((batch, lm.num_codebooks, 1), lm.special_token_id, device=device)
    with torch.no_grad():
        step(tokens, torch.tensor([0], device=device))
    return found
