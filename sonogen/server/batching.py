"""Several ``/run_inference/`` requests answered in as few UNet batches as possible.

The Riffusion server's call (two prompts mixed at ``alpha`` on a built-in seed image and
mask) is the one request the server batches. Requests that share steps, seed image, mask
and mixed denoising strength (:func:`batch_key`) can share one denoising loop, since
those fix the timesteps and the init latents; prompts, seeds and guidance differ per row.
The engine (:mod:`sonogen.server.engine`, and the Ray replicas of
:mod:`sonogen.cluster.serve`) queues jobs by that key and hands each batch to
:func:`run_inference_batch`. Batching changes no answer: each equals the same request
run alone with :meth:`SonogenPipeline.interpolate`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import torch

from sonogen.errors import SonogenError
from sonogen.pipeline.noise import lerp
from sonogen.pipeline.seeds import get_mask_image, get_seed_image
from sonogen.pipeline.types import (
    InferenceInput,
    OutputType,
    SonogenOutput,
    check_alpha,
    interpolation_texts,
)


def mixed_strength(request: InferenceInput) -> float:
    """The request's img2img strength: its two ends' ``denoising`` mixed at ``alpha``."""
    return float(lerp(request.start.denoising, request.end.denoising, request.alpha))


def batch_key(request: InferenceInput) -> Hashable:
    """Requests with equal keys run as one UNet batch: steps, seed image, mask, strength."""
    return (request.num_inference_steps, request.seed_image_id, request.mask_image_id, mixed_strength(request))


def run_inference_batch(
    pipe: Any,
    requests: Sequence[InferenceInput],
    *,
    progress: bool = False,
    output_type: OutputType = "audio",
) -> list[SonogenOutput]:
    """Answer several ``/run_inference`` requests, one pipeline batch per :func:`batch_key`.

    Args:
        pipe: a ``SonogenPipeline``.
        requests: the requests; outputs come back in their order, one item each.
        progress: show the denoising progress bar.
        output_type: as in ``SonogenPipeline.__call__``.

    Raises:
        SonogenError: an ``alpha`` outside [0, 1], steps below 1, an unknown seed image or mask.
    """
    groups: dict[Hashable, list[int]] = {}
    for i, request in enumerate(requests):
        check_alpha(request.alpha)
        if request.num_inference_steps is not None and request.num_inference_steps < 1:
            raise SonogenError(f"num_inference_steps must be >= 1, got {request.num_inference_steps}")
        groups.setdefault(batch_key(request), []).append(i)
    results: dict[int, SonogenOutput] = {}
    for members in groups.values():
        first = requests[members[0]]
        init = get_seed_image(first.seed_image_id)
        mask = get_mask_image(first.mask_image_id, width=init.width) if first.mask_image_id else None
        count = pipe.chunks_for([t for i in members for t in interpolation_texts(requests[i].start, requests[i].end)])
        rows = [
            pipe.interpolation_inputs(requests[i].start, requests[i].end, requests[i].alpha, init.width, count)
            for i in members
        ]
        out = pipe.generate(
            torch.cat([row.cond for row in rows]),
            torch.cat([row.uncond for row in rows]),
            torch.cat([row.noise for row in rows]),
            torch.cat([row.guidance for row in rows]),
            seeds=[row.seed for row in rows],
            num_inference_steps=first.num_inference_steps,
            init_image=init,
            strength=mixed_strength(first),
            mask_image=mask,
            progress=progress,
            output_type=output_type,
        )
        for j, i in enumerate(members):
            results[i] = out.item(j)
    return [results[i] for i in range(len(requests))]
