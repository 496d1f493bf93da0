"""The FastAPI application: the Riffusion-compatible route, the /v1 API, the Studio and the web app.

``create_app(config)`` builds the app around two routers, :data:`sonogen.server.routes.router`
(the original app's call, /v1 and ``/health``) and :data:`sonogen.server.studio.router`
(the Studio's uploads), both of which depend on :mod:`sonogen.server.deps` for the
settings, the engine and the shared answers. The model loads in the lifespan (never at
import) and reaches the routes through the :func:`current_engine` dependency; tests
override it with an :class:`~sonogen.server.engine.Engine` around the tiny pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from sonogen import __version__
from sonogen.errors import SonogenError
from sonogen.server import routes, studio
from sonogen.server.bounds import OverLimit, apply_to_openapi
from sonogen.server.deps import (
    UPLOAD_PATHS,
    ServerConfig,
    current_engine,
    default_pipeline_factory,
    get_config,
    get_engine,
)
from sonogen.server.engine import ClientGone, Engine, QueueFull
from sonogen.server.limits import BodySizeLimit
from sonogen.server.metrics import Metrics, RequestTiming
from sonogen.server.schemas import ErrorOut

__all__ = ["WEB_DIR", "ServerConfig", "create_app", "current_engine", "get_config", "get_engine"]

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


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
            factory = config.pipeline_factory or default_pipeline_factory(config)
            try:
                pipeline = await run_in_threadpool(factory)
            except SonogenError as exc:  # `sonogen serve` reports it as one line after uvicorn stops
                app.state.startup_error = exc
                raise
            engine = Engine(
                pipeline, queue_size=config.queue_size, max_batch=config.max_batch, threads=config.threads,
                max_wait_s=config.max_wait_s,
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
        version=__version__,
        lifespan=lifespan,
        responses={400: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}},
    )
    app.state.config = config
    app.state.engine = None
    app.state.startup_error = None
    app.state.metrics = Metrics(__version__)
    _add_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(studio.router)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's description with this server's bounds written in (built once)."""
        built = app.openapi_schema is not None
        schema = default_openapi()
        return schema if built else apply_to_openapi(schema, config)

    app.openapi = openapi  # type: ignore[method-assign]

    def limit_for(path: str) -> int:
        return config.max_upload_bytes if path.rstrip("/") in UPLOAD_PATHS else config.max_body_bytes

    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["Retry-After", "X-Sonogen-Duration", "X-Sonogen-Seed", "X-Sonogen-Steps",
                            "X-Sonogen-Guidance"],
        )
    app.add_middleware(BodySizeLimit, limit_for=limit_for)
    app.add_middleware(RequestTiming, metrics=app.state.metrics)  # outermost: 413s are timed and counted too
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


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

    @app.exception_handler(OverLimit)
    async def on_over_limit(request: Request, exc: OverLimit) -> JSONResponse:
        return JSONResponse({"detail": _one_line(str(exc))}, status_code=422)

    @app.exception_handler(QueueFull)
    async def on_full(request: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)}
        )

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        detail = f"internal error ({type(exc).__name__}); the server's log has the details"
        return JSONResponse({"detail": detail}, status_code=500)

    @app.exception_handler(ClientGone)
    async def on_gone(request: Request, exc: ClientGone) -> Response:
        return Response(status_code=499)
