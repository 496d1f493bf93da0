"""A teacher beside its few-step student: the same prompts and seeds, spectrograms side by side.

Columns: the teacher at its own steps and at the student's, the student at its steps and
at half of them; rows: four prompts. Prints the seconds an image of each column (the
denoising and the decode, without phase reconstruction) and writes the grid (JPEG)::

    python benchmarks/student_grid.py ~/.cache/sonogen-distill/out/student grid.jpg
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PROMPTS = ("a fast drum beat, drums only", "smooth jazz with saxophone and piano",
           "heavy rock with distorted guitars", "calm ambient pads")
TILE = 256


def main() -> int:
    from sonogen.lite.pipeline import LitePipeline
    from sonogen.models import DEFAULT_MODEL_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("student", type=Path, help="the student's model folder")
    parser.add_argument("out", type=Path, help="the grid picture (.jpg)")
    parser.add_argument("--teacher", type=Path, default=DEFAULT_MODEL_DIR, help="default: the packaged model")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    teacher, student = LitePipeline.load(args.teacher), LitePipeline.load(args.student)
    steps = student.default_steps
    columns = [(f"teacher {teacher.default_steps}", teacher, teacher.default_steps), (f"teacher {steps}", teacher, steps),
               (f"student {steps}", student, steps), (f"student {max(1, steps // 2)}", student, max(1, steps // 2))]
    grid = Image.new("L", (TILE * len(columns), TILE * len(PROMPTS) + 20), 255)
    draw = ImageDraw.Draw(grid)
    print("| column | steps | guidance | s an image |\n|---|---|---|---|")
    for j, (name, pipe, count) in enumerate(columns):
        draw.text((j * TILE + 4, 4), name + " steps", fill=0)
        start = time.perf_counter()
        for i, prompt in enumerate(PROMPTS):
            image = pipe.text_to_image(prompt, seed=i, num_inference_steps=count)
            grid.paste(image.convert("L").resize((TILE, TILE)), (j * TILE, 20 + i * TILE))
        print(f"| {name} | {count} | {pipe.default_guidance:g} | {(time.perf_counter() - start) / len(PROMPTS):.2f} |")
    grid.save(args.out, quality=90)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
