"""The diffusion pipeline: spectrogram images from text (and audio), decoded to sound.

Public API::

    from sonogen.pipeline import SonogenPipeline, SonogenOutput, PromptInput, InferenceInput, load_pipeline

A call's ``output_type`` (:data:`OutputType`) says how far it decodes: ``"latent"``,
``"pil"`` (images) or ``"audio"`` (images and waveforms, the default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sonogen.pipeline.types import InferenceInput, OutputType, PromptInput, SonogenOutput

if TYPE_CHECKING:
    from sonogen.pipeline.loading import load_pipeline
    from sonogen.pipeline.pipeline import SonogenPipeline

__all__ = ["InferenceInput", "OutputType", "PromptInput", "SonogenOutput", "SonogenPipeline", "load_pipeline"]


def __getattr__(name: str) -> Any:
    """Import the diffusers/transformers-heavy parts on first use.

    Kept lazy for start-up time: importing any module of this package runs this file, and
    :mod:`~sonogen.pipeline.pipeline` (diffusers and transformers) takes about 5 s longer to
    import than the light modules (types, seeds, noise, longform, bpe) that the server's
    HTTP side, a Ray ingress and the tokenizer trainer import without ever loading a model.
    """
    if name == "SonogenPipeline":
        from sonogen.pipeline.pipeline import SonogenPipeline

        return SonogenPipeline
    if name == "load_pipeline":
        from sonogen.pipeline.loading import load_pipeline

        return load_pipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
