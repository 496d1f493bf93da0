"""The FastAPI application: the Riffusion-compatible route, the /v1 API and the web app.

``create_app(config)`` builds the app; the model loads in the lifespan (never at import)
and is handed to routes through the :func:`current_engine` dependency (and :func:`get_engine`,
which turns "none yet" into a 503); tests override ``current_engine`` with an
:class:`~sonogen.server.engine.Engine` around the tiny pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from sonogen.errors import SonogenError
from sonogen.server import jobs
from sonogen.server.encode import EncodedClip
from sonogen.server.engine import ClientGone, Engine, Job, QueueFull
from sonogen.server.limits import BodySizeLimit
from sonogen.server.schemas import (
    CLIP_RESPONSES,
    MEDIA_TYPES,
    ClipOut,
    ErrorOut,
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

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


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
        max_upload_bytes: upload limit of the file endpoints (``/v1/transform`` and the Studio's), bytes.
        max_clip_s: longest clip /v1/generate and /v1/transform make, seconds.
        max_long_s: longest piece /v1/long makes, seconds.
        max_steps: most denoising steps a ``/run_inference/`` or ``/v1/interpolate`` clip is
            drawn with; requests asking for more get this many (a real-time budget: the
            original app always asks for 50). None: as asked.
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
    pipeline_factory: Callable[[], Any] | None = None
    load_model: bool = True
    engine_factory: Callable[[ServerConfig], Any] | None = None


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


def _default_factory(config: ServerConfig) -> Callable[[], Any]:
    def build() -> Any:
        from sonogen.pipeline import load_pipeline
        from sonogen.utils import torch_dtype

        return load_pipeline(
            config.checkpoint, device=config.device, dtype=torch_dtype(config.dtype), scheduler=config.scheduler,
            lora=config.lora, compile=config.compile,
        )

    return build


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """Build the app for ``config`` (routes, error handlers, limits, CORS, web app)."""
    config = config or ServerConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine: Any = None
        if config.engine_factory is not None:
            engine = config.engine_factory(config)
            if hasattr(engine, "astart"):
                await engine.astart()
        elif config.load_model:
            factory = config.pipeline_factory or _default_factory(config)
            try:
                pipeline = await run_in_threadpool(factory)
            except SonogenError as exc:  # `sonogen serve` reports it as one line after uvicorn stops
                app.state.startup_error = exc
                raise
            engine = Engine(
                pipeline, queue_size=config.queue_size, max_batch=config.max_batch, threads=config.threads
            ).start()
        app.state.engine = engine
        try:
            yield
        finally:
            if engine is not None:
                engine.stop()
            app.state.engine = None

    app = FastAPI(
        title="sonogen",
        summary="Riffusion-style music generation: text and audio to spectrograms to sound.",
        version=_version(),
        lifespan=lifespan,
        responses={400: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}},
    )
    app.state.config = config
    app.state.engine = None
    app.state.startup_error = None
    _add_error_handlers(app)
    _add_routes(app)
    from sonogen.server.studio import UPLOAD_PATHS, router

    app.include_router(router)

    def limit_for(path: str) -> int:
        return config.max_upload_bytes if path.rstrip("/") in UPLOAD_PATHS else config.max_body_bytes

    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["Retry-After", "X-Sonogen-Duration", "X-Sonogen-Seed"],
        )
    app.add_middleware(BodySizeLimit, limit_for=limit_for)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


def _version() -> str:
    from sonogen import __version__

    return __version__


# --------------------------------------------------------------------------- errors
def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return 400, "request body is not valid JSON"
    if any(tuple(err.get("loc", ())) == ("body",) and err.get("type") != "missing" for err in errors):
        return 422, "request body must be a JSON object (and sent with Content-Type: application/json)"
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "form"))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return 422, _one_line("; ".join(parts) or "invalid request")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return JSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": _one_line(str(exc.detail))}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(SonogenError)
    async def on_sonogen(request: Request, exc: SonogenError) -> JSONResponse:
        return JSONResponse({"detail": _one_line(str(exc))}, status_code=400)

    @app.exception_handler(QueueFull)
    async def on_full(request: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)}
        )

    @app.exception_handler(ClientGone)
    async def on_gone(request: Request, exc: ClientGone) -> Response:
        return Response(status_code=499)


# --------------------------------------------------------------------------- routes
#: The audio file of an upload endpoint (multipart).
AudioUpload = Annotated[UploadFile, File(description="audio file: wav, flac, ogg, mp3")]


async def run_job(engine: Engine, job: Job, request: Request) -> Any:
    """Queue ``job`` and await its result (dropped if the client leaves while it waits)."""
    engine.submit(job)
    return await engine.result(job, request.is_disconnected)


async def read_upload(upload: UploadFile, what: str) -> bytes:
    """The uploaded file's bytes; an empty file is a 422 naming the field ``what``."""
    data = await upload.read()
    if not data:
        raise HTTPException(422, f"{what}: the uploaded file is empty")
    return data


def clip_response(
    clip: EncodedClip,
    response: str,
    *,
    seed: int | None = None,
    prompt: str | None = None,
    body: BaseModel | None = None,
    name: str = "sonogen",
) -> Response:
    """A /v1 answer: the audio file (``name.<format>``), or with ``response="json"`` ``body``
    (default: a :class:`ClipOut` of the clip, ``seed`` and ``prompt``)."""
    headers = {"X-Sonogen-Duration": f"{clip.duration_s:.4f}"}
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
        )
        return JSONResponse(body.model_dump(), headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{name}.{clip.audio_format}"'
    return Response(clip.audio, media_type=MEDIA_TYPES[clip.audio_format], headers=headers)


def _step_budget(body: InferenceIn, config: ServerConfig) -> InferenceIn:
    """``body`` with its steps capped at ``config.max_steps`` (unchanged when there is no cap)."""
    asked = body.num_inference_steps
    if config.max_steps is None or asked is None or asked <= config.max_steps:
        return body
    return body.model_copy(update={"num_inference_steps": config.max_steps})


def _add_routes(app: FastAPI) -> None:
    @app.post(
        "/run_inference/",
        response_model=InferenceOut,
        tags=["riffusion"],
        summary="The original Riffusion app's call: one clip between two prompts",
    )
    async def run_inference(body: InferenceIn, request: Request, engine: EngineDep, config: ConfigDep) -> InferenceOut:
        job = jobs.inference_job(_step_budget(body, config))
        output = await run_job(engine, job, request)
        clip = await run_in_threadpool(jobs.encode_first, output, "mp3", "jpeg")
        return InferenceOut(image=clip.image_uri, audio=clip.audio_uri, duration_s=clip.duration_s)

    @app.post(
        "/v1/interpolate",
        tags=["v1"],
        summary="A clip between two prompts at alpha (the /run_inference/ request, any output format)",
        responses=CLIP_RESPONSES,
    )
    async def interpolate(body: InterpolateIn, request: Request, engine: EngineDep, config: ConfigDep) -> Response:
        job = jobs.inference_job(_step_budget(body, config))
        output = await run_job(engine, job, request)
        clip = await run_in_threadpool(jobs.encode_first, output, body.format, body.image_format)
        lead = body.end if body.alpha >= 0.5 else body.start
        return clip_response(clip, body.response, seed=lead.seed, prompt=lead.prompt)

    @app.post(
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

    @app.post(
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

    @app.post(
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

    @app.get("/v1/seed-images", response_model=SeedImagesOut, tags=["v1"], summary="Built-in seed and mask ids")
    async def list_seed_images() -> SeedImagesOut:
        return SeedImagesOut(seed_image_ids=list(seed_image_ids()), mask_image_ids=list(mask_image_ids()))

    @app.get(
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

    @app.get("/health", tags=["meta"], summary="Liveness, model state and queue figures")
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
            "version": _version(),
            **(await engine.cluster_health() if hasattr(engine, "cluster_health") else {}),
        }
