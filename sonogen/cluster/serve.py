"""``sonogen serve --ray``: the server as Ray Serve deployments.

Two deployments make one Serve application:

* ``SonogenModel`` (the model replicas): each replica loads the pipeline once, owns one GPU
  when the cluster has GPUs (``num_gpus=1``) or a share of the CPUs otherwise, and runs jobs
  through Ray Serve's own batching (:func:`ray.serve.batch`, one batch at a time per
  replica). Its ``max_ongoing_requests`` is ``max_batch + queue_size`` and the router queues
  at most ``queue_size`` more per caller (``max_queued_requests``).
* ``SonogenIngress`` (the HTTP side, no model, no GPU): the unchanged FastAPI app of
  :func:`sonogen.server.create_app` (every route, the web app, ``/docs``) as a Serve ingress
  (:func:`ray.serve.ingress`). Its engine is a :class:`RemoteEngine`, which sends each job
  to a model replica through a deployment handle and turns Ray's failures into the server's
  own answers: a full deployment is 503 with ``Retry-After`` (JSON, as the single-process
  server answers), a replica that died while holding the request is 503 JSON with
  ``Retry-After`` (retry: Ray replaces the replica), never a hang. Encoding (mp3, images)
  runs here, off the model replicas.

The model replica that answered is named in the ``X-Sonogen-Replica`` response header, and
``/health`` lists the replicas (from the Serve controller) with the queue lengths they last
reported to this ingress. ``/metrics`` is the ingress's (its requests, their queue and model
times as the replicas report them); Ray's own ``ray_serve_*`` metrics come from each node's
metrics export port (:func:`metrics_addresses`).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from sonogen.cluster import require_ray

require_ray()  # one line, not a traceback, when the extra is missing

from ray import serve  # noqa: E402

from sonogen.server.app import create_app  # noqa: E402
from sonogen.server.batching import run_inference_batch  # noqa: E402
from sonogen.server.deps import default_pipeline_factory  # noqa: E402
from sonogen.server.engine import ClientGone, EngineStats, Job, QueueFull  # noqa: E402
from sonogen.server.jobs import default_guidance, default_steps, pipeline_params, width_step  # noqa: E402
from sonogen.server.metrics import log_requests  # noqa: E402

log = logging.getLogger(__name__)

APP_NAME = "sonogen"
MODEL = "SonogenModel"
INGRESS = "SonogenIngress"
REPLICA_HEADER = "X-Sonogen-Replica"

# the per-request holder the ingress middleware reads the answering replica from
_answer: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("sonogen_answer", default=None)


@dataclass
class RaySettings:
    """How ``serve --ray`` lays out the deployments.

    Attributes:
        replicas: fixed number of model replicas (ignored with ``autoscale``).
        autoscale: ``(min, max)`` model replicas, scaled by Ray Serve on ongoing requests.
        num_gpus: GPUs per model replica (None: 1 when the cluster has GPUs, else 0).
        num_cpus: CPUs per model replica (None: 1 with a GPU, else the cluster's CPUs
            shared among the most replicas, at least 0.25).
        route_prefix: where the app is mounted.
    """

    replicas: int = 1
    autoscale: tuple[int, int] | None = None
    num_gpus: float | None = None
    num_cpus: float | None = None
    route_prefix: str = "/"

    @property
    def most(self) -> int:
        return self.autoscale[1] if self.autoscale else self.replicas


@dataclass
class PipelineInfo:
    """What the ingress needs of the pipeline without holding it: its format and width step
    (``/v1/transform`` uploads, clip lengths) and its recommended steps and guidance."""

    spectrogram_params: Any
    vae_scale_factor: int
    default_steps: int = 50
    default_guidance: float = 7.0


def _replica_id() -> str:
    try:
        return str(serve.get_replica_context().replica_id.unique_id)
    except Exception:  # outside a replica
        return "local"


# --------------------------------------------------------------------------- model side
class ModelReplica:
    """The model deployment's body: one pipeline, jobs batched with ``@serve.batch``."""

    def __init__(self, config: Any) -> None:
        import torch

        if config.threads is not None:
            torch.set_num_threads(config.threads)
        factory = config.pipeline_factory or default_pipeline_factory(config)
        self.pipeline = factory()
        self.replica = _replica_id()
        self.threads = config.threads
        self.pending = 0  # jobs in this replica: waiting for a batch or running
        self.running = 0
        self.stats = EngineStats()
        self._batched.set_max_batch_size(max(1, config.max_batch))  # type: ignore[attr-defined]

    def info(self) -> PipelineInfo:
        pipe = self.pipeline
        return PipelineInfo(pipeline_params(pipe), width_step(pipe), default_steps(pipe), default_guidance(pipe))

    @property
    def waiting(self) -> int:
        return max(0, self.pending - self.running)

    def figures(self) -> dict[str, Any]:
        return {"replica": self.replica, "waiting": self.waiting, "running": self.running,
                "stats": self.stats.as_dict()}

    async def run(self, fn: Callable[[Any], Any] | None, item: Any, batch_key: Any) -> dict[str, Any]:
        """One job: ``{"ok": result}`` or ``{"error": exception}``, with this replica's figures
        and the job's ``queue_s`` (waiting in this replica) and ``model_s`` (its batch's time)."""
        self.pending += 1
        self.stats.accepted += 1
        timing = {"entered": time.monotonic()}
        try:
            outcome = await self._batched((fn, item, batch_key, timing))
        finally:
            self.pending -= 1
        times = {"queue_s": timing.get("started", timing["entered"]) - timing["entered"],
                 "model_s": timing.get("model_s", 0.0)}
        return {**outcome, **times, **self.figures()}

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.02)
    async def _batched(self, jobs: list[tuple[Any, Any, Any, dict[str, float]]]) -> list[dict[str, Any]]:
        self.running = len(jobs)
        started = time.monotonic()
        for job in jobs:
            job[3]["started"] = started
        try:
            return await asyncio.to_thread(self._run_jobs, [job[:3] for job in jobs])
        finally:
            self.running = 0
            elapsed = time.monotonic() - started
            self.stats.busy_s += elapsed
            for job in jobs:
                job[3]["model_s"] = elapsed

    def _run_jobs(self, jobs: list[tuple[Any, Any, Any]]) -> list[dict[str, Any]]:
        """Plain jobs one by one; batchable ones grouped by key into :func:`~sonogen.server.batching.run_inference_batch`."""
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
        out: list[dict[str, Any] | None] = [None] * len(jobs)
        groups: dict[Any, list[int]] = {}
        for i, (fn, _item, key) in enumerate(jobs):
            if fn is None:
                groups.setdefault(key, []).append(i)
            else:
                out[i] = self._call(functools.partial(_call_one, fn, self.pipeline), 1)[0]
        for indexes in groups.values():
            items = [jobs[i][1] for i in indexes]
            results = self._call(functools.partial(_call_batch, self.pipeline, items), len(items))
            if len(indexes) > 1 and "error" not in results[0]:
                self.stats.batches += 1
                self.stats.batched_items += len(indexes)
            for i, result in zip(indexes, results, strict=True):
                out[i] = result
        return [r if r is not None else {"error": RuntimeError("job not run")} for r in out]

    def check_health(self) -> None:
        """Ray Serve's health check: a replica without its pipeline is replaced."""
        if self.pipeline is None:
            raise RuntimeError("the pipeline is gone")

    def _call(self, work: Callable[[], list[Any]], size: int) -> list[dict[str, Any]]:
        try:
            results = work()
            if len(results) != size:
                raise RuntimeError(f"batch of {size} gave {len(results)} results")
        except Exception as exc:  # handed back to the waiting requests
            log.debug("job failed: %s", exc, exc_info=True)
            self.stats.failed += size
            return [{"error": exc}] * size
        self.stats.completed += size
        return [{"ok": r} for r in results]


def _call_one(fn: Callable[[Any], Any], pipeline: Any) -> list[Any]:
    return [fn(pipeline)]


def _call_batch(pipeline: Any, items: list[Any]) -> list[Any]:
    return run_inference_batch(pipeline, items)


# --------------------------------------------------------------------------- ingress side
class RemoteEngine:
    """The :class:`~sonogen.server.engine.Engine` interface over the model deployment's handle."""

    def __init__(self, config: Any, app_name: str = APP_NAME) -> None:
        self.queue_size = config.queue_size
        self.max_batch = config.max_batch
        self.app_name = app_name
        self.stats = EngineStats()
        self.pipeline: Any = None
        self._handle: Any = None
        self._inflight = 0
        self._replicas: dict[str, dict[str, Any]] = {}
        self._tasks: dict[int, Any] = {}

    async def astart(self) -> None:
        self._handle = serve.get_deployment_handle(MODEL, self.app_name)
        self.pipeline = await self._handle.info.remote()

    def stop(self) -> None:
        pass

    alive = True

    @property
    def waiting(self) -> int:
        return sum(int(r.get("waiting", 0)) for r in self._replicas.values())

    @property
    def running(self) -> int:
        return sum(int(r.get("running", 0)) for r in self._replicas.values())

    def retry_after(self) -> int:
        return 2

    def submit(self, job: Job) -> Job:
        assert self._handle is not None, "astart() was not awaited"
        self._tasks[id(job)] = self._handle.run.remote(job.fn, job.item, job.batch_key)
        self.stats.accepted += 1
        return job

    def cancel(self, job: Job) -> bool:
        response = self._tasks.pop(id(job), None)
        if response is None:
            return False
        response.cancel()
        self.stats.dropped += 1
        return True

    async def result(self, job: Job, is_disconnected: Callable[[], Any] | None = None, poll_s: float = 0.1) -> Any:
        from ray.exceptions import RayActorError
        from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
        from starlette.exceptions import HTTPException

        response = self._tasks[id(job)]
        task = asyncio.ensure_future(_await(response))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=poll_s)
                if done:
                    break
                if is_disconnected is not None and await is_disconnected():
                    task.cancel()
                    self.cancel(job)
                    raise ClientGone()
            try:
                answer = task.result()
            except BackPressureError as exc:
                self.stats.refused += 1
                raise QueueFull(int(max(1, self.retry_after()))) from exc
            except (RayActorError, DeploymentUnavailableError) as exc:
                self.stats.failed += 1
                raise HTTPException(
                    503, "the model replica that held this request stopped; retry (Ray is replacing it)",
                    headers={"Retry-After": "2"},
                ) from exc
        finally:
            self._tasks.pop(id(job), None)
        model_s = float(answer.get("model_s", 0.0))
        job.model_s = model_s
        job.queue_s = max(0.0, time.monotonic() - job.enqueued_at - model_s)  # the router's queue and the hops too
        replica = str(answer.get("replica", "?"))
        self._replicas[replica] = {k: answer[k] for k in ("waiting", "running", "stats") if k in answer}
        self._replicas[replica]["seen"] = time.time()
        holder = _answer.get()
        if holder is not None:
            holder["replica"] = replica
        if "error" in answer:
            self.stats.failed += 1
            raise answer["error"]
        self.stats.completed += 1
        return answer["ok"]

    async def cluster_health(self) -> dict[str, Any]:
        replicas: dict[str, Any] = {}
        try:
            status = await asyncio.to_thread(serve.status)
            app = status.applications.get(self.app_name)
            if app is not None:
                for name, dep in app.deployments.items():
                    replicas[name] = {"status": str(dep.status.value if hasattr(dep.status, "value") else dep.status),
                                      "replica_states": {str(getattr(k, "value", k)): v
                                                         for k, v in dep.replica_states.items()}}
        except Exception as exc:  # the controller is busy or gone: say so, do not fail /health
            replicas["error"] = " ".join(str(exc).split())[:200]
        now = time.time()
        seen = {rid: {**fig, "age_s": round(now - fig["seen"], 1)} for rid, fig in self._replicas.items()}
        for fig in seen.values():
            fig.pop("seen", None)
        return {"ray": {"app": self.app_name, "deployments": replicas, "replicas_seen": seen,
                        "ingress_replica": _replica_id()}}


async def _await(response: Any) -> Any:
    return await response


class ReplicaHeader:
    """Pure ASGI middleware: adds ``X-Sonogen-Replica`` (the model replica that answered)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder: dict[str, str] = {}
        token = _answer.set(holder)

        async def send_with_header(message: Any) -> None:
            if message["type"] == "http.response.start" and "replica" in holder:
                headers = list(message.get("headers", []))
                headers.append((REPLICA_HEADER.lower().encode(), holder["replica"].encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            _answer.reset(token)


# --------------------------------------------------------------------------- building
def build_application(config: Any, settings: RaySettings, *, cluster_gpus: float = 0.0,
                      cluster_cpus: float = 1.0) -> Any:
    """The Serve application (ingress bound to the model deployment) for ``config``."""
    num_gpus = settings.num_gpus if settings.num_gpus is not None else (1.0 if cluster_gpus > 0 else 0.0)
    if settings.num_cpus is not None:
        num_cpus = settings.num_cpus
    elif num_gpus > 0:
        num_cpus = 1.0
    else:
        num_cpus = max(0.25, round(cluster_cpus / max(1, settings.most), 2))
    scale: dict[str, Any]
    if settings.autoscale:
        lo, hi = settings.autoscale
        scale = {"autoscaling_config": {"min_replicas": lo, "max_replicas": hi, "initial_replicas": lo,
                                        "target_ongoing_requests": max(1, config.max_batch)}}
    else:
        scale = {"num_replicas": settings.replicas}
    model = serve.deployment(
        name=MODEL,
        ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus},
        max_ongoing_requests=config.max_batch + config.queue_size,
        max_queued_requests=config.queue_size,
        health_check_period_s=2,
        health_check_timeout_s=30,
        graceful_shutdown_timeout_s=5,
        max_constructor_retry_count=3,  # a checkpoint that cannot load fails the deployment soon
        **scale,
    )(ModelReplica)

    ingress_config = _ingress_config(config)
    app = create_app(ingress_config)
    app.add_middleware(ReplicaHeader)

    class Ingress:
        def __init__(self, model_handle: Any) -> None:  # the handle is looked up by name in the lifespan
            self._model = model_handle
            log_requests("INFO")  # one line a request, with its queue and model time, in this replica's log

    ingress = serve.deployment(
        name=INGRESS, ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1000,
        graceful_shutdown_timeout_s=5,
    )(serve.ingress(app)(Ingress))
    return ingress.bind(model.bind(_model_config(config)))


def _ingress_config(config: Any) -> Any:
    return replace(config, pipeline_factory=None, load_model=False, engine_factory=RemoteEngine)


def _model_config(config: Any) -> Any:
    return replace(config, engine_factory=None)


def metrics_addresses(ray: Any) -> list[str]:
    """``host:port`` of each live node's Prometheus export, where Ray publishes ``ray_serve_*``."""
    found = []
    for node in ray.nodes():
        if node.get("Alive") and node.get("MetricsExportPort"):
            found.append(f"{node['NodeManagerAddress']}:{node['MetricsExportPort']}")
    return found


def settings_dict(settings: RaySettings) -> dict[str, Any]:
    return asdict(settings)
