"""Prompt adherence of a model on the frozen prompt sets (``benchmarks/prompt_sets.json``).

Three figures, each over ``--seeds`` clips per prompt generated with the model's default
sampling settings and judged as audio (the returned waveform analysed again with the
format's STFT, as rendered clips were):

* **unseen words**: share of clips from the ``unseen_words`` prompts that a style
  classifier labels (top-1) as the prompt's style;
* **instruments**: share of clips from the ``instruments`` prompts in which an instrument
  classifier finds the named instrument (or one the prompt accepts as the same sound);
* **two-part**: share of clips from the ``two_part`` prompts ("style A with instrument
  B") where the style classifier ranks A among its top two labels (:data:`TWO_PART_TOP`)
  *and* the instrument classifier finds B. Two, because a foreign instrument rightly pulls
  a clip towards the style it comes from (a fiddle over techno sounds a little like
  country), so the runner-up place is left to that style.

Both classifiers are fitted on rendered held-out clips only (``sonogen synth-corpus
--images`` folders, never generated clips): the style classifier is the multinomial
logistic regression of ``judge.py`` on :func:`judge.pixel_features`; the instrument
classifier is one-vs-rest logistic regression on :func:`judge.instrument_features` with
the ``instruments`` metadata (GM program names) as labels, each instrument's threshold set
so that 10% (``--false-alarm``) of clips without it are flagged, on out-of-fold scores.
Every third held-out clip is kept out of both fits to validate them: the script prints
each instrument's detection rate (recall) and false-alarm rate on those clips, and the
same for each instrument a prompt names (with the sounds it accepts as the same answer),
which it calls *reliable* at >= 80% recall and <= 20% false alarms with at least
``--min-positives`` validation clips; the prompt sets name only such instruments (it
warns otherwise). The same validation clips give the rendered baselines: what the
classifiers score on rendered clips of the prompted styles and instruments, and on
rendered blends of a style with a foreign instrument layer the two-part prompts name.

Alongside the instrument figure it prints how often the classifier finds an instrument in
clips prompted for *other* instruments: a model that put every sound in every clip would
score high on the first and badly on this one.

    python benchmarks/prompt_adherence.py --heldout ~/.cache/sonogen-v2/heldout --seeds 4 --out adherence.json
    python benchmarks/prompt_adherence.py --heldout HELD --limit 30 --seeds 2     # a quick run

Features of the rendered clips take a few minutes on one core; ``--features-cache FILE``
keeps them between runs (recomputed when the folders, their clips or the feature code's
:data:`FEATURE_VERSION` differ).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge import (  # noqa: E402  (the benchmarks' shared features, classifiers and data)
    FEATURE_VERSION,
    InstrumentClassifier,
    StyleClassifier,
    audio_pixels,
    instrument_features,
    instrument_labels,
    load_heldout,
    pixel_features,
    top_styles,
)
from prompt_sets import (  # noqa: E402
    PROMPT_SETS_PATH,
    SET_NAMES,
    check,
    content_words,
    known_words,
    load_prompt_sets,
    unseen_words,
    word_pieces,
)

#: An instrument is reliable on rendered clips at this recall or more ...
MIN_RECALL = 0.8
#: ... with at most this false-alarm rate.
MAX_FALSE_ALARM = 0.2
#: Two-part prompts: the prompted style must be among this many top style labels.
TWO_PART_TOP = 2
#: Seed of a prompt's k-th clip: the same seeds for every prompt, so prompts share noise.
SEED_BASE = 10_000


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="diffusers folder (default: the packaged default model)")
    parser.add_argument("--heldout", type=Path, action="append", required=True,
                        help="held-out corpus folder (synth-corpus --images); repeat to pool several")
    parser.add_argument("--prompts", type=Path, default=PROMPT_SETS_PATH, help="prompt-set file")
    parser.add_argument("--seeds", type=int, default=4, help="generated clips per prompt (4)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N prompts of each set")
    parser.add_argument("--batch", type=int, default=8, help="clips per pipeline call")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--false-alarm", type=float, default=0.1,
                        help="share of rendered clips without an instrument that its threshold flags (0.1)")
    parser.add_argument("--min-positives", type=int, default=8,
                        help="validation clips with an instrument needed to call it reliable (8)")
    parser.add_argument("--classifiers-only", action="store_true",
                        help="fit and validate the classifiers, print the rendered baselines, generate nothing")
    parser.add_argument("--features-cache", type=Path, default=None, metavar="FILE",
                        help="keep the rendered clips' features in this .npz between runs")
    parser.add_argument("--sets", nargs="+", choices=SET_NAMES, default=list(SET_NAMES),
                        help="generate and score only these sets (all three)")
    parser.add_argument("--literal", action="store_true",
                        help="draw every prompt as written (a model's prompt reading off), as `generate --literal`")
    parser.add_argument("--leave-out-own-words", action="store_true",
                        help="read each prompt without the reading's phrases that contain one of the prompt's "
                             "unseen words: how far the reading carries words its phrases do not hold")
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- data
def read_without_own_words(text_encoder: Any, prompt: str) -> str | None:
    """The caption ``prompt`` is read as when the reading's phrases that hold one of the
    prompt's unseen words (or an unknown piece of one) are left out of the vote; None when
    the model draws the prompt as written.

    The phrases were written without the prompt sets, but many share their everyday words;
    leaving those out measures what the sentence encoder carries on its own."""
    from sonogen.models.reading import read_as_caption
    from sonogen.models.vocabulary import read_prompt

    if read_prompt(text_encoder, prompt) is None:
        return None
    reading = text_encoder.reading
    own = {p for w in unseen_words(prompt) for p in word_pieces(w, known_words())}
    keep = [i for i, phrase in enumerate(reading.phrases)
            if not own & {p for w in content_words(phrase) for p in word_pieces(w, frozenset())}]
    return read_as_caption(reading, text_encoder.reading_embeddings(), text_encoder.embed([prompt])[0], keep)


def load_pooled(folders: Sequence[Path]) -> dict[str, Any]:
    """Held-out folders pooled: ``images`` uint8 ``(N, bands, frames)``, ``styles``, ``rows``
    and ``files`` (each clip's image path, a cache key)."""
    parts = [(Path(f).expanduser().resolve(), load_heldout(Path(f).expanduser())) for f in folders]
    return {"images": np.concatenate([p["images"] for _, p in parts]),
            "styles": np.concatenate([p["styles"] for _, p in parts]),
            "rows": [r for _, p in parts for r in p["rows"]],
            "files": [str(f / r["file_name"]) for f, p in parts for r in p["rows"]]}


def clip_features(held: dict[str, Any], cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Style features ``(N, Ds)`` and instrument features ``(N, Di)`` of the pooled clips,
    read from ``cache`` when it holds exactly these files at :data:`FEATURE_VERSION`."""
    key = json.dumps({"version": FEATURE_VERSION, "files": held["files"]})
    if cache is not None and cache.is_file():
        with np.load(cache) as stored:
            if str(stored["key"]) == key:
                return stored["style"], stored["instrument"]
    start = time.perf_counter()
    style_x = np.stack([pixel_features(p) for p in held["images"]])
    inst_x = np.stack([instrument_features(p) for p in held["images"]])
    print(f"features of {len(inst_x)} rendered clips: {time.perf_counter() - start:.0f} s", flush=True)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, key=np.array(key), style=style_x, instrument=inst_x)
    return style_x, inst_x


def split_mask(n: int, every: int = 3) -> np.ndarray:
    """Bool ``(n,)``: True for the validation clips, every ``every``-th one (indices ``every - 1``,
    ``2 * every - 1``, ...); a corpus's clips come in seed order, so this mixes styles evenly."""
    return np.arange(n) % every == every - 1


def share(values: Sequence[bool] | np.ndarray) -> float | None:
    """Mean of a bool sequence, None when empty."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()) if arr.size else None


def accepted(item: dict[str, Any]) -> list[str]:
    """The GM programs a prompt item counts as its instrument: its ``instrument`` and ``accept``."""
    return [item["instrument"], *item.get("accept", [])]


def found(detected: np.ndarray, instruments: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """Bool ``(N,)``: any of ``names`` detected, from detections ``(N, len(instruments))``.

    Names the classifier does not know count as not found.
    """
    cols = [instruments.index(n) for n in names if n in instruments]
    return detected[:, cols].any(axis=1) if cols else np.zeros(len(detected), dtype=bool)


def reliability(detected: np.ndarray, labels: np.ndarray, instruments: Sequence[str], group: Sequence[str],
                min_positives: int) -> dict[str, Any]:
    """How well ``group`` (GM names counted as one answer) is found in rendered clips.

    Args:
        detected: bool ``(N, len(instruments))`` classifier output.
        labels: bool ``(N, len(instruments))`` what the clips hold.

    Returns:
        ``positives`` (clips holding one of the group), ``recall`` (share of them where
        one is found), ``false_alarm`` (share of the other clips where one is found) and
        ``reliable`` (recall >= :data:`MIN_RECALL`, false alarms <= :data:`MAX_FALSE_ALARM`,
        at least ``min_positives`` positives).
    """
    hit = found(detected, instruments, group)
    held = found(labels, instruments, group)
    recall, alarm = share(hit[held]), share(hit[~held])
    ok = (int(held.sum()) >= min_positives and recall is not None and alarm is not None
          and recall >= MIN_RECALL and alarm <= MAX_FALSE_ALARM)
    return {"positives": int(held.sum()), "recall": recall, "false_alarm": alarm, "reliable": bool(ok)}


def prompt_groups(sets: dict[str, list[dict[str, Any]]]) -> list[tuple[str, ...]]:
    """The distinct instrument groups (instrument + accepted) the instrument and two-part prompts name."""
    return sorted({tuple(accepted(i)) for k in ("instruments", "two_part") for i in sets[k]})


# --------------------------------------------------------------------------- classifiers
def fit_classifiers(held: dict[str, Any], val: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    """Fit both classifiers on the non-validation clips and validate them on the others.

    Returns the classifiers, their outputs on the validation clips (``val_top``: the top
    :data:`TWO_PART_TOP` styles; ``val_detected``) with the clips' labels and rows, and a
    per-instrument table ``{name: {"fit_positives", "positives", "recall", "false_alarm",
    "reliable"}}`` on the validation clips.
    """
    start = time.perf_counter()
    style_x, inst_x = clip_features(held, args.features_cache)
    styles = sorted(set(held["styles"].tolist()))
    fit = ~val
    style_clf = StyleClassifier(styles).fit(style_x[fit], held["styles"][fit].tolist())
    names = sorted({i for k in np.flatnonzero(fit) for i in held["rows"][k].get("instruments", ())})
    counts = instrument_labels([held["rows"][k] for k in np.flatnonzero(fit)], names).sum(axis=0)
    names = [n for n, c in zip(names, counts, strict=True) if c >= 3]  # too few clips to fit anything
    labels = instrument_labels(held["rows"], names)
    inst_clf = InstrumentClassifier(names).calibrate(inst_x[fit], labels[fit], false_alarm=args.false_alarm)
    detected = inst_clf.detect(inst_x[val])
    table = {name: {"fit_positives": int(labels[fit, j].sum()),
                    **reliability(detected, labels[val], names, [name], args.min_positives)}
             for j, name in enumerate(names)}
    print(f"classifiers fitted on {int(fit.sum())} rendered clips, validated on {int(val.sum())}: "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return {"style": style_clf, "instrument": inst_clf, "styles": styles, "instrument_table": table,
            "val_top": top_styles(style_clf, style_x[val], TWO_PART_TOP), "val_detected": detected,
            "val_labels": labels[val], "val_rows": [r for r, v in zip(held["rows"], val, strict=True) if v]}


def rendered_baselines(sets: dict[str, list[dict[str, Any]]], fitted: dict[str, Any]) -> dict[str, Any]:
    """What the classifiers score on rendered validation clips, per set.

    * ``unseen_words``: per prompt, the top-1 share of its style's unblended clips;
      averaged over the set's prompts (so styles weigh as in the set);
    * ``instruments``: per prompt, the share of clips holding one of its accepted
      instruments in which one is found; averaged over prompts;
    * ``two_part``: rendered blends of a style with a foreign instrument layer that plays
      an instrument group some two-part prompt names: the share where the host style is
      among the top :data:`TWO_PART_TOP` labels *and* the group is found; and per
      instrument group how often it is found in those blends (few clips each).
    """
    from sonogen.data import gm
    from sonogen.data.blends import LAYERS

    rows, top = fitted["val_rows"], fitted["val_top"]
    detected, names = fitted["val_detected"], fitted["instrument"].instruments
    style_top1 = {}
    for style in fitted["styles"]:
        idx = [k for k, r in enumerate(rows) if r["style"] == style and not r.get("blend")]
        style_top1[style] = share([top[k][0] == style for k in idx])
    per_prompt = [style_top1.get(i["style"]) for i in sets["unseen_words"]]
    inst_rates = []
    for item in sets["instruments"]:
        idx = [k for k, r in enumerate(rows) if set(accepted(item)) & set(r.get("instruments", ()))]
        if idx:
            inst_rates.append(float(found(detected[idx], names, accepted(item)).mean()))
    groups = [accepted(i) for i in sets["two_part"]]
    both, style_ok, inst_ok = [], [], []
    per_group: dict[str, list[bool]] = {}
    for k, row in enumerate(rows):
        layer = LAYERS.get(str(row.get("blend"))) if row.get("blend_kind") == "layer" else None
        if layer is None:
            continue
        played = {gm.GM_PROGRAMS[p] for p in layer.programs} & set(row.get("instruments", ()))
        group = next((g for g in groups if played & set(g)), None)
        if group is None:  # a layer no two-part prompt names, or a percussion layer
            continue
        s_ok, i_ok = row["style"] in top[k], bool(found(detected[k:k + 1], names, group)[0])
        style_ok.append(s_ok)
        inst_ok.append(i_ok)
        both.append(s_ok and i_ok)
        per_group.setdefault(" | ".join(group), []).append(bool(i_ok))
    return {
        "unseen_words_top1": share([v for v in per_prompt if v is not None]), "style_top1_per_style": style_top1,
        "instrument_found": share(inst_rates) if inst_rates else None,
        "two_part_both": share(both), "two_part_style": share(style_ok), "two_part_instrument": share(inst_ok),
        "two_part_blends": len(both),
        "two_part_instrument_found_per_layer": {g: {"blends": len(v), "found": share(v)} for g, v in sorted(per_group.items())},
    }


# --------------------------------------------------------------------------- generation
def generate_pixels(pipe: Any, prompts: Sequence[str], seeds: Sequence[int], batch: int) -> list[np.ndarray]:
    """Generate one clip per (prompt, seed) with the model's default sampling; return the
    grey pixels ``(bands, frames)`` of each waveform analysed again (:func:`judge.audio_pixels`)."""
    rate = int(pipe.spectrogram_params.sample_rate)
    pixels: list[np.ndarray] = []
    for i in range(0, len(prompts), batch):
        out = pipe(list(prompts[i:i + batch]), seed=list(seeds[i:i + batch]), progress=False)
        pixels.extend(audio_pixels(wave, rate) for wave in out.waveforms)
        print(f"  generated {min(i + batch, len(prompts))}/{len(prompts)}", flush=True)
    return pixels


def score_sets(sets: dict[str, list[dict[str, Any]]], clips: dict[str, list[np.ndarray]], seeds: int,
               fitted: dict[str, Any]) -> dict[str, Any]:
    """The three figures from generated pixels (``seeds`` clips per prompt, prompt-major)."""
    style_clf, inst_clf = fitted["style"], fitted["instrument"]
    names = inst_clf.instruments
    figures: dict[str, Any] = {}

    if clips.get("unseen_words") is not None:
        figures["unseen_words"] = _score_unseen(sets["unseen_words"], clips["unseen_words"], seeds, style_clf)
    if clips.get("instruments") is not None:
        figures["instruments"] = _score_instruments(sets["instruments"], clips["instruments"], seeds, inst_clf, names)
    if clips.get("two_part") is not None:
        figures["two_part"] = _score_two_part(sets["two_part"], clips["two_part"], seeds, style_clf, inst_clf, names)
    return figures


def _score_unseen(items: list[dict[str, Any]], pixels: list[np.ndarray], seeds: int, style_clf: Any) -> dict[str, Any]:
    """The unseen-words figure: the style classifier's top-1 against each prompt's style."""
    pred = style_clf.predict(np.stack([pixel_features(p) for p in pixels]))
    truth = [i["style"] for i in items for _ in range(seeds)]
    hits = [p == t for p, t in zip(pred, truth, strict=True)]
    per_style: dict[str, list[bool]] = {}
    for t, h in zip(truth, hits, strict=True):
        per_style.setdefault(t, []).append(h)
    return {
        "clips": len(hits), "top1": share(hits), "per_style": {s: share(v) for s, v in sorted(per_style.items())},
        "labels": pred,
    }


def _score_instruments(items: list[dict[str, Any]], pixels: list[np.ndarray], seeds: int, inst_clf: Any,
                       names: Sequence[str]) -> dict[str, Any]:
    """The instruments figure, and how often each named instrument turns up unasked."""
    det = inst_clf.detect(np.stack([instrument_features(p) for p in pixels]))
    owner = [k for k in range(len(items)) for _ in range(seeds)]
    hit = np.array([found(det[j:j + 1], names, accepted(items[k]))[0] for j, k in enumerate(owner)])
    # how often each named instrument turns up in clips prompted for another one
    others = []
    for name in sorted({i["instrument"] for i in items}):
        rows = [j for j, k in enumerate(owner) if name not in accepted(items[k])]
        if rows and name in names:
            others.append(float(det[rows, names.index(name)].mean()))
    per_inst: dict[str, list[bool]] = {}
    for j, k in enumerate(owner):
        per_inst.setdefault(items[k]["instrument"], []).append(bool(hit[j]))
    return {
        "clips": len(hit), "found": share(hit), "found_when_not_asked": share(others) if others else None,
        "per_instrument": {n: share(v) for n, v in sorted(per_inst.items())},
    }


def _score_two_part(items: list[dict[str, Any]], pixels: list[np.ndarray], seeds: int, style_clf: Any, inst_clf: Any,
                    names: Sequence[str]) -> dict[str, Any]:
    """The two-part figure: the style among the top labels and the instrument found."""
    top = top_styles(style_clf, np.stack([pixel_features(p) for p in pixels]), TWO_PART_TOP)
    det = inst_clf.detect(np.stack([instrument_features(p) for p in pixels]))
    owner = [k for k in range(len(items)) for _ in range(seeds)]
    s_ok = np.array([items[k]["style"] in top[j] for j, k in enumerate(owner)])
    i_ok = np.array([found(det[j:j + 1], names, accepted(items[k]))[0] for j, k in enumerate(owner)])
    return {"clips": len(owner), "both": share(s_ok & i_ok), "style": share(s_ok), "instrument": share(i_ok)}


def pct(value: float | None) -> str:
    """A share as ``12.3%``, or ``-`` for none."""
    return "-" if value is None else f"{100 * value:.1f}%"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_prompt_sets(args.prompts)
    problems = check(data)
    if problems:
        raise SystemExit("the prompt sets fail their check:\n" + "\n".join(problems))
    sets = {name: list(data[name])[: args.limit] for name in SET_NAMES}

    held = load_pooled(args.heldout)
    val = split_mask(len(held["rows"]))
    fitted = fit_classifiers(held, val, args)
    missing = {i["style"] for k in ("unseen_words", "two_part") for i in sets[k]} - set(fitted["styles"])
    if missing:
        raise SystemExit(f"the held-out clips lack styles the prompts name: {sorted(missing)}")
    table = fitted["instrument_table"]
    print(f"\ninstrument classifier on {int(val.sum())} rendered validation clips (threshold: "
          f"{pct(args.false_alarm)} of out-of-fold clips without it flagged; reliable: recall >= "
          f"{pct(MIN_RECALL)}, false alarms <= {pct(MAX_FALSE_ALARM)}, >= {args.min_positives} clips)")
    print("| instrument | fit clips | validation clips | recall | false alarms | reliable |\n|---|---|---|---|---|---|")
    for name, row in sorted(table.items(), key=lambda kv: -kv[1]["positives"]):
        print(f"| {name} | {row['fit_positives']} | {row['positives']} | {pct(row['recall'])} | "
              f"{pct(row['false_alarm'])} | {'yes' if row['reliable'] else 'no'} |")
    names = fitted["instrument"].instruments
    groups = {" | ".join(g): reliability(fitted["val_detected"], fitted["val_labels"], names, g, args.min_positives)
              for g in prompt_groups(sets)}
    print("\ninstruments the prompts name (with the sounds they accept), on the same clips")
    print("| instrument | validation clips | recall | false alarms | reliable |\n|---|---|---|---|---|")
    for name, row in groups.items():
        print(f"| {name} | {row['positives']} | {pct(row['recall'])} | {pct(row['false_alarm'])} | "
              f"{'yes' if row['reliable'] else 'no'} |")
    unreliable = [g for g, row in groups.items() if not row["reliable"]]
    if unreliable:
        print(f"WARNING: the prompts name instruments not reliable on these rendered clips: {unreliable}")
    base = rendered_baselines(sets, fitted)
    print("\ntwo-part instruments found in rendered blends with a foreign style: " + ", ".join(
        f"{g} {pct(v['found'])} of {v['blends']}" for g, v in base["two_part_instrument_found_per_layer"].items()))
    val_style = [r["style"] for r in fitted["val_rows"]]
    style_top1 = share([top[0] == t for top, t in zip(fitted["val_top"], val_style, strict=True)])
    print(f"\nstyle classifier: top-1 {pct(style_top1)} on the {len(val_style)} rendered validation clips")

    figures: dict[str, Any] = {
        "prompts": {k: len(v) for k, v in sets.items()}, "seeds": args.seeds,
        "heldout": [str(f) for f in args.heldout], "rendered_validation_clips": int(val.sum()),
        "style_classifier_top1_rendered": style_top1, "rendered_baselines": base,
        "instrument_classifier": table, "prompt_instruments": groups, "unreliable_prompt_instruments": unreliable,
    }
    if not args.classifiers_only:
        from sonogen.models import default_checkpoint_path
        from sonogen.models.vocabulary import read_prompt
        from sonogen.pipeline import load_pipeline

        checkpoint = args.checkpoint or default_checkpoint_path()
        if checkpoint is None:
            raise SystemExit("no --checkpoint given and no packaged default model (sonogen/models/default/)")
        pipe = load_pipeline(str(checkpoint), device="cpu")
        pipe.read_prompts = not args.literal
        read_as: dict[str, dict[str, str | None]] = {}
        if pipe.read_prompts:
            reader = read_without_own_words if args.leave_out_own_words else read_prompt
            read_as = {name: {i["prompt"]: reader(pipe.text_encoder, i["prompt"]) for i in sets[name]}
                       for name in args.sets}
            pipe.read_prompts = False  # the prompts below are already read
        total = sum(len(sets[name]) for name in args.sets) * args.seeds
        print(f"\ngenerating {total} clips ({pipe.default_steps} steps, guidance {pipe.default_guidance})", flush=True)
        start = time.perf_counter()
        clips = {}
        for name in args.sets:
            prompts = [read_as.get(name, {}).get(i["prompt"]) or i["prompt"] for i in sets[name]
                       for _ in range(args.seeds)]
            seeds = [SEED_BASE + r for _ in sets[name] for r in range(args.seeds)]
            clips[name] = generate_pixels(pipe, prompts, seeds, args.batch)
        figures["read_as"] = read_as
        figures.update(checkpoint=str(checkpoint), literal=args.literal, steps=pipe.default_steps,
                       leave_out_own_words=args.leave_out_own_words,
                       guidance=pipe.default_guidance,
                       generate_seconds=time.perf_counter() - start)
        figures["generated"] = score_sets(sets, clips, args.seeds, fitted)

    gen = figures.get("generated", {})
    print("\n| figure | bar | generated | rendered clips |\n|---|---|---|---|")
    print(f"| unseen words: clips labelled as the prompt's style ({len(sets['unseen_words'])} prompts) | >= 60% | "
          f"{pct(gen.get('unseen_words', {}).get('top1'))} | {pct(base['unseen_words_top1'])} |")
    print(f"| instruments: named instrument found ({len(sets['instruments'])} prompts) | >= 70% | "
          f"{pct(gen.get('instruments', {}).get('found'))} | {pct(base['instrument_found'])} |")
    print(f"| instruments: found in clips prompted for another instrument | - | "
          f"{pct(gen.get('instruments', {}).get('found_when_not_asked'))} | {pct(args.false_alarm)} (by calibration) |")
    print(f"| two-part: style and instrument both found ({len(sets['two_part'])} prompts) | >= 50% | "
          f"{pct(gen.get('two_part', {}).get('both'))} | {pct(base['two_part_both'])} "
          f"({base['two_part_blends']} rendered blends) |")
    print(f"| two-part: style among the top {TWO_PART_TOP} labels | - | "
          f"{pct(gen.get('two_part', {}).get('style'))} | {pct(base['two_part_style'])} |")
    print(f"| two-part: instrument found | - | {pct(gen.get('two_part', {}).get('instrument'))} | "
          f"{pct(base['two_part_instrument'])} |")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
