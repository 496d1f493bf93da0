"""What every route of the server shares: its settings, its dependencies and its answers.

The routers (:mod:`sonogen.server.routes` for the original app's call and the /v1 API,
:mod:`sonogen.server.studio` for the Studio's uploads) depend on this module only, never
on :mod:`sonogen.server.app`, which builds the application around them.

The model is reached through the :func:`current_engine` dependency (and
:func:`get_engine`, which turns "none yet" into a 503); tests override
``current_engine`` with an :class:`~sonogen.server.engine.Engine` around the tiny pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from sonogen.server.encode import EncodedClip
from sonogen.server.engine import Engine, Job
from sonogen.server.metrics import note_job
from sonogen.server.schemas import MEDIA_TYPES, ClipOut
from sonogen.utils import torch_dtype

#: Endpoints that take file uploads (the app's larger body limit applies to them).
UPLOAD_PATHS = frozenset({"/v1/transform", "/v1/transform-song", "/v1/image-to-audio", "/v1/sample-clips"})


@dataclass
class ServerConfig:
    """Settings of one server process.

    Attributes:
        checkpoint: model folder/file for ``load_pipeline`` (None: the embedded default).
        device: torch device string (None: best available).
        lora: LoRA adapter folder/file applied after loading (``sonogen train --lora`` output).
        scheduler: sampler name for ``load_pipeline`` (None: the checkpoint's).
        dtype: weights dtype name, ``float16``/``bfloat16``/``float32`` (None: float16 on a GPU, float32 on the CPU).
        compile: ``torch.compile`` the UNet and VAE decoder.
        queue_size: most requests waiting for the model; more get 503 + Retry-After.
        max_batch: most compatible requests run as one batch (1: no batching).
        threads: torch threads of the model worker (None: torch's default).
        cors_origins: origins allowed by CORS (empty: same-origin only).
        max_body_bytes: JSON body limit, bytes.
        max_upload_bytes: upload limit of the file endpoints (:data:`UPLOAD_PATHS`), bytes.
        max_clip_s: longest clip /v1/generate, /v1/transform and /v1/sample-clips make, seconds.
        max_long_s: longest piece /v1/long makes, and longest audio any upload may hold, seconds.
        max_steps: most denoising steps any clip is drawn with; requests asking for more get
            this many, and say so in ``X-Sonogen-Steps`` (a real-time budget: the original app
            always asks for 50). None: as asked, up to the schema's 100.
        max_request_clips: most model clips one request may cost (a long piece draws one
            every 2.56 s, a song transform one per clip); more is answered 422 at once.
        max_wait_s: most seconds a request waits for the model before it starts; then it is
            answered 503 with ``Retry-After`` (None: no limit). Its own work is bounded apart.
        pipeline_factory: builds the pipeline in the lifespan (default: ``load_pipeline``).
        load_model: when False the lifespan loads nothing (tests override current_engine).
        engine_factory: builds the engine in the lifespan instead of loading a pipeline here
            (``sonogen serve --ray``: an engine that sends jobs to Ray Serve model replicas);
            an engine with an async ``astart()`` is awaited once.
    """

    checkpoint: str | None = None
    device: str | None = None
    lora: str | None = None
    scheduler: str | None = None
    dtype: str | None = None
    compile: bool = False
    queue_size: int = 16
    max_batch: int = 4
    threads: int | None = None
    cors_origins: list[str] = field(default_factory=list)
    max_body_bytes: int = 256 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    max_clip_s: float = 30.0
    max_long_s: float = 300.0
    max_steps: int | None = None
    max_request_clips: int = 120
    max_wait_s: float | None = 60.0
    pipeline_factory: Callable[[], Any] | None = None
    load_model: bool = True
    engine_factory: Callable[[ServerConfig], Any] | None = None


def default_pipeline_factory(config: ServerConfig) -> Callable[[], Any]:
    """The pipeline builder used when ``config.pipeline_factory`` is None: ``load_pipeline``
    with the config's checkpoint, device, dtype, scheduler, LoRA and compile settings."""

    def build() -> Any:
        # Imported here, in the model's process only: load_pipeline brings diffusers and
        # transformers, which the HTTP side (and a Ray ingress, which holds no model) never needs.
        from sonogen.pipeline.loading import load_pipeline

        return load_pipeline(
            config.checkpoint, device=config.device, dtype=torch_dtype(config.dtype), scheduler=config.scheduler,
            lora=config.lora, compile=config.compile,
        )

    return build


# --------------------------------------------------------------------------- dependencies
def current_engine(request: Request) -> Engine | None:
    """Dependency: the engine that owns the model, or None while none is loaded."""
    engine: Engine | None = getattr(request.app.state, "engine", None)
    return engine


def get_engine(engine: Annotated[Engine | None, Depends(current_engine)]) -> Engine:
    """Dependency: the engine that owns the model (503 while none is loaded)."""
    if engine is None:
        raise HTTPException(503, "the model is not loaded yet; retry shortly", headers={"Retry-After": "5"})
    return engine


def get_config(request: Request) -> ServerConfig:
    """Dependency: the server's :class:`ServerConfig`."""
    config: ServerConfig = request.app.state.config
    return config


EngineDep = Annotated[Engine, Depends(get_engine)]
ConfigDep = Annotated[ServerConfig, Depends(get_config)]
#: The audio file of an upload endpoint (multipart).
AudioUpload = Annotated[UploadFile, File(description="audio file: wav, flac, ogg, mp3")]


# --------------------------------------------------------------------------- request and answer helpers
async def run_job(engine: Engine, job: Job, request: Request) -> Any:
    """Queue ``job`` and await its result (dropped if the client leaves while it waits); its
    queue and model time go into the request's log line and metrics."""
    engine.submit(job)
    try:
        return await engine.result(job, request.is_disconnected)
    finally:
        note_job(job)


async def read_upload(upload: UploadFile, what: str) -> bytes:
    """The uploaded file's bytes; an empty file is a 422 naming the field ``what``."""
    data = await upload.read()
    if not data:
        raise HTTPException(422, f"{what}: the uploaded file is empty")
    return data


def sampling_headers(steps: int | None, guidance: float | None) -> dict[str, str]:
    """``X-Sonogen-Steps`` and ``X-Sonogen-Guidance``: what a clip was really drawn with."""
    headers = {}
    if steps is not None:
        headers["X-Sonogen-Steps"] = str(steps)
    if guidance is not None:
        headers["X-Sonogen-Guidance"] = f"{guidance:g}"
    return headers


def clip_response(
    clip: EncodedClip,
    response: str,
    *,
    seed: int | None = None,
    prompt: str | None = None,
    body: BaseModel | None = None,
    name: str = "sonogen",
    steps: int | None = None,
    guidance: float | None = None,
    requested_s: float | None = None,
) -> Response:
    """A /v1 answer: the audio file (``name.<format>``), or with ``response="json"`` ``body``
    (default: a :class:`ClipOut` of the clip, ``seed``, ``prompt``, the ``steps`` and
    ``guidance`` it was drawn with and the length asked for, ``requested_s``)."""
    headers = {"X-Sonogen-Duration": f"{clip.duration_s:.4f}", **sampling_headers(steps, guidance)}
    if seed is not None:
        headers["X-Sonogen-Seed"] = str(seed)
    if response == "json":
        body = body or ClipOut(
            image=clip.image_uri,
            audio=clip.audio_uri,
            duration_s=clip.duration_s,
            sample_rate=clip.sample_rate,
            seed=seed,
            prompt=prompt,
            num_inference_steps=steps,
            guidance=guidance,
            requested_duration_s=requested_s,
        )
        return JSONResponse(body.model_dump(), headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{name}.{clip.audio_format}"'
    return Response(clip.audio, media_type=MEDIA_TYPES[clip.audio_format], headers=headers)
