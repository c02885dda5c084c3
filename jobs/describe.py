"""List sound descriptions for a dataset's labels with an LLM (any OpenAI-compatible endpoint).

    OPENAI_API_KEY=... python jobs/describe.py fsdd --base-url https://api.openai.com/v1 --model gpt-4o-mini
    python jobs/describe.py esc50 --root ../data --base-url http://localhost:8000/v1 --model Qwen2.5-7B-Instruct

The API key comes from the environment only ($OPENAI_API_KEY, or the variable --api-key-env names).
The result is cached in --out (default raysynth_work/descriptions/<dataset>.json) with its
provenance (endpoint, model, prompt template, date); labels already there are not asked again.
Point a spec's generation.descriptions at the file to use it for the llm strategy.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from raysynth.cli import run_main
from raysynth.config import DATA_ENV, DEFAULT_WORK_DIR, WORK_ENV
from raysynth.datasets import prepare
from raysynth.inputs.synthetic import manifest_classes
from raysynth.prompts.llm import DescriptionError, describe_labels
from raysynth.storage import join
from raysynth.workspace import as_location, run_cache


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", help="a registered dataset (its manifest is prepared if missing)")
    parser.add_argument(
        "--base-url", required=True, help="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1"
    )
    parser.add_argument("--model", required=True, help="chat model name")
    parser.add_argument("--n", type=int, default=10, help="descriptions per label")
    parser.add_argument("--root", help=f"corpora root (default ${DATA_ENV})")
    parser.add_argument("--work-dir", help=f"manifests (default ${WORK_ENV} or ./{DEFAULT_WORK_DIR})")
    parser.add_argument("--out", help="cache file (default <work_dir>/descriptions/<dataset>.json)")
    parser.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    args = parser.parse_args()

    work_dir = as_location(args.work_dir or os.environ.get(WORK_ENV) or DEFAULT_WORK_DIR)
    run_cache(work_dir)
    root = args.root or os.environ.get(DATA_ENV)
    manifest = prepare(args.dataset, Path(root) if root else None, work_dir).manifest
    classes, _ = manifest_classes(manifest)
    out = as_location(args.out or join(work_dir, "descriptions", f"{args.dataset}.json"))
    api_key = os.environ.get(args.api_key_env)
    if api_key is None and "api.openai.com" in args.base_url:
        raise DescriptionError(
            f"set ${args.api_key_env} to your API key; it is read from the environment only"
        )
    result = describe_labels(
        [c.label_text for c in classes], args.base_url, args.model, args.n, out, api_key, args.timeout
    )
    print(f"{len(result.descriptions)} labels x {args.n} descriptions -> {out}")
    return 0


if __name__ == "__main__":
    run_main(main)
