"""The server's batching of ``/run_inference/`` requests (sonogen.server.batching) on the tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from sonogen.errors import SonogenError
from sonogen.pipeline import InferenceInput, PromptInput
from sonogen.server.batching import batch_key, run_inference_batch

STEPS = 2


@pytest.fixture(scope="module")
def pipe() -> Iterator[Any]:
    """The tiny random pipeline with 64 mel bands (the paths of 512, less phase work)."""
    import torch

    from sonogen.pipeline.tiny import build_tiny_pipeline
    from sonogen.spectrogram.params import SpectrogramParams

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield build_tiny_pipeline(seed=0, spectrogram_params=SpectrogramParams(num_frequencies=64))
    torch.set_num_threads(threads)


def _pixels(image: Any) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_batched_answers_equal_requests_run_alone(pipe: Any) -> None:
    from sonogen.pipeline.seeds import get_seed_image

    start, end = PromptInput("jazz", 1), PromptInput("rock", 2, denoising=0.5)
    reqs = [
        InferenceInput(start, end, 0.25, num_inference_steps=STEPS),
        InferenceInput(start, end, 0.0, num_inference_steps=STEPS),
        InferenceInput(start, end, 0.5, num_inference_steps=STEPS, seed_image_id="vibes"),
    ]
    assert len({batch_key(r) for r in reqs}) == 3  # strengths .6875 and .75 differ; so do seed images
    outs = run_inference_batch(pipe, reqs)
    assert len(outs) == 3 and all(o.images[0].size == (512, 64) and len(o.waveforms) == 1 for o in outs)
    assert outs[1].seeds == [1]
    # batching changes nothing: each answer equals the same request run alone
    for out, req in zip(outs, reqs, strict=True):
        alone = pipe.interpolate(
            req.start, req.end, req.alpha, num_inference_steps=STEPS,
            init_image=get_seed_image(req.seed_image_id), progress=False,
        )
        assert np.abs(_pixels(out.images[0]) - _pixels(alone.images[0])).max() <= 2
    assert not np.array_equal(_pixels(outs[0].images[0]), _pixels(outs[1].images[0]))
    with pytest.raises(SonogenError):
        run_inference_batch(pipe, [InferenceInput(start, end, 0.5, seed_image_id="nope")])
    with pytest.raises(SonogenError, match="alpha"):
        run_inference_batch(pipe, [InferenceInput(start, end, 1.5)])


def test_one_key_is_one_unet_batch_and_pictures_skip_the_audio(pipe: Any, monkeypatch: Any) -> None:
    """Requests with one key share a single generate call; output_type reaches it."""
    calls: list[tuple[int, str]] = []
    generate = pipe.generate

    def counted(cond: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((cond.shape[0], kwargs["output_type"]))
        return generate(cond, *args, **kwargs)

    monkeypatch.setattr(pipe, "generate", counted)
    ends = [(PromptInput("jazz", 3), PromptInput("rock", 4)), (PromptInput("funk", 5), PromptInput("pads", 6))]
    reqs = [InferenceInput(a, b, 0.5, num_inference_steps=1, seed_image_id="og_beat") for a, b in ends]
    assert batch_key(reqs[0]) == batch_key(reqs[1])
    full = run_inference_batch(pipe, reqs)
    pictures = run_inference_batch(pipe, reqs, output_type="pil")
    assert calls == [(2, "audio"), (2, "pil")]
    assert [o.seeds for o in pictures] == [[3], [5]] and all(o.waveforms == [] for o in pictures)
    for a, b in zip(full, pictures, strict=True):
        assert np.array_equal(_pixels(a.images[0]), _pixels(b.images[0]))
