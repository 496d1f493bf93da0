"""``sonogen generate --batch FILE OUTDIR``: many clips from a JSON or CSV file.

The JSON file is the one Riffusion's playground took::

    {"params": {"checkpoint": "...", "scheduler": "DPMSolverMultistepScheduler",
                "num_inference_steps": 50, "guidance": 7.0, "width": 512},
     "entries": [{"prompt": "church bells", "seed": 42},
                 {"prompt": "jazz", "negative_prompt": "drums", "seed": 7}]}

(a bare list of entries is accepted too). A CSV file has a header row naming the same
entry fields (``prompt`` required); its shared parameters come from the command line.
An entry's fields win over ``params``, which win over the command-line options.

Every entry becomes ``OUTDIR/NAME.<format>`` plus ``OUTDIR/NAME.png`` (its spectrogram).
Finished outputs are skipped, so an interrupted batch resumes where it stopped. A bad
entry is reported by number (1-based, as in the file) and skipped; the rest are still
written, and the command exits 2 after its summary when any entry failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sonogen.cli.common import save_image_atomic
from sonogen.errors import SonogenError

# `sonogen generate` imports this module while parsing its arguments, so the audio,
# spectrogram and pipeline modules (numpy, torch) are imported inside the functions, for a
# quick start (tests/cli/test_cold_start.py checks what parsing imports).

#: Most entries one file may hold (a typo'd file should not queue a day of work).
MAX_ENTRIES = 10_000
AUDIO_FORMATS = ("wav", "flac", "ogg", "mp3")
#: Scheduler names of the original playground (diffusers class names) and sonogen's own.
SCHEDULER_NAMES = {
    "default": "default",
    "pndm": "pndm",
    "dpm": "dpm",
    "ddim": "ddim",
    "pndmscheduler": "pndm",
    "dpmsolvermultistepscheduler": "dpm",
    "ddimscheduler": "ddim",
}
#: Fields the shared ``params`` object may hold.
PARAM_FIELDS = {
    "checkpoint",
    "scheduler",
    "num_inference_steps",
    "steps",
    "guidance",
    "width",
    "seconds",
    "negative_prompt",
    "seed",
    "format",
}
#: Fields an entry may hold (CSV columns).
ENTRY_FIELDS = {"prompt", "negative_prompt", "seed", "num_inference_steps", "steps", "guidance", "width", "seconds", "name"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


@dataclass
class Entry:
    """One validated clip to make. ``index`` is 1-based, as the entry's place in the file."""

    index: int
    prompt: str
    name: str
    seed: int
    negative_prompt: str | None = None
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None
    seconds: float | None = None


@dataclass
class Plan:
    """A parsed batch file: shared settings, good entries and the bad ones' messages."""

    checkpoint: str | None = None
    scheduler: str | None = None
    audio_format: str = "wav"
    entries: list[Entry] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)


# ---------------------------------------------------------------------- parsing
def _int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, str):
        value = value.strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if number < low or (high is not None and number > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return int(number)


def _float(value: Any, name: str, low: float, high: float, *, open_low: bool = False) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number > high or number < low or (open_low and number == low):
        raise ValueError(f"{name} must be in {'(' if open_low else '['}{low}, {high}], got {value!r}")
    return number


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {type(value).__name__}")
    return value


def _common(raw: dict[str, Any], into: dict[str, Any]) -> None:
    """Validate the fields shared by ``params`` and entries into ``into`` (keys as in :class:`Entry`)."""
    if raw.get("negative_prompt") not in (None, ""):
        into["negative_prompt"] = _text(raw["negative_prompt"], "negative_prompt")
    if raw.get("seed") not in (None, ""):
        into["seed"] = _int(raw["seed"], "seed", 0, 2**32 - 1)
    steps = raw.get("num_inference_steps", raw.get("steps"))
    if steps not in (None, ""):
        into["steps"] = _int(steps, "num_inference_steps", 1, 1000)
    if raw.get("guidance") not in (None, ""):
        into["guidance"] = _float(raw["guidance"], "guidance", 0.0, 100.0)
    if raw.get("width") not in (None, ""):
        width = _int(raw["width"], "width", 8, 8192)
        if width % 8:
            raise ValueError(f"width must be a multiple of 8 pixels, got {width}")
        into["width"] = width
    if raw.get("seconds") not in (None, ""):
        into["seconds"] = _float(raw["seconds"], "seconds", 0.0, 600.0, open_low=True)
    if "width" in into and "seconds" in into:
        raise ValueError("give width or seconds, not both")


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40].strip("-") or "clip"


def _read_rows(path: Path) -> tuple[dict[str, Any], list[Any]]:
    """``(params, raw entries)`` of a JSON or CSV batch file (file-level errors raise SonogenError)."""
    if not path.is_file():
        raise SonogenError(f"batch file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SonogenError(f"cannot read batch file {path}: {exc}") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        columns = [c.strip() for c in (reader.fieldnames or []) if c]
        if "prompt" not in columns:
            raise SonogenError(f"batch file {path}: the CSV header needs a 'prompt' column")
        unknown = sorted(set(columns) - ENTRY_FIELDS)
        if unknown:
            raise SonogenError(
                f"batch file {path}: unknown CSV column(s) {', '.join(unknown)}; use {', '.join(sorted(ENTRY_FIELDS))}"
            )
        rows: list[Any] = []
        for row in reader:
            clean = {(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
            if None in row or "" in clean:  # more cells than header columns
                clean = {"__extra__": True, **clean}
            rows.append(clean)
        return {}, rows
    if path.suffix.lower() != ".json":
        raise SonogenError(f"batch file must be .json or .csv: {path}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SonogenError(f"batch file {path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if isinstance(data, list):
        return {}, data
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise SonogenError(f"batch file {path}: expected an object with an 'entries' list (and optional 'params')")
    unknown = sorted(set(data) - {"params", "entries"})
    if unknown:
        raise SonogenError(f"batch file {path}: unknown top-level key(s) {', '.join(unknown)}")
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise SonogenError(f"batch file {path}: 'params' must be an object")
    return params, data["entries"]


def read_batch(path: str | Path, args: argparse.Namespace) -> Plan:
    """Parse and check a batch file against the command line ``args`` (no model needed).

    Raises:
        SonogenError: the file as a whole is unusable (missing, not JSON/CSV, bad
            ``params``, no entries). Bad entries are collected in ``Plan.bad`` instead.
    """
    path = Path(path)
    raw_params, rows = _read_rows(path)
    if not rows:
        raise SonogenError(f"batch file {path} holds no entries")
    if len(rows) > MAX_ENTRIES:
        raise SonogenError(f"batch file {path} holds {len(rows)} entries; at most {MAX_ENTRIES} per file")
    unknown = sorted(set(raw_params) - PARAM_FIELDS)
    if unknown:
        raise SonogenError(f"batch file {path}: unknown params {', '.join(unknown)}; use {', '.join(sorted(PARAM_FIELDS))}")
    plan = Plan()
    shared: dict[str, Any] = {}
    try:
        if raw_params.get("checkpoint") not in (None, ""):
            plan.checkpoint = _text(raw_params["checkpoint"], "checkpoint")
        if raw_params.get("scheduler") not in (None, ""):
            name = _text(raw_params["scheduler"], "scheduler")
            if name.lower() not in SCHEDULER_NAMES:
                raise ValueError(f"scheduler {name!r} is not one of {', '.join(sorted(SCHEDULER_NAMES))}")
            plan.scheduler = SCHEDULER_NAMES[name.lower()]
        fmt = raw_params.get("format") or getattr(args, "format", None) or "wav"
        if fmt not in AUDIO_FORMATS:
            raise ValueError(f"format must be one of {', '.join(AUDIO_FORMATS)}, got {fmt!r}")
        plan.audio_format = str(fmt)
        _common(raw_params, shared)
    except ValueError as exc:
        raise SonogenError(f"batch file {path}: params: {exc}") from None
    base_seed = shared.pop("seed", getattr(args, "seed", 0) or 0)
    names: dict[str, int] = {}
    for index, raw in enumerate(rows, start=1):
        try:
            entry = _entry(index, raw, shared, base_seed)
        except ValueError as exc:
            plan.bad.append((index, str(exc)))
            continue
        key = entry.name.lower()
        if key in names:
            plan.bad.append((index, f"output name {entry.name!r} is already used by entry {names[key]}"))
            continue
        names[key] = index
        plan.entries.append(entry)
    return plan


def _entry(index: int, raw: Any, shared: dict[str, Any], base_seed: int) -> Entry:
    if isinstance(raw, str):
        raw = {"prompt": raw}
    if not isinstance(raw, dict):
        raise ValueError(f"expected an object with a prompt, got {type(raw).__name__}")
    if raw.get("__extra__"):
        raise ValueError("the row has more cells than the header has columns")
    unknown = sorted(set(raw) - ENTRY_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("needs a non-empty prompt")
    if len(prompt) > 1000:
        raise ValueError("prompt is longer than 1000 characters")
    own: dict[str, Any] = {}
    _common(raw, own)
    values = {**shared, **own}
    if "width" in own and "seconds" in shared:
        values.pop("seconds")
    if "seconds" in own and "width" in shared:
        values.pop("width")
    seed = values.pop("seed", base_seed)
    name = raw.get("name")
    if name in (None, ""):
        name = f"{index:04d}-{_slug(prompt)}-s{seed}"
    elif not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name {name!r} must be 1-120 letters, digits, '.', '_' or '-' (no folders)")
    return Entry(index=index, prompt=prompt.strip(), name=name, seed=seed, **values)


# ---------------------------------------------------------------------- running
def outputs_of(entry: Entry, outdir: Path, audio_format: str) -> tuple[Path, Path]:
    """The audio and picture an entry writes."""
    return outdir / f"{entry.name}.{audio_format}", outdir / f"{entry.name}.png"


def _render(pipe: Any, entry: Entry, args: argparse.Namespace, max_single_s: float) -> tuple[Any, int, Any]:
    """``(wave, rate, image)`` for one entry."""
    steps = entry.steps if entry.steps is not None else args.steps
    guidance = entry.guidance if entry.guidance is not None else args.guidance
    negative = entry.negative_prompt if entry.negative_prompt is not None else args.negative
    params = pipe.spectrogram_params
    f = pipe.vae_scale_factor
    seconds = entry.seconds if entry.seconds is not None else (None if entry.width else getattr(args, "seconds", None))
    if entry.width is not None:
        width = entry.width
    elif seconds is not None and seconds > max_single_s:
        from sonogen.pipeline.longform import generate_long
        from sonogen.spectrogram.converter import get_converter

        wave, rate = generate_long(
            pipe, entry.prompt, seconds, negative_prompt=negative, seed=entry.seed,
            num_inference_steps=steps, guidance_scale=guidance, progress=False,
        )
        return wave, rate, get_converter(params).audio_to_image(wave, rate)
    else:
        width = max(f, int(round(params.width_for_seconds(seconds or 5.12) / f)) * f)
    if width % f:
        raise SonogenError(f"width must be a multiple of {f} pixels for this model, got {width}")
    out = pipe(
        entry.prompt,
        negative_prompt=negative,
        seed=entry.seed,
        num_inference_steps=steps,
        guidance_scale=guidance,
        width=width,
        progress=False,
    )
    return out.waveforms[0], out.sample_rate, out.images[0]


def run_batch(args: argparse.Namespace, load: Any, max_single_s: float) -> int:
    """Run ``generate --batch FILE OUTDIR``; ``load(args)`` loads the pipeline (once, if needed)."""
    from tqdm import tqdm

    from sonogen.audio.io import save_audio

    source, outdir_text = args.batch
    plan = read_batch(source, args)
    outdir = Path(outdir_text)
    if outdir.exists() and not outdir.is_dir():
        raise SonogenError(f"output folder is a file: {outdir}")
    if not outdir.expanduser().resolve().parent.is_dir():
        raise SonogenError(f"the folder to put {outdir} in does not exist: {outdir.parent}")
    for index, message in plan.bad:
        print(f"sonogen: entry {index}: {message}; skipped", file=sys.stderr)
    todo = [e for e in plan.entries if not all(p.exists() for p in outputs_of(e, outdir, plan.audio_format))]
    done_before = len(plan.entries) - len(todo)
    failed: list[tuple[int, str]] = list(plan.bad)
    written = 0
    if todo:
        if args.checkpoint is None and plan.checkpoint is not None:
            args.checkpoint = plan.checkpoint
        if args.scheduler is None and plan.scheduler is not None:
            args.scheduler = plan.scheduler
        pipe = load(args)
        outdir.mkdir(parents=True, exist_ok=True)
        with tqdm(todo, desc="batch", unit="clip") as bar:
            for entry in bar:
                audio_path, image_path = outputs_of(entry, outdir, plan.audio_format)
                try:
                    wave, rate, image = _render(pipe, entry, args, max_single_s)
                    save_image_atomic(image, str(image_path))  # the audio last: its presence means done
                    save_audio(audio_path, wave, rate)
                except SonogenError as exc:
                    failed.append((entry.index, str(exc)))
                    bar.write(f"sonogen: entry {entry.index}: {exc}; skipped", file=sys.stderr)
                    continue
                written += 1
    failed.sort()
    print(
        f"batch {source}: wrote {written} clip(s) to {outdir}, skipped {done_before} already done, "
        f"{len(failed)} failed"
        + (f" (entries {', '.join(str(i) for i, _ in failed)})" if failed else "")
    )
    if failed:
        print(f"sonogen: error: {len(failed)} of {len(plan.entries) + len(plan.bad)} entries failed", file=sys.stderr)
        return 2
    return 0
