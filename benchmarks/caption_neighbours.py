"""What the text encoder alone knows of a prompt set: the style of each prompt's nearest captions.

For every prompt of a set in ``benchmarks/prompt_sets.json`` it takes the sentence
embedding the model's text encoder gives (the packaged model's frozen sentence encoder, or
``--checkpoint``'s), finds the training captions (``CORPUS/metadata.jsonl``) nearest by
cosine, and checks whether the nearest one, and a vote of the ``--k`` nearest, has the
style the prompt is labelled with. A model conditioned on that encoder can follow such
prompts at best about as often as this finds the right captions, unless its UNet learns
more from the words than the encoder's neighbourhoods hold; set beside the generated
clips' figure (``prompt_adherence.py``) it says whether text or image side loses more::

    python benchmarks/caption_neighbours.py --corpus ~/.cache/sonogen-v2/corpus
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def neighbour_styles(prompts: torch.Tensor, captions: torch.Tensor, styles: list[str], k: int) -> list[tuple[str, str]]:
    """``(nearest caption's style, majority style of the k nearest)`` for each prompt.

    Args:
        prompts: ``(P, H)`` unit embeddings; captions: ``(C, H)`` unit embeddings with
            ``styles[c]`` the style of caption ``c``.
    """
    similarity = prompts @ captions.T
    out = []
    for row in similarity:
        nearest = row.topk(min(k, len(styles))).indices.tolist()
        vote = Counter(styles[i] for i in nearest).most_common(1)[0][0]
        out.append((styles[nearest[0]], vote))
    return out


def main() -> int:
    from sonogen.pipeline.loading import load_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the training corpus folder (metadata.jsonl)")
    parser.add_argument("--checkpoint", default=None, help="model folder (default: the packaged model)")
    parser.add_argument("--prompts", type=Path, default=REPO / "benchmarks" / "prompt_sets.json")
    parser.add_argument("--set", default="unseen_words", help="prompt set (unseen_words)")
    parser.add_argument("--k", type=int, default=10, help="neighbours in the vote (10)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    encoder = load_checkpoint(args.checkpoint).text_encoder
    if not hasattr(encoder, "embed"):
        raise SystemExit("this model's text encoder gives no sentence embeddings")
    rows = [json.loads(line) for line in (args.corpus / "metadata.jsonl").read_text(encoding="utf-8").splitlines()]
    prompts = json.loads(args.prompts.read_text(encoding="utf-8"))[args.set]
    found = neighbour_styles(encoder.embed([p["prompt"] for p in prompts]), encoder.embed([r["text"] for r in rows]),
                             [str(r["style"]) for r in rows], args.k)
    nearest = sum(n == p["style"] for (n, _), p in zip(found, prompts, strict=True))
    voted = sum(v == p["style"] for (_, v), p in zip(found, prompts, strict=True))
    print(f"| set | prompts | nearest caption has the prompt's style | {args.k}-nearest vote |\n|---|---|---|---|")
    print(f"| {args.set} | {len(prompts)} | {nearest / len(prompts):.1%} | {voted / len(prompts):.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
