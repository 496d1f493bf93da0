"""Clips for prompts a newcomer might type, each beside a rendered clip of the style it evokes.

Generates one 5.12 s clip per prompt with ``sonogen generate`` (the packaged model, or
``--checkpoint``, at its own sampling settings) and writes ``OUT/newcomer_<k>.mp3`` plus
one picture, ``OUT/newcomer_grid.png``: a row per prompt, the generated spectrogram on the
left and, on the right, a held-out *rendered* clip of the style the prompt is labelled with
(the first one of that style that is not a blend), so the two can be compared by eye::

    python benchmarks/newcomer_clips.py --heldout ~/.cache/sonogen-v2/heldout --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: (prompt, the corpus style it should evoke): the kinds of prompt people typed into Riffusion.
PROMPTS: tuple[tuple[str, str], ...] = (
    ("a trumpet solo over a swing band", "jazz swing"),
    ("organ music in a cathedral", "gospel"),
    ("bongos on a havana street", "salsa"),
    ("violins playing a folk dance", "celtic"),
    ("a mellow beat to study to", "lo-fi hip hop"),
    ("heavy metal with screaming guitars", "metal"),
    ("a harpsichord at a royal court", "baroque"),
    ("retro synths on a night drive", "synthwave"),
)
TILE = 256
LABEL = 18


def rendered_example(heldout: Path, style: str) -> Path:
    """The first held-out image of ``style`` that is not a blend of two styles."""
    for line in (heldout / "metadata.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("style") == style and not row.get("blend"):
            return heldout / str(row["file_name"])
    raise SystemExit(f"no rendered clip of style {style!r} in {heldout}")


def main() -> int:
    from sonogen.cli import main as sonogen

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path, required=True, help="held-out corpus folder (synth-corpus --images)")
    parser.add_argument("--checkpoint", default=None, help="model folder (default: the packaged model)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    grid = Image.new("L", (2 * TILE + 8, len(PROMPTS) * (TILE + LABEL)), 255)
    draw = ImageDraw.Draw(grid)
    print("| clip | prompt | style it should evoke | rendered example |\n|---|---|---|---|")
    for k, (prompt, style) in enumerate(PROMPTS):
        clip, picture = args.out / f"newcomer_{k}.mp3", args.out / f"newcomer_{k}.png"
        extra = ["--checkpoint", args.checkpoint] if args.checkpoint else []
        if sonogen(["generate", prompt, "-o", str(clip), "--image", str(picture), "--seed", str(args.seed), *extra]):
            raise SystemExit(f"generate failed for {prompt!r}")
        example = rendered_example(args.heldout, style)
        top = k * (TILE + LABEL)
        draw.text((4, top + 3), f"{prompt}  |  rendered {style}", fill=0)
        with Image.open(picture) as made, Image.open(example) as real:
            grid.paste(made.convert("L").resize((TILE, TILE)), (0, top + LABEL))
            grid.paste(real.convert("L").resize((TILE, TILE)), (TILE + 8, top + LABEL))
        picture.unlink()
        print(f"| `{clip.name}` | {prompt} | {style} | {example.name} |")
    grid.save(args.out / "newcomer_grid.png", optimize=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
