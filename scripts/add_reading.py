"""Give a trained sentence-encoder model folder its prompt reading (``text_encoder/reading.*``).

Models trained by ``sonogen train`` get the reading at export; this adds it, or makes it
again (after the packaged phrases change), for a folder trained before, from the
corpus it was trained on: every caption of ``CORPUS/metadata.jsonl`` that fits one
encoder window, with its style, and the packaged ``sonogen/data/style_phrases.json``::

    python scripts/add_reading.py --model sonogen/models/default --dataset ~/.cache/sonogen-v2/corpus
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    from sonogen.models.reading import (
        READING_EMBEDDINGS,
        READING_FILE,
        reading_key,
        write_reading,
    )
    from sonogen.models.text import SentenceTextEncoder, packaged_tokenizer
    from sonogen.models.vocabulary import dataset_reading, write_embeddings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model folder with a sentence text encoder")
    parser.add_argument("--dataset", type=Path, required=True, help="its training corpus (metadata.jsonl)")
    args = parser.parse_args(argv)
    folder = args.model / "text_encoder"
    encoder = SentenceTextEncoder.from_pretrained(str(folder))
    max_length = int(encoder.config["max_position_embeddings"])
    rows = [json.loads(line) for line in (args.dataset / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    reading = dataset_reading(args.dataset, rows, packaged_tokenizer(encoder.source, max_length), max_length)
    encoder.set_reading(reading)
    embeddings = encoder.reading_embeddings()
    write_reading(reading, folder / READING_FILE)
    write_embeddings(embeddings, folder / READING_EMBEDDINGS, reading_key(encoder.config["sha256"], reading))
    print(f"{folder}: {len(reading.captions)} captions of {len(set(reading.caption_styles))} styles "
          f"(of {len(rows)} rows), {len(reading.phrases)} phrases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
