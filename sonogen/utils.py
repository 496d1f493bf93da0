"""Small helpers shared across sonogen."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

J = TypeVar("J")
R = TypeVar("R")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps the final suffix so that format-by-extension writers
    (soundfile, PIL) pick the right format. On any exception the temporary file is
    removed and ``path`` is left untouched: no half-written outputs.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".part{final.suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


#: Overrides where sonogen keeps files it can rebuild (:func:`cache_dir`).
CACHE_ENV = "SONOGEN_CACHE"


def cache_dir() -> Path:
    """Where sonogen keeps files it can always rebuild: ``$SONOGEN_CACHE``, else
    ``$XDG_CACHE_HOME/sonogen``, else ``~/.cache/sonogen`` (not created here)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "sonogen"


def _umask() -> int:
    """The process's current umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def map_jobs(
    work: Callable[[J], R],
    jobs: Sequence[J],
    workers: int = 1,
    *,
    desc: str,
    unit: str,
    progress: bool = True,
    chunksize: int = 1,
) -> Iterator[R]:
    """``work(job)`` for each job, in order, with a progress bar: the batch commands' one pool.

    With ``workers > 1`` (and more than one job) the jobs run in a process pool, so
    ``work`` must be a picklable top-level function; otherwise they run here, one by one.
    ``work`` should catch its own errors and return them, so one bad input never stops a
    batch. Used by ``audio-to-images``, ``build-dataset`` and ``synth-corpus``.
    """
    from tqdm import tqdm

    with tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress or not jobs) as bar:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                yield work(job)
                bar.update()
            return
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(work, jobs, chunksize=chunksize):
                yield result
                bar.update()


#: ``--dtype`` names.
DTYPES = ("float16", "bfloat16", "float32")
#: Sampler names the pipeline loaders accept (None/"default": the checkpoint's own;
#: "few-step": the folder's few-step adapter with its own steps and guidance).
SCHEDULERS = ("default", "pndm", "dpm", "ddim", "few-step")


def torch_dtype(name: str | None) -> Any:
    """The torch dtype named by ``--dtype`` (None when not given)."""
    import torch

    return {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}.get(name or "")
