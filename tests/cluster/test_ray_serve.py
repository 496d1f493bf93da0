"""``serve --ray``: two Ray Serve replicas of the tiny checkpoint behind the unchanged app."""

from __future__ import annotations

import concurrent.futures
import functools
import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.cluster.conftest import require_ray
from tests.server.conftest import free_port
from tests.server.test_api import ORIGINAL_REQUEST, decode_uri

pytestmark = pytest.mark.slow

TIMEOUT_S = 90  # no request may take longer than this, even when its replica is killed


@pytest.fixture(scope="module")
def served(local_ray: Any) -> Iterator[str]:
    """The app deployed as 2 model replicas (half a CPU each); yields its base URL."""
    require_ray()
    from ray import serve

    from sonogen.cluster.serve import APP_NAME, RaySettings, build_application
    from sonogen.pipeline.tiny import build_tiny_pipeline
    from sonogen.server import ServerConfig

    config = ServerConfig(
        pipeline_factory=functools.partial(build_tiny_pipeline, seed=0), threads=1, queue_size=8, max_batch=4
    )
    for attempt in range(2):  # on a loaded machine Serve's controller may kill a slow-starting proxy once
        port = free_port()
        try:
            serve.start(http_options={"host": "127.0.0.1", "port": port})
            serve.run(build_application(config, RaySettings(replicas=2, num_cpus=0.5)), name=APP_NAME,
                      route_prefix="/")
            break
        except local_ray.exceptions.RayActorError:
            serve.shutdown()
            if attempt:
                raise
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.delete(APP_NAME)


def _model_replicas(ray: Any) -> list[str]:
    from sonogen.cluster.serve import MODEL

    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if f"#{MODEL}#" in a["name"]]


def _wait_replicas(n: int, deadline_s: float = 90) -> dict[str, Any]:
    from ray import serve

    from sonogen.cluster.serve import APP_NAME, MODEL

    deadline = time.monotonic() + deadline_s
    while True:
        dep = serve.status().applications[APP_NAME].deployments[MODEL]
        running = int(dep.replica_states.get("RUNNING", 0))
        if running == n and str(dep.status) in ("HEALTHY", "DeploymentStatus.HEALTHY"):
            return dict(dep.replica_states)
        assert time.monotonic() < deadline, f"not back to {n} replicas: {dep}"
        time.sleep(0.5)


def test_original_request_answered_unchanged_by_both_replicas(served: str) -> None:
    import httpx

    with httpx.Client(base_url=served, timeout=TIMEOUT_S) as client:
        seen: set[str] = set()
        bodies = []
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(lambda _: client.post("/run_inference/", json=ORIGINAL_REQUEST), range(8)))
        for response in responses:
            assert response.status_code == 200, response.text
            seen.add(response.headers["x-sonogen-replica"])
            body = response.json()
            assert set(body) == {"image", "audio", "duration_s"}
            assert decode_uri(body["image"], "image/jpeg")
            bodies.append(body["image"])
        assert len(seen) == 2, f"answered by {seen}"
        # same request, same seeds: the same picture from either replica (batch sizes may move a pixel)
        pictures = [np.asarray(Image.open(io.BytesIO(decode_uri(b, "image/jpeg"))), dtype=np.float32) for b in bodies]
        assert all(p.shape == pictures[0].shape and np.abs(p - pictures[0]).mean() < 2.0 for p in pictures)

        health = client.get("/health").json()
        assert health["status"] == "ok" and health["model_loaded"]
        assert health["ray"]["deployments"]["SonogenModel"]["replica_states"].get("RUNNING") == 2
        assert set(health["ray"]["replicas_seen"]) <= seen
        assert all("waiting" in r for r in health["ray"]["replicas_seen"].values())
        paths = client.get("/openapi.json").json()["paths"]
        assert {"/run_inference/", "/v1/generate", "/v1/transform", "/v1/interpolate", "/v1/long"} <= set(paths)
        assert client.get("/docs").status_code == 200
        assert "jam.js" in client.get("/").text
        bad = client.post("/run_inference/", json={**ORIGINAL_REQUEST, "alpha": 7})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/json")
        generated = client.post("/v1/generate", json={"prompt": "jazz", "num_inference_steps": 1, "format": "wav"})
        assert generated.status_code == 200 and generated.content[:4] == b"RIFF"
        assert generated.headers["x-sonogen-steps"] == "1"

        # the model's own settings reach the ingress, and its metrics count what it answered
        assert client.get("/v1/settings").json()["sampling"] == {"num_inference_steps": 50, "guidance": 7.0,
                                                                  "max_steps": 100}
        metrics = client.get("/metrics").text
        assert 'sonogen_requests_total{method="POST",path="/run_inference/",code="200"}' in metrics
        assert 'sonogen_clip_latency_seconds_count{path="/run_inference/"}' in metrics
        assert "sonogen_model_loaded 1" in metrics and "sonogen_queue_capacity 8" in metrics


def test_killed_replica_answers_retryable_and_is_replaced(served: str, local_ray: Any) -> None:
    import httpx

    ray = local_ray
    replicas = _model_replicas(ray)
    assert len(replicas) == 2, replicas

    def one(i: int) -> tuple[int, float, str]:
        started = time.monotonic()
        with httpx.Client(base_url=served, timeout=TIMEOUT_S) as client:
            body = {**ORIGINAL_REQUEST, "start": {**ORIGINAL_REQUEST["start"], "seed": i}}  # type: ignore[dict-item]
            try:
                response = client.post("/run_inference/", json=body)
            except httpx.TimeoutException:
                return -1, time.monotonic() - started, "no answer"
        if response.status_code != 200:
            assert response.status_code in (500, 502, 503, 504), response.text
            assert response.headers["content-type"].startswith("application/json"), response.text
            assert response.json()["detail"]
            if response.status_code == 503:
                assert int(response.headers["retry-after"]) >= 1
        return response.status_code, time.monotonic() - started, response.text[:200]

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(one, i) for i in range(6)]
        time.sleep(1.0)  # the burst is queued on both replicas
        ray.kill(ray.get_actor(replicas[0], namespace="serve"), no_restart=True)
        results = [f.result(timeout=TIMEOUT_S + 30) for f in futures]
    codes = [code for code, _, _ in results]
    print("burst:", results)
    assert -1 not in codes and all(elapsed < TIMEOUT_S for _, elapsed, _ in results), results
    assert codes.count(200) >= 1, results
    _wait_replicas(2)
    assert replicas[0] not in _model_replicas(ray)
    with httpx.Client(base_url=served, timeout=TIMEOUT_S) as client:
        assert client.post("/run_inference/", json=ORIGINAL_REQUEST).status_code == 200


def test_every_replica_full_is_503_with_retry_after(served: str) -> None:
    """A burst larger than both replicas' ongoing slots plus the router's queue is partly
    refused at once with 503 JSON and ``Retry-After``; the rest are answered, none hangs.

    Every admitted request is served in turn, so the last one waits for about ``capacity``
    clips on a CPU the replicas share: the client allows ``3 * TIMEOUT_S`` for that."""
    import httpx

    _wait_replicas(2)
    capacity = 2 * (4 + 8) + 8  # per replica max_batch + queue_size ongoing, then queue_size queued

    burst = capacity + 16
    ready = threading.Barrier(burst)  # every client built first, then all ask at once

    def one(i: int) -> tuple[int, float, str]:
        body = {**ORIGINAL_REQUEST, "start": {**ORIGINAL_REQUEST["start"], "seed": 100 + i}}  # type: ignore[dict-item]
        with httpx.Client(base_url=served, timeout=3 * TIMEOUT_S) as client:
            ready.wait(timeout=TIMEOUT_S)
            started = time.monotonic()
            try:
                response = client.post("/run_inference/", json=body)
            except httpx.TimeoutException:
                return -1, time.monotonic() - started, "no answer"
        if response.status_code == 503:
            assert response.headers["content-type"].startswith("application/json"), response.text
            assert response.json()["detail"]
            assert int(response.headers["retry-after"]) >= 1
        return response.status_code, time.monotonic() - started, response.headers.get("retry-after", "")

    with concurrent.futures.ThreadPoolExecutor(burst) as pool:
        results = list(pool.map(one, range(burst)))
    codes = [code for code, _, _ in results]
    print("full burst:", sorted(codes))
    assert set(codes) <= {200, 503}, results
    assert codes.count(503) >= 1 and codes.count(200) >= 1, results
    refused_s = [elapsed for code, elapsed, _ in results if code == 503]
    assert min(refused_s) < TIMEOUT_S / 3, "a refusal should come at once, not after the queue drains"
    with httpx.Client(base_url=served, timeout=TIMEOUT_S) as client:
        assert client.post("/run_inference/", json=ORIGINAL_REQUEST).status_code == 200
