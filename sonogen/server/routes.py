"""The original Riffusion app's call, the /v1 API and ``/health``, as one :class:`APIRouter`.

:func:`sonogen.server.app.create_app` includes :data:`router` (before the Studio's);
every route reaches the model and the settings through :mod:`sonogen.server.deps`, and
every bad input answers 4xx JSON ``{"detail": "one line"}`` through the app's handlers.

Every clip is drawn with the steps and guidance the request asks for, else the model's
own (its ``sampling.json``), and with at most ``max_steps`` steps; the answer says what was
used (``X-Sonogen-Steps``, ``X-Sonogen-Guidance``, and in /v1 JSON answers). The bounds of
:mod:`sonogen.server.bounds` are checked before any work.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from sonogen import __version__
from sonogen.server import bounds, jobs
from sonogen.server.bounds import OverLimit
from sonogen.server.deps import (
    AudioUpload,
    ConfigDep,
    EngineDep,
    ServerConfig,
    clip_response,
    current_engine,
    read_upload,
    run_job,
    sampling_headers,
)
from sonogen.server.engine import Engine, Job
from sonogen.server.metrics import CONTENT_TYPE
from sonogen.server.schemas import (
    CLIP_DEFAULT_S,
    CLIP_RESPONSES,
    LONG_DEFAULT_S,
    GenerateIn,
    InferenceIn,
    InferenceOut,
    InterpolateIn,
    LongIn,
    SamplingOut,
    SeedImagesOut,
    SettingsOut,
    TransformIn,
    mask_image_ids,
    seed_image_ids,
)

router = APIRouter()

Inference = TypeVar("Inference", bound=InferenceIn)


def step_budget(body: Inference, config: ServerConfig, pipe: Any = None) -> Inference:
    """``body`` with the steps its clip is really drawn with: those asked for (else the
    model's), at most ``config.max_steps``."""
    steps = jobs.resolve_steps(pipe, body.num_inference_steps, config.max_steps)
    return body.model_copy(update={"num_inference_steps": steps})


def mixed_guidance(body: InferenceIn) -> float:
    """The guidance an interpolated clip is drawn with: its two ends' mixed at ``alpha``."""
    return float(body.start.guidance + (body.end.guidance - body.start.guidance) * body.alpha)


def check_length(seconds: float | None, most: float, field: str = "duration_s") -> None:
    """422 for a length over the server's bound (the schema holds the widest one)."""
    if seconds is not None and seconds > most:
        raise OverLimit(f"{field}: at most {most:g} seconds on this server")


@router.post(
    "/run_inference/",
    response_model=InferenceOut,
    tags=["riffusion"],
    summary="The original Riffusion app's call: one clip between two prompts",
)
async def run_inference(
    body: InferenceIn, request: Request, response: Response, engine: EngineDep, config: ConfigDep
) -> InferenceOut:
    body = step_budget(body, config, engine.pipeline)
    output = await run_job(engine, jobs.inference_job(body), request)
    clip = await run_in_threadpool(jobs.encode_first, output, "mp3", "jpeg")
    response.headers.update(sampling_headers(body.num_inference_steps, mixed_guidance(body)))
    return InferenceOut(image=clip.image_uri, audio=clip.audio_uri, duration_s=clip.duration_s)


@router.post(
    "/v1/interpolate",
    tags=["v1"],
    summary="A clip between two prompts at alpha (the /run_inference/ request, any output format)",
    responses=CLIP_RESPONSES,
)
async def interpolate(body: InterpolateIn, request: Request, engine: EngineDep, config: ConfigDep) -> Response:
    body = step_budget(body, config, engine.pipeline)
    output = await run_job(engine, jobs.inference_job(body), request)
    clip = await run_in_threadpool(jobs.encode_first, output, body.format, body.image_format)
    lead = body.end if body.alpha >= 0.5 else body.start
    return clip_response(
        clip, body.response, seed=lead.seed, prompt=lead.prompt, steps=body.num_inference_steps,
        guidance=mixed_guidance(body),
    )


@router.post(
    "/v1/generate",
    tags=["v1"],
    summary="Text to audio",
    responses=CLIP_RESPONSES,
)
async def generate(body: GenerateIn, request: Request, engine: EngineDep, config: ConfigDep) -> Response:
    check_length(body.duration_s, bounds.max_clip_s(config))
    asked_s = body.duration_s
    update = _sampling(engine.pipeline, body.num_inference_steps, body.guidance, config)
    if asked_s is None and bounds.max_clip_s(config) < CLIP_DEFAULT_S:
        update["duration_s"] = bounds.max_clip_s(config)
    body = body.model_copy(update=update)
    output = await run_job(engine, Job(fn=jobs.generate_fn(body)), request)
    clip = await run_in_threadpool(jobs.encode_first, output, body.format, body.image_format)
    return clip_response(
        clip, body.response, seed=body.seed, prompt=body.prompt, steps=body.num_inference_steps,
        guidance=body.guidance, requested_s=asked_s,
    )


def _sampling(pipe: Any, steps: int | None, guidance: float | None, config: ServerConfig) -> dict[str, Any]:
    """The steps and guidance a /v1 request is really drawn with (a ``model_copy`` update)."""
    return {
        "num_inference_steps": jobs.resolve_steps(pipe, steps, config.max_steps),
        "guidance": jobs.resolve_guidance(pipe, guidance),
    }


@router.post(
    "/v1/transform",
    tags=["v1"],
    summary="Audio to audio: re-imagine an uploaded clip with a prompt",
    responses=CLIP_RESPONSES,
)
async def transform(
    request: Request,
    engine: EngineDep,
    config: ConfigDep,
    audio: AudioUpload,
    form: Annotated[TransformIn, Form()],
) -> Response:
    check_length(form.duration_s, bounds.max_clip_s(config))
    check_length(form.offset_s, config.max_long_s, "offset_s")
    data = await read_upload(audio, "audio")
    bounds.upload_length(data, config.max_long_s)
    form = form.model_copy(update=_sampling(engine.pipeline, form.num_inference_steps, form.guidance, config))
    init_image = await run_in_threadpool(
        jobs.upload_to_image, engine.pipeline, data, form.offset_s, form.duration_s, bounds.max_clip_s(config)
    )
    output = await run_job(engine, Job(fn=jobs.transform_fn(init_image, form)), request)
    clip = await run_in_threadpool(jobs.encode_first, output, form.format, form.image_format)
    return clip_response(
        clip, form.response, seed=form.seed, prompt=form.prompt, steps=form.num_inference_steps,
        guidance=form.guidance, requested_s=form.duration_s,
    )


@router.post(
    "/v1/long",
    tags=["v1"],
    summary="A long piece: consecutive clips from the prompts, joined seamlessly",
    responses=CLIP_RESPONSES,
)
async def long_piece(body: LongIn, request: Request, engine: EngineDep, config: ConfigDep) -> Response:
    check_length(body.duration_s, bounds.max_long_s(config))
    seconds = body.duration_s if body.duration_s is not None else min(LONG_DEFAULT_S, bounds.max_long_s(config))
    bounds.check_clips(bounds.long_windows(seconds, jobs.pipeline_params(engine.pipeline)), config,
                       f"a {seconds:g} s piece")
    update = {**_sampling(engine.pipeline, body.num_inference_steps, body.guidance, config), "duration_s": seconds}
    body = body.model_copy(update=update)
    output = await run_job(engine, Job(fn=jobs.long_fn(body)), request)
    clip = await run_in_threadpool(jobs.encode_first, output, body.format, body.image_format)
    return clip_response(
        clip, body.response, seed=body.seed, prompt=" → ".join(body.prompts), steps=body.num_inference_steps,
        guidance=body.guidance, requested_s=body.duration_s,
    )


@router.get("/v1/seed-images", response_model=SeedImagesOut, tags=["v1"], summary="Built-in seed and mask ids")
async def list_seed_images() -> SeedImagesOut:
    return SeedImagesOut(seed_image_ids=list(seed_image_ids()), mask_image_ids=list(mask_image_ids()))


@router.get(
    "/v1/seed-images/{image_id}",
    tags=["v1"],
    summary="The picture of a built-in seed or mask image (PNG)",
    responses={200: {"content": {"image/png": {}}}},
)
async def seed_image(
    image_id: Annotated[
        str, Path(description="a built-in id", json_schema_extra={"enum": [*seed_image_ids(), *mask_image_ids()]})
    ],
) -> Response:
    if image_id not in seed_image_ids() and image_id not in mask_image_ids():
        raise HTTPException(404, f"unknown image id {image_id!r}; see GET /v1/seed-images")
    png = await run_in_threadpool(jobs.builtin_image_png, image_id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


def sampling_of(pipe: Any, config: ServerConfig) -> SamplingOut:
    """The served model's own steps and guidance, and the most steps drawn here."""
    return SamplingOut(
        num_inference_steps=jobs.resolve_steps(pipe, None, config.max_steps),
        guidance=jobs.default_guidance(pipe),
        max_steps=bounds.steps_cap(config),
    )


@router.get(
    "/v1/settings",
    response_model=SettingsOut,
    tags=["v1"],
    summary="The served model's own steps and guidance, the clip length step and every bound of this server",
)
async def settings(engine: EngineDep, config: ConfigDep) -> SettingsOut:
    pipe = engine.pipeline
    return SettingsOut(
        sampling=sampling_of(pipe, config),
        clip_step_s=round(jobs.clip_step_s(pipe), 6),
        sample_rate=int(jobs.pipeline_params(pipe).sample_rate),
        limits=bounds.describe(config, pipe),
    )


@router.get("/health", tags=["meta"], summary="Liveness, model state, the model's settings and queue figures")
async def health(engine: Annotated[Engine | None, Depends(current_engine)], config: ConfigDep) -> dict[str, Any]:
    if engine is None:
        return {"status": "loading", "model_loaded": False}
    return {
        "status": "ok" if engine.alive else "stopped",
        "model_loaded": True,
        "sampling": sampling_of(engine.pipeline, config).model_dump(),
        "queue": {
            "waiting": engine.waiting,
            "running": engine.running,
            "size": engine.queue_size,
            "max_batch": engine.max_batch,
        },
        "stats": engine.stats.as_dict(),
        "version": __version__,
        **(await engine.cluster_health() if hasattr(engine, "cluster_health") else {}),
    }


@router.get(
    "/metrics",
    tags=["meta"],
    summary="Prometheus metrics: requests, errors by code, queue length, clip latency, clips per second",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(request: Request, engine: Annotated[Engine | None, Depends(current_engine)]) -> PlainTextResponse:
    return PlainTextResponse(request.app.state.metrics.render(engine), media_type=CONTENT_TYPE)
