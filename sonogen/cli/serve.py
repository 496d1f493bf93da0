"""``sonogen serve``: the HTTP API and the web app on uvicorn."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sonogen import models
from sonogen.argtypes import port, positive_int, replica_range
from sonogen.cli.common import add_speed_options
from sonogen.cluster import connect, require_ray
from sonogen.errors import SonogenError
from sonogen.utils import SCHEDULERS, torch_dtype

# `sonogen` imports this module while parsing its arguments, so the pipeline, server and
# Ray modules (torch, diffusers, fastapi, ray) are imported inside the handlers, for a
# quick start (tests/cli/test_cold_start.py checks what parsing imports).


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
        "--scheduler", choices=SCHEDULERS, default=None, help="sampler (default: the checkpoint's)"
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
    parser.add_argument(
        "--max-steps", type=positive_int, default=None, metavar="N",
        help="draw every clip with at most N steps, whatever clients ask (a real-time budget; "
             "the original app asks for 50). Default: the packaged model's own steps when no --checkpoint "
             "is given, else the API's bound of 100",
    )
    parser.add_argument(
        "--max-wait", type=float, default=60.0, metavar="S",
        help="answer 503 (with Retry-After) to a request that waited S seconds for the model without "
             "starting (default 60; 0: no limit)",
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    ray = parser.add_argument_group("Ray Serve (needs the ray extra: pip install \"sonogen[ray]\")")
    ray.add_argument(
        "--ray", action="store_true",
        help="serve as Ray Serve replicas: each loads the model once and owns a GPU (or a CPU share)",
    )
    ray.add_argument(
        "--address", default=None, metavar="ADDR",
        help="the Ray cluster to join (auto, host:6379, ray://host:10001; default: start a local one)",
    )
    scale = ray.add_mutually_exclusive_group()
    scale.add_argument("--replicas", type=positive_int, default=None, metavar="N", help="model replicas (default 1)")
    scale.add_argument(
        "--autoscale", type=replica_range, default=None, metavar="MIN:MAX",
        help="let Ray Serve scale the model replicas between MIN and MAX",
    )
    ray.add_argument(
        "--replica-cpus", type=float, default=None, metavar="N",
        help="CPUs per model replica (default: 1 with a GPU, else the cluster's CPUs shared out)",
    )
    parser.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    """Load the model (with progress), then run uvicorn until interrupted.

    "serving on ..." is printed only once uvicorn is listening with the model loaded, so
    whatever waits for that line can send requests at once.
    """
    import time

    if not args.ray and (args.address or args.replicas or args.autoscale or args.replica_cpus is not None):
        raise SonogenError("--address, --replicas, --autoscale and --replica-cpus need --ray")
    if args.ray:
        return _serve_ray(args)

    import uvicorn

    from sonogen.server import create_app
    from sonogen.server.metrics import log_requests

    config = _config_from_args(args)
    what = args.checkpoint or "the default model packaged with sonogen"
    if args.lora:
        what += f" with the LoRA adapter {args.lora}"
    print(f"sonogen: loading {what} ...", flush=True)
    started = time.monotonic()
    pipeline = _load_for_serving(args)  # bad checkpoints fail here: one line, exit 2
    print(f"sonogen: model loaded in {time.monotonic() - started:.1f} s on {pipeline.device}", flush=True)
    config.pipeline_factory = lambda: pipeline
    app = create_app(config)
    log_requests(args.log_level)  # one line a request, with its queue and model time, instead of uvicorn's
    server = _announcing_server(
        uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    )
    try:
        server.run()
    except SystemExit:  # uvicorn exits this way when the lifespan fails
        if app.state.startup_error is None:
            raise
    if app.state.startup_error is not None:
        raise SonogenError(f"the server could not start: {app.state.startup_error}")
    return 0 if server.started else 1


def _config_from_args(args: argparse.Namespace) -> Any:
    from sonogen.server import ServerConfig

    return ServerConfig(
        checkpoint=args.checkpoint, device=args.device, lora=args.lora, scheduler=args.scheduler,
        dtype=args.dtype, compile=bool(args.compile), queue_size=args.queue_size, max_batch=args.max_batch,
        threads=args.threads, cors_origins=list(args.cors_origin), max_steps=step_cap(args.max_steps, args.checkpoint),
        max_wait_s=args.max_wait if args.max_wait > 0 else None,
    )


def step_cap(max_steps: int | None, checkpoint: str | None, packaged: Path | None = None) -> int | None:
    """The most denoising steps a served clip may take.

    ``--max-steps`` when given; else, for the packaged default model (no ``--checkpoint``),
    the steps its ``sampling.json`` recommends (20), at which it keeps up with real time on
    a CPU; the original web app always asks for 50. Other checkpoints: no cap.
    ``packaged`` is the default model's folder (tests pass their own).
    """
    if max_steps is not None or checkpoint is not None:
        return max_steps
    from sonogen.pipeline.model_files import read_sampling_defaults

    folder = models.default_checkpoint_path(packaged)
    if folder is None:
        return None
    steps = read_sampling_defaults(folder).get("num_inference_steps")
    return int(steps) if steps is not None else None


def _serve_ray(args: argparse.Namespace) -> int:
    """Deploy on Ray Serve and wait until interrupted (the app is deleted on the way out)."""
    import time

    require_ray()
    if args.replica_cpus is not None and args.replica_cpus <= 0:
        raise SonogenError("--replica-cpus must be positive")
    from sonogen.cluster.serve import APP_NAME, RaySettings, build_application, metrics_addresses
    from sonogen.pipeline.model_files import looks_like_path

    local = args.checkpoint and args.address is None and looks_like_path(args.checkpoint)
    if local and not Path(args.checkpoint).expanduser().exists():
        raise SonogenError(f"checkpoint not found: {args.checkpoint}")  # before any replica tries to load it
    ray = connect(args.address)
    from ray import serve

    resources = ray.cluster_resources()
    settings = RaySettings(replicas=args.replicas or 1, autoscale=args.autoscale, num_cpus=args.replica_cpus)
    app = build_application(
        _config_from_args(args), settings, cluster_gpus=float(resources.get("GPU", 0)),
        cluster_cpus=float(resources.get("CPU", 1)),
    )
    serve.start(http_options={"host": args.host, "port": args.port})
    layout = f"{args.autoscale[0]}..{args.autoscale[1]}" if args.autoscale else str(settings.replicas)
    print(f"sonogen: deploying {layout} model replica(s) on Ray {ray.__version__} ...", flush=True)
    started = time.monotonic()
    try:
        serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
    except Exception as exc:  # a replica that cannot load its model fails the deployment
        raise SonogenError(f"the Ray Serve deployment failed: {' '.join(str(exc).split())[:400]}") from exc
    print(f"sonogen: deployed in {time.monotonic() - started:.1f} s", flush=True)
    exports = ", ".join(f"http://{where}/metrics" for where in metrics_addresses(ray)) or "none found"
    print(f"sonogen: Ray's own metrics (ray_serve_*) at {exports}; sonogen's at /metrics", flush=True)
    print(f"sonogen: serving on http://{args.host}:{args.port}/ (API docs at /docs) through Ray Serve", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            serve.delete(APP_NAME)
        finally:
            ray.shutdown()
    return 0


def _load_for_serving(args: argparse.Namespace) -> Any:
    from sonogen.pipeline import load_pipeline

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
