"""The original Riffusion app's call, the /v1 API and ``/health``, as one :class:`APIRouter`.

:func:`sonogen.server.app.create_app` includes :data:`router` (before the Studio's);
every route reaches the model and the settings through :mod:`sonogen.server.deps`, and
every bad input answers 4xx JSON ``{"detail": "one line"}`` through the app's handlers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from sonogen import __version__
from sonogen.server import jobs
from sonogen.server.deps import (
    AudioUpload,
    ConfigDep,
    EngineDep,
    ServerConfig,
    clip_response,
    current_engine,
    read_upload,
    run_job,
)
from sonogen.server.engine import Engine, Job
from sonogen.server.schemas import (
    CLIP_RESPONSES,
    GenerateIn,
    InferenceIn,
    InferenceOut,
    InterpolateIn,
    LongIn,
    SeedImagesOut,
    TransformIn,
    mask_image_ids,
    seed_image_ids,
)

router = APIRouter()


def step_budget(body: InferenceIn, config: ServerConfig) -> InferenceIn:
    """``body`` with its steps capped at ``config.max_steps`` (unchanged when there is no cap)."""
    asked = body.num_inference_steps
    if config.max_steps is None or asked is None or asked <= config.max_steps:
        return body
    return body.model_copy(update={"num_inference_steps": config.max_steps})


@router.post(
    "/run_inference/",
    response_model=InferenceOut,
    tags=["riffusion"],
    summary="The original Riffusion app's call: one clip between two prompts",
)
async def run_inference(body: InferenceIn, request: Request, engine: EngineDep, config: ConfigDep) -> InferenceOut:
    job = jobs.inference_job(step_budget(body, config))
    output = await run_job(engine, job, request)
    clip = await run_in_threadpool(jobs.encode_first, output, "mp3", "jpeg")
    return InferenceOut(image=clip.image_uri, audio=clip.audio_uri, duration_s=clip.duration_s)


@router.post(
    "/v1/interpolate",
    tags=["v1"],
    summary="A clip between two prompts at alpha (the /run_inference/ request, any output format)",
    responses=CLIP_RESPONSES,
)
async def interpolate(body: InterpolateIn, request: Request, engine: EngineDep, config: ConfigDep) -> Response:
    job = jobs.inference_job(step_budget(body, config))
    output = await run_job(engine, job, request)
    clip = await run_in_threadpool(jobs.encode_first, output, body.format, body.image_format)
    lead = body.end if body.alpha >= 0.5 else body.start
    return clip_response(clip, body.response, seed=lead.seed, prompt=lead.prompt)


@router.post(
    "/v1/generate",
    tags=["v1"],
    summary="Text to audio",
    responses=CLIP_RESPONSES,
)
async def generate(body: GenerateIn, request: Request, engine: EngineDep, config: ConfigDep) -> Response:
    if body.duration_s is not None and body.duration_s > config.max_clip_s:
        raise HTTPException(422, f"duration_s: at most {config.max_clip_s} seconds")
    job = Job(fn=jobs.generate_fn(body))
    output = await run_job(engine, job, request)
    clip = await run_in_threadpool(jobs.encode_first, output, body.format, body.image_format)
    return clip_response(clip, body.response, seed=body.seed, prompt=body.prompt)


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
    if form.duration_s is not None and form.duration_s > config.max_clip_s:
        raise HTTPException(422, f"duration_s: at most {config.max_clip_s} seconds")
    data = await read_upload(audio, "audio")
    init_image = await run_in_threadpool(
        jobs.upload_to_image, engine.pipeline, data, form.offset_s, form.duration_s, config.max_clip_s
    )
    output = await run_job(engine, Job(fn=jobs.transform_fn(init_image, form)), request)
    clip = await run_in_threadpool(jobs.encode_first, output, form.format, form.image_format)
    return clip_response(clip, form.response, seed=form.seed, prompt=form.prompt)


@router.post(
    "/v1/long",
    tags=["v1"],
    summary="A long piece: consecutive clips from the prompts, joined seamlessly",
    responses=CLIP_RESPONSES,
)
async def long_piece(body: LongIn, request: Request, engine: EngineDep, config: ConfigDep) -> Response:
    if body.duration_s > config.max_long_s:
        raise HTTPException(422, f"duration_s: at most {config.max_long_s} seconds")
    output = await run_job(engine, Job(fn=jobs.long_fn(body)), request)
    clip = await run_in_threadpool(jobs.encode_first, output, body.format, body.image_format)
    return clip_response(clip, body.response, seed=body.seed, prompt=" → ".join(body.prompts))


@router.get("/v1/seed-images", response_model=SeedImagesOut, tags=["v1"], summary="Built-in seed and mask ids")
async def list_seed_images() -> SeedImagesOut:
    return SeedImagesOut(seed_image_ids=list(seed_image_ids()), mask_image_ids=list(mask_image_ids()))


@router.get(
    "/v1/seed-images/{image_id}",
    tags=["v1"],
    summary="The picture of a built-in seed or mask image (PNG)",
    responses={200: {"content": {"image/png": {}}}},
)
async def seed_image(image_id: str) -> Response:
    if image_id not in seed_image_ids() and image_id not in mask_image_ids():
        raise HTTPException(404, f"unknown image id {image_id!r}; see GET /v1/seed-images")
    png = await run_in_threadpool(jobs.builtin_image_png, image_id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@router.get("/health", tags=["meta"], summary="Liveness, model state and queue figures")
async def health(engine: Annotated[Engine | None, Depends(current_engine)]) -> dict[str, Any]:
    if engine is None:
        return {"status": "loading", "model_loaded": False}
    return {
        "status": "ok" if engine.alive else "stopped",
        "model_loaded": True,
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
