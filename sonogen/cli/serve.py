"""``sonogen serve``: the HTTP API and the web app on uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from sonogen.argtypes import port, positive_int
from sonogen.cli.common import add_speed_options
from sonogen.errors import SonogenError


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="serve the HTTP API and the jam web app",
        description=(
            "Serve the Riffusion-compatible POST /run_inference/, the /v1 API (docs at /docs) "
            "and the web app at / . The model loads once at start-up."
        ),
    )
    parser.add_argument(
        "--checkpoint",
        metavar="PATH",
        help=(
            "Hub id, diffusers folder or .safetensors file (default: the model packaged with sonogen; "
            "a Hub id is downloaded only when named and not cached)"
        ),
    )
    parser.add_argument(
        "--lora", metavar="DIR", default=None, help="apply this LoRA adapter (a `sonogen train --lora` output folder)"
    )
    parser.add_argument(
        "--scheduler", choices=("default", "pndm", "dpm", "ddim"), default=None, help="sampler (default: the checkpoint's)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=port, default=3013, help="TCP port (default 3013)")
    parser.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1, mps (default: best available)")
    add_speed_options(parser)
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow browser pages from this origin (repeatable; '*' for any)",
    )
    parser.add_argument(
        "--queue-size", type=positive_int, default=16, metavar="N", help="requests that may wait; more get 503"
    )
    parser.add_argument(
        "--max-batch", type=positive_int, default=4, metavar="N", help="compatible requests run together (1: off)"
    )
    parser.add_argument(
        "--threads", type=positive_int, default=None, metavar="N", help="CPU threads for the model (default: torch's)"
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    """Load the model (with progress), then run uvicorn until interrupted.

    "serving on ..." is printed only once uvicorn is listening with the model loaded, so
    whatever waits for that line can send requests at once.
    """
    import time

    import uvicorn

    from sonogen.server import ServerConfig, create_app

    config = ServerConfig(
        checkpoint=args.checkpoint,
        device=args.device,
        lora=args.lora,
        scheduler=args.scheduler,
        dtype=args.dtype,
        compile=bool(args.compile),
        queue_size=args.queue_size,
        max_batch=args.max_batch,
        threads=args.threads,
        cors_origins=list(args.cors_origin),
    )
    what = args.checkpoint or "the default model packaged with sonogen"
    if args.lora:
        what += f" with the LoRA adapter {args.lora}"
    print(f"sonogen: loading {what} ...", flush=True)
    started = time.monotonic()
    pipeline = _load_for_serving(args)  # bad checkpoints fail here: one line, exit 2
    print(f"sonogen: model loaded in {time.monotonic() - started:.1f} s on {pipeline.device}", flush=True)
    config.pipeline_factory = lambda: pipeline
    app = create_app(config)
    server = _announcing_server(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level))
    try:
        server.run()
    except SystemExit:  # uvicorn exits this way when the lifespan fails
        if app.state.startup_error is None:
            raise
    if app.state.startup_error is not None:
        raise SonogenError(f"the server could not start: {app.state.startup_error}")
    return 0 if server.started else 1


def _load_for_serving(args: argparse.Namespace) -> Any:
    from sonogen.pipeline import load_pipeline
    from sonogen.utils import torch_dtype

    return load_pipeline(
        args.checkpoint, device=args.device, dtype=torch_dtype(args.dtype), scheduler=args.scheduler, lora=args.lora,
        compile=bool(args.compile),
    )


def _announcing_server(config: Any) -> Any:
    """uvicorn's Server, printing "serving on <url>" once it listens (the real port for --port 0)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)  # runs the lifespan, then binds
            if not self.started or self.should_exit:
                return
            port = config.port
            for server in getattr(self, "servers", []):
                for sock in getattr(server, "sockets", None) or []:
                    port = sock.getsockname()[1]
            print(f"sonogen: serving on http://{config.host}:{port}/ (API docs at /docs)", flush=True)

    return Server(config)
