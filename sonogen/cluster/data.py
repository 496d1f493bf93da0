"""``sonogen build-dataset --ray``: the per-file conversion as a Ray Data pipeline.

The single-machine command and this one share everything but the map: the job list
(captions, resume records, settings) and the final ``metadata.jsonl``/``report.json`` are
made by :func:`sonogen.data.dataset.build_dataset`; Ray Data runs the same per-file worker
(:func:`sonogen.data.dataset._process_file`: read, cut into windows, spectrogram image,
write, progress record) over the files, one file per row, on whatever nodes the cluster
has. Output files are written by the workers straight into ``OUT`` (on a multi-node
cluster ``OUT`` and ``AUDIO_DIR`` must be on a shared file system).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sonogen.cluster import connect
from sonogen.data.dataset import _process_file


def _convert_row(row: dict[str, Any]) -> dict[str, Any]:
    job = tuple(json.loads(row["job"]))
    return {"result": json.dumps(_process_file(job))}  # type: ignore[arg-type]


class RayRunner:
    """A ``map_jobs``-compatible runner for :func:`build_dataset` that maps on Ray Data.

    It joins the cluster at ``address`` (None: starts a local Ray with ``num_cpus``) on first
    use; :meth:`close` shuts Ray down again only when this runner started it.
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self._started = False

    def __call__(self, work: Callable[[Any], Any], jobs: Sequence[Any], workers: int = 1,
                 **options: Any) -> list[Any]:
        if not jobs:
            return []
        import ray as ray_module

        self._started = self._started or not ray_module.is_initialized()
        ray = connect(self.address, num_cpus=self.num_cpus)
        ray.data.DataContext.get_current().enable_progress_bars = bool(options.get("progress", False))
        ds = ray.data.from_items([{"job": json.dumps(list(job))} for job in jobs], override_num_blocks=len(jobs))
        # one file per task; a bad file's exception is caught inside the worker and comes back as
        # its "error", so none fails the pipeline and the report lists it as the local build does
        ds = ds.map(_convert_row, num_cpus=1)
        return [json.loads(row["result"]) for row in ds.take_all()]

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
