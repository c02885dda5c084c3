"""Fine-tune vs linear probe, per trial, measured side by side in one run (CPU unless a GPU is there).

An AST-architecture encoder with random weights (weights do not change speed) on N clips of
5 s (or --seconds). Fine-tuning pays a forward and backward pass through the encoder every epoch;
a linear probe reads cached embeddings (computed once per clip and backbone, shared by every
trial) and trains only the head.

    uv run python bench/train_modes.py [--clips 256] [--epochs 5] [--hidden 192] [--layers 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn
from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

from raysynth.train.models.pretrained import Frontend, PretrainedClassifier, _ast_pool


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    frames = int(args.seconds * 100)
    config = ASTConfig(hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=max(1, args.hidden // 64),
                       intermediate_size=4 * args.hidden, max_length=frames)  # fmt: skip
    model = PretrainedClassifier(
        "ast",
        ASTModel(config),
        Frontend(ASTFeatureExtractor(max_length=frames), "input_values"),
        args.hidden,
        10,
        _ast_pool,
    ).to(device)
    waves = (
        np.random.default_rng(0).standard_normal((args.clips, int(16000 * args.seconds))).astype(np.float32)
        * 0.1
    )
    features = model.features(waves).to(device)
    labels = torch.randint(0, 10, (args.clips,), device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    start = time.perf_counter()
    model.train()
    for i in range(0, args.clips, args.batch_size):
        loss = nn.functional.cross_entropy(
            model(model.augment(features[i : i + args.batch_size])), labels[i : i + args.batch_size]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    finetune_epoch = time.perf_counter() - start

    start = time.perf_counter()
    model.eval()
    with torch.no_grad():
        embeddings = torch.cat([model.embed(features[i : i + 64]) for i in range(0, args.clips, 64)])
    embed_once = time.perf_counter() - start
    head = nn.Linear(args.hidden, 10).to(device)
    head_optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3)
    start = time.perf_counter()
    for i in range(0, args.clips, args.batch_size):
        loss = nn.functional.cross_entropy(
            head(embeddings[i : i + args.batch_size]), labels[i : i + args.batch_size]
        )
        head_optimizer.zero_grad()
        loss.backward()
        head_optimizer.step()
    probe_epoch = time.perf_counter() - start

    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(
        f"AST-arch hidden={args.hidden} layers={args.layers}, {args.clips} clips x {args.seconds:g}s, {name}"
    )
    print(f"finetune epoch:        {finetune_epoch:9.3f} s")
    print(f"embed once (cache):    {embed_once:9.3f} s   (shared by every linear-probe trial)")
    print(f"linear-probe epoch:    {probe_epoch:9.4f} s   epoch ratio {finetune_epoch / probe_epoch:,.0f}x")
    trial_ft, trial_lp = args.epochs * finetune_epoch, args.epochs * probe_epoch
    print(f"per trial ({args.epochs} epochs): finetune {trial_ft:.2f} s vs probe {trial_lp:.3f} s on cached embeddings "
          f"({trial_ft / trial_lp:,.0f}x), {trial_ft / (trial_lp + embed_once):.1f}x counting the cache once")  # fmt: skip


if __name__ == "__main__":
    main()
