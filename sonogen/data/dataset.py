"""Captioned audio folder -> spectrogram image dataset (Hugging Face ``imagefolder`` layout).

Input: ``AUDIO_DIR`` holding audio files (any rate, mono or stereo, in subfolders too)
with captions from, per file, in this order of precedence:

1. a sidecar text file beside it (``song.wav`` -> ``song.txt``);
2. ``AUDIO_DIR/metadata.jsonl`` (one JSON object a line) or ``AUDIO_DIR/metadata.csv``,
   each row giving ``file_name`` (relative to ``AUDIO_DIR``) and ``text``.

Output: ``OUT/metadata.jsonl`` (rows ``{"file_name", "text", "source", "start"}``, with
``start`` the window's offset in seconds) beside flat ``OUT/<name>_<k>.png`` spectrogram
images carrying the format's EXIF tags. That is the ``imagefolder`` layout, so
``datasets.load_dataset("imagefolder", data_dir=OUT)`` reads it; sonogen itself needs
only the JSONL. ``OUT/dataset.json`` records the settings and ``OUT/report.json`` the
files skipped and why.

Each file is cut into windows of ``seconds`` (5.12 s = 512 columns) every
``seconds * (1 - overlap)``; windows quieter than ``silence_db`` dBFS RMS are dropped; a
file shorter than a window but at least half of one is padded with silence. Work is
spread over processes, one file per task; each finished file leaves a small record in
``OUT/.parts/`` so an interrupted build resumes where it stopped.

``sonogen audio-to-images`` (``sonogen/cli/convert.py``) shares the pool
(:func:`sonogen.utils.map_jobs`) but not this resume scheme, on purpose: it mirrors the
input tree one image per file or clip and keeps no metadata, so an existing output file
is its whole record. Here one source gives a varying number of flat images (silent windows
dropped) plus the rows of ``metadata.jsonl``, so only a per-source record can say that a
source is finished and restore its rows without reading the audio again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.audio.io import AUDIO_EXTENSIONS, load_audio
from sonogen.errors import SonogenError
from sonogen.utils import atomic_path, map_jobs

PARTS_DIR = ".parts"


@dataclass(frozen=True)
class BuildSettings:
    """How windows are cut and drawn (stored in ``OUT/dataset.json``).

    Attributes:
        seconds: window length in seconds.
        overlap: fraction of a window shared with the next, in [0, 0.95].
        silence_db: windows with RMS below this (dBFS) are skipped.
        min_fraction: shortest usable file, as a fraction of a window (padded to one).
        image_format: ``png`` (lossless, default) or ``jpg``.
        params: :class:`~sonogen.spectrogram.params.SpectrogramParams` fields.
    """

    seconds: float = 5.12
    overlap: float = 0.0
    silence_db: float = -50.0
    min_fraction: float = 0.5
    image_format: str = "png"
    params: dict[str, Any] | None = None

    def check(self) -> None:
        if not 0 < self.seconds <= 60:
            raise SonogenError(f"--seconds must be in (0, 60], got {self.seconds}")
        if not 0 <= self.overlap <= 0.95:
            raise SonogenError(f"--overlap is a fraction of a window in [0, 0.95], got {self.overlap}")
        if self.image_format not in ("png", "jpg"):
            raise SonogenError(f"image format must be png or jpg, got {self.image_format}")


# ----------------------------------------------------------------------------- captions


def _read_metadata_jsonl(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SonogenError(f"{path} line {n} is not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict) or "file_name" not in row or "text" not in row:
            raise SonogenError(f"{path} line {n} needs the keys 'file_name' and 'text'")
        out[str(row["file_name"])] = str(row["text"])
    return out


def _read_metadata_csv(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if "file_name" not in fields or "text" not in fields:
            raise SonogenError(f"{path} needs a header with the columns 'file_name' and 'text' (has: {', '.join(fields)})")
        return {str(row["file_name"]): str(row["text"] or "") for row in reader}


def read_captions(root: Path, files: Iterable[Path]) -> dict[Path, str]:
    """Caption of each audio file that has one (sidecar ``.txt`` over metadata rows).

    Args:
        root: the audio folder; metadata ``file_name`` values are relative to it.
        files: audio files under ``root``.

    Returns:
        ``{file: caption}`` with whitespace collapsed; files without a non-empty
        caption are absent.
    """
    table: dict[str, str] = {}
    if (root / "metadata.jsonl").is_file():
        table.update(_read_metadata_jsonl(root / "metadata.jsonl"))
    if (root / "metadata.csv").is_file():
        for k, v in _read_metadata_csv(root / "metadata.csv").items():
            table.setdefault(k, v)
    table = {Path(k).as_posix().lstrip("./") if k.startswith("./") else Path(k).as_posix(): v for k, v in table.items()}
    captions: dict[Path, str] = {}
    for f in files:
        text = None
        sidecar = f.with_suffix(".txt")
        if sidecar.is_file():
            text = sidecar.read_text(encoding="utf-8", errors="replace")
        else:
            text = table.get(f.relative_to(root).as_posix())
        if text is not None and text.strip():
            captions[f] = " ".join(text.split())
    return captions


# ----------------------------------------------------------------------------- windows


def window_starts(num_samples: int, rate: int, seconds: float, overlap: float, min_fraction: float) -> list[int]:
    """Start samples of the windows of a ``num_samples`` signal.

    Full windows every ``seconds * (1 - overlap)``; a signal shorter than a window but at
    least ``min_fraction`` of one gives the single start 0 (to be padded); shorter: none.
    """
    length = int(round(seconds * rate))
    if num_samples < length:
        return [0] if num_samples >= min_fraction * length else []
    hop = max(1, int(round(length * (1.0 - overlap))))
    return list(range(0, num_samples - length + 1, hop))


def rms_db(wave: np.ndarray) -> float:
    """RMS level of a ``(channels, samples)`` float waveform in dBFS (-inf for digital silence)."""
    power = float(np.mean(np.square(wave, dtype=np.float64))) if wave.size else 0.0
    return 10.0 * np.log10(power) if power > 0 else float("-inf")


def _source_key(root: Path, f: Path) -> str:
    """Stable name of a source's progress record: its relative path, size and mtime."""
    stat = f.stat()
    ident = f"{f.relative_to(root).as_posix()}|{stat.st_size}|{int(stat.st_mtime)}"
    return hashlib.sha1(ident.encode()).hexdigest()[:20]


def _process_file(job: tuple[str, str, str, str, str, dict[str, Any]]) -> dict[str, Any]:
    """Worker: one audio file -> window images and a progress record.

    Returns ``{"source", "rows", "silent", "error"}``; never raises for a bad file.
    """
    source, rel, caption, out, key, settings_dict = job
    settings = BuildSettings(**settings_dict)
    result: dict[str, Any] = {"source": rel, "rows": [], "silent": 0, "error": None}
    try:
        # torch and the converter load in the worker only: a listing or a resumed build that
        # has nothing left to convert starts without them
        import torch

        torch.set_num_threads(1)
        from sonogen.spectrogram.converter import get_converter
        from sonogen.spectrogram.image import save_image
        from sonogen.spectrogram.params import SpectrogramParams

        params = SpectrogramParams(**(settings.params or {}))
        wave, rate = load_audio(source, params.sample_rate)
        length = int(round(settings.seconds * rate))
        starts = window_starts(wave.shape[1], rate, settings.seconds, settings.overlap, settings.min_fraction)
        if not starts:
            result["error"] = f"too short ({wave.shape[1] / rate:.2f} s; a window is {settings.seconds} s)"
        converter = get_converter(params)
        width = params.width_for_seconds(settings.seconds)
        stem = rel_stem(rel)
        fmt = "PNG" if settings.image_format == "png" else "JPEG"
        for k, start in enumerate(starts):
            window = wave[:, start:start + length]
            if window.shape[1] < length:
                window = np.pad(window, ((0, 0), (0, length - window.shape[1])))
            if rms_db(window) < settings.silence_db:
                result["silent"] += 1
                continue
            image = converter.audio_to_image(window, rate)
            if image.width > width:  # 1 + samples // hop columns: keep exactly `width`
                exif = image.getexif()
                image = image.crop((0, 0, width, image.height))
                target_exif = image.getexif()
                for tag, value in exif.items():
                    target_exif[tag] = value
            name = f"{stem}_{k:04d}.{settings.image_format}"
            with atomic_path(Path(out) / name) as tmp:
                save_image(image, str(tmp), fmt)
            result["rows"].append({"file_name": name, "text": caption, "source": rel,
                                   "start": round(start / rate, 3)})
        record = Path(out) / PARTS_DIR / f"{key}.json"
        with atomic_path(record) as tmp:
            tmp.write_text(json.dumps(result), encoding="utf-8")
    except SonogenError as exc:
        result["error"] = str(exc)
    except Exception as exc:  # one bad file never stops the build
        result["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return result


def rel_stem(rel: str) -> str:
    """Flat image-name stem for a source path relative to the audio folder."""
    path = Path(rel).with_suffix("").as_posix().replace("/", "__")
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in path)[:150]


@dataclass
class BuildReport:
    """Outcome of :func:`build_dataset`.

    Attributes:
        images: rows in ``metadata.jsonl``.
        files_done: sources that gave images (this run and earlier ones).
        resumed: sources skipped because an earlier run finished them.
        silent_windows: windows dropped as silence.
        skipped: ``{source: reason}`` for files without a caption, unreadable or too short.
    """

    images: int
    files_done: int
    resumed: int
    silent_windows: int
    skipped: dict[str, str]


def build_dataset(audio_dir: str | os.PathLike[str], out: str | os.PathLike[str],
                  settings: BuildSettings | None = None, workers: int = 1,
                  progress: bool = True, runner: Callable[..., Iterable[Any]] | None = None) -> BuildReport:
    """Build (or resume) an image dataset from a captioned audio folder; see the module doc.

    ``runner`` maps the per-file worker over the jobs, with :func:`sonogen.utils.map_jobs`'s
    signature (default: ``map_jobs``, a local process pool); ``build-dataset --ray`` passes
    :class:`sonogen.cluster.data.RayRunner`, so both make the same files.

    Raises:
        SonogenError: not a folder, no audio, no captions at all, settings that differ from
            an earlier build in ``out``, or no image produced.
    """
    from sonogen.spectrogram.params import SpectrogramParams  # brings torch

    settings = settings or BuildSettings()
    settings.check()
    params = SpectrogramParams(**(settings.params or {}))
    settings = BuildSettings(**{**asdict(settings), "params": asdict(params)})
    root = Path(audio_dir)
    if not root.exists():
        raise SonogenError(f"audio folder not found: {audio_dir}")
    if not root.is_dir():
        raise SonogenError(f"not a folder: {audio_dir}")
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise SonogenError(f"output exists and is not a folder: {out}")
    target_resolved = target.resolve()
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
        and target_resolved not in p.resolve().parents and not p.name.startswith(".")
    )
    if not files:
        raise SonogenError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found under {audio_dir}")
    captions = read_captions(root, files)
    if not captions:
        raise SonogenError(
            f"none of the {len(files)} audio file(s) under {audio_dir} has a caption: add a sidecar "
            ".txt per file or a metadata.jsonl / metadata.csv with file_name and text"
        )
    skipped: dict[str, str] = {}
    for f in files:
        if f not in captions:
            skipped[f.relative_to(root).as_posix()] = "no caption"

    target.mkdir(parents=True, exist_ok=True)
    config_path = target / "dataset.json"
    config = {"format": "sonogen-imagefolder-1", **asdict(settings)}
    if config_path.exists():
        try:
            previous = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            previous = None
        if previous != config:
            raise SonogenError(f"{out} was built with other settings ({config_path}); use a new output folder")
    else:
        with atomic_path(config_path) as tmp:
            tmp.write_text(json.dumps(config, indent=2), encoding="utf-8")

    parts = target / PARTS_DIR
    parts.mkdir(exist_ok=True)
    jobs = []
    records: list[dict[str, Any]] = []
    resumed = 0
    for f in files:
        if f not in captions:
            continue
        rel = f.relative_to(root).as_posix()
        key = _source_key(root, f)
        record = parts / f"{key}.json"
        if record.exists():
            try:
                records.append(json.loads(record.read_text(encoding="utf-8")))
                resumed += 1
                continue
            except (OSError, json.JSONDecodeError):
                pass
        jobs.append((str(f), rel, captions[f], str(target), key, asdict(settings)))

    run = runner or map_jobs
    records += run(_process_file, jobs, workers, desc="build-dataset", unit="file", progress=progress)

    rows: list[dict[str, Any]] = []
    silent = 0
    done = 0
    for result in sorted(records, key=lambda r: r["source"]):
        silent += int(result.get("silent", 0))
        if result.get("error"):
            skipped[result["source"]] = result["error"]
        elif not result["rows"]:
            skipped[result["source"]] = "all windows silent"
        else:
            done += 1
        rows.extend(result["rows"])
    report = BuildReport(len(rows), done, resumed, silent, dict(sorted(skipped.items())))
    with atomic_path(target / "report.json") as tmp:
        tmp.write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    if not rows:
        raise SonogenError(
            f"no images were made from {audio_dir}: {len(skipped)} file(s) skipped "
            f"(see {target / 'report.json'})"
        )
    with atomic_path(target / "metadata.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return report


def print_report(report: BuildReport, out: str, stream: Any = None) -> None:
    """One summary line on stdout, then one line per skipped file on stderr."""
    print(
        f"wrote {report.images} image(s) from {report.files_done} file(s) to {out} "
        f"({report.resumed} resumed, {report.silent_windows} silent window(s) dropped, "
        f"{len(report.skipped)} file(s) skipped)"
    )
    for source, reason in report.skipped.items():
        print(f"  skipped {source}: {reason}", file=stream or sys.stderr)


def read_dataset(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of ``folder/metadata.jsonl`` whose image exists, each with ``path`` added.

    Raises:
        SonogenError: missing folder or metadata, malformed rows, no usable rows.
    """
    root = Path(folder)
    if not root.is_dir():
        raise SonogenError(f"dataset folder not found: {folder}")
    meta = root / "metadata.jsonl"
    if not meta.is_file():
        raise SonogenError(f"{folder} has no metadata.jsonl; make one with `sonogen build-dataset`")
    rows = []
    for row in _read_metadata_jsonl(meta).items():
        path = root / row[0]
        if path.is_file():
            rows.append({"file_name": row[0], "text": row[1], "path": str(path)})
    if not rows:
        raise SonogenError(f"{meta} lists no existing image files")
    return rows
