"""Load test: N concurrent clients against the server on loopback for a bounded time.

By default it starts its own server (uvicorn in a thread, tiny random model, torch on
``--threads`` threads); ``--url`` aims at a running server instead. Each client loops
``POST /run_inference/`` (the original app's request); a refused request (503) waits
``min(Retry-After, --backoff)`` seconds and tries again. After ``--seconds`` no new
requests start, and the ones in flight are awaited.

Prints latency percentiles of answered requests, throughput, how many were refused with
503, and whether every accepted request was answered (client view, and the server's
counters when it runs in-process).

    python benchmarks/load.py --clients 8 --seconds 30

``--ray`` deploys the tiny model on a local Ray instance (``--ray-cpus`` CPUs, 127.0.0.1)
through ``sonogen serve --ray``'s application instead, once per replica count of
``--replicas`` (default 1 and 2), and ends with one line per count: throughput, p50, p90.

    python benchmarks/load.py --ray --replicas 1,2 --clients 8 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, answered (200) only
    refused: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    started: int = 0


def body(client_id: int, n: int, steps: int) -> dict[str, Any]:
    """The original app's request; ``steps`` <= 0 leaves the step count to the server's model."""
    alpha = (n % 4) * 0.25
    request: dict[str, Any] = {
        "alpha": alpha,
        "num_inference_steps": steps,
        "seed_image_id": "og_beat",
        "start": {"prompt": "church bells on sunday", "seed": client_id, "denoising": 0.75, "guidance": 7},
        "end": {"prompt": "jazz with piano", "seed": client_id + 1, "denoising": 0.75, "guidance": 7},
    }
    if steps <= 0:
        del request["num_inference_steps"]
    return request


async def client_loop(cid: int, url: str, deadline: float, args: argparse.Namespace, tally: Tally) -> None:
    async with httpx.AsyncClient(timeout=args.timeout) as http:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            tally.started += 1
            t0 = time.monotonic()
            try:
                response = await http.post(f"{url}/run_inference/", json=body(cid, n, args.steps))
            except httpx.HTTPError as exc:
                key = type(exc).__name__
                tally.errors[key] = tally.errors.get(key, 0) + 1
                continue
            if response.status_code == 200:
                tally.latencies.append(time.monotonic() - t0)
            elif response.status_code == 503:
                tally.refused += 1
                wait = float(response.headers.get("retry-after", "1"))
                await asyncio.sleep(min(wait, args.backoff))
            else:
                key = f"HTTP {response.status_code}"
                tally.errors[key] = tally.errors.get(key, 0) + 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def start_server(args: argparse.Namespace) -> tuple[str, Any, Any]:
    """uvicorn + tiny pipeline in a background thread; returns (url, server, engine)."""
    import socket

    import uvicorn

    from sonogen.server import ServerConfig, create_app

    def factory() -> Any:
        from sonogen.pipeline.tiny import build_tiny_pipeline

        return build_tiny_pipeline(seed=0)

    config = ServerConfig(
        queue_size=args.queue_size, max_batch=args.max_batch, threads=args.threads, pipeline_factory=factory
    )
    app = create_app(config)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, app


async def main_async(args: argparse.Namespace, summary: list[str] | None = None) -> int:
    server = app = None
    url = args.url
    if url is None:
        print("starting a server with the tiny model ...", file=sys.stderr)
        url, server, app = start_server(args)
    async with httpx.AsyncClient() as http:  # warm-up: first call pays one-off costs
        await http.post(f"{url}/run_inference/", json=body(0, 0, args.steps), timeout=args.timeout)
    tally = Tally()
    t0 = time.monotonic()
    deadline = t0 + args.seconds
    await asyncio.gather(*(client_loop(i, url, deadline, args, tally) for i in range(args.clients)))
    elapsed = time.monotonic() - t0
    answered = len(tally.latencies)
    lost = tally.started - answered - tally.refused - sum(tally.errors.values())
    print(f"clients {args.clients}, window {args.seconds:.0f} s (all answered after {elapsed:.1f} s), "
          f"steps {args.steps}, queue {args.queue_size}, max batch {args.max_batch}")
    print(f"requests sent {tally.started}, answered 200: {answered}, refused 503: {tally.refused}, "
          f"errors: {tally.errors or 0}")
    if answered:
        lat = tally.latencies
        print(f"latency s: p50 {percentile(lat, 50):.2f}  p90 {percentile(lat, 90):.2f}  "
              f"p99 {percentile(lat, 99):.2f}  max {max(lat):.2f}  mean {statistics.mean(lat):.2f}")
        print(f"throughput: {answered / elapsed:.2f} clips/s ({answered / elapsed * 5.11:.2f} s of audio per s)")
        if summary is not None:
            summary.append(f"{answered / elapsed:.2f} clips/s, p50 {percentile(lat, 50):.2f} s, "
                           f"p90 {percentile(lat, 90):.2f} s, refused {tally.refused}, errors {tally.errors or 0}")
    ok = not tally.errors and lost == 0
    if app is not None:
        engine = app.state.engine
        stats = engine.stats
        accepted_unanswered = stats.accepted - stats.completed - stats.failed - stats.dropped
        print(f"server: accepted {stats.accepted} (incl. warm-up), completed {stats.completed}, failed {stats.failed}, "
              f"dropped {stats.dropped}, refused {stats.refused}, batches {stats.batches} "
              f"(mean size {stats.batched_items / max(1, stats.batches):.2f})")
        ok = ok and accepted_unanswered == 0 and stats.failed == 0
        server.should_exit = True
    print("every accepted request was answered:", "yes" if ok else "NO")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one with the tiny model)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long new requests are sent")
    parser.add_argument("--steps", type=int, default=2,
                        help="num_inference_steps per request (0: leave it out, the model's default)")
    parser.add_argument("--queue-size", type=int, default=4)
    parser.add_argument("--max-batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the in-process server")
    parser.add_argument("--backoff", type=float, default=0.5, help="longest wait after a 503, s")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-request timeout, s")
    parser.add_argument("--ray", action="store_true", help="through Ray Serve (needs the ray extra)")
    parser.add_argument("--replicas", default="1,2", help="with --ray: replica counts to measure, e.g. 1,2")
    parser.add_argument("--ray-cpus", type=float, default=2, help="with --ray: CPUs of the local Ray instance")
    args = parser.parse_args(argv)
    if args.ray:
        return run_ray(args)
    return asyncio.run(main_async(args))


def run_ray(args: argparse.Namespace) -> int:
    """The load test against ``serve --ray``'s application with each replica count in turn."""
    import functools
    import os
    import socket

    try:
        counts = [int(n) for n in args.replicas.split(",") if n.strip()]
        assert counts and min(counts) >= 1
    except (ValueError, AssertionError):
        print(f"load.py: --replicas wants counts like 1,2, got {args.replicas!r}", file=sys.stderr)
        return 2
    try:
        import ray
        from ray import serve
    except ImportError:
        print('load.py: --ray needs the ray extra (pip install "sonogen[ray]")', file=sys.stderr)
        return 2
    from sonogen.cluster.serve import APP_NAME, RaySettings, build_application
    from sonogen.pipeline.tiny import build_tiny_pipeline
    from sonogen.server import ServerConfig

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    rows: list[str] = []
    worst = 0
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        config = ServerConfig(queue_size=args.queue_size, max_batch=args.max_batch, threads=args.threads,
                              pipeline_factory=functools.partial(build_tiny_pipeline, seed=0))
        for count in counts:
            share = max(0.25, args.ray_cpus / count)
            print(f"deploying {count} replica(s) of the tiny model on Ray {ray.__version__} ...", file=sys.stderr)
            serve.run(build_application(config, RaySettings(replicas=count, num_cpus=share)), name=APP_NAME,
                      route_prefix="/")
            args.url = f"http://127.0.0.1:{port}"
            summary: list[str] = []
            worst = max(worst, asyncio.run(main_async(args, summary)))
            rows.append(f"ray, {count} replica(s): " + (summary[0] if summary else "nothing answered"))
            serve.delete(APP_NAME)
    finally:
        serve.shutdown()
        ray.shutdown()
    print()
    print(f"clients {args.clients}, window {args.seconds:.0f} s, steps {args.steps}, "
          f"queue {args.queue_size}, max batch {args.max_batch}, Ray CPUs {args.ray_cpus:g}")
    for row in rows:
        print(row)
    return worst


if __name__ == "__main__":
    sys.exit(main())
