"""Back-pressure over real HTTP: the queue bound (503 + Retry-After), dropped work of a
client that hangs up, and batching of requests that arrive together."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.server.conftest import GatedPipeline, LiveServer


def request_body(prompt: str, alpha: float = 0.5) -> dict[str, Any]:
    return {
        "alpha": alpha,
        "num_inference_steps": 1,
        "start": {"prompt": prompt, "seed": 1},
        "end": {"prompt": prompt, "seed": 2},
    }


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


def canned_output(tiny_pipe: Any) -> Any:
    """A small real output of the tiny model (what a gated pipeline answers instead of running)."""
    return tiny_pipe("jazz", num_inference_steps=1, width=48, progress=False)


@pytest.fixture(scope="module")
def canned(tiny_pipe: Any) -> Any:
    """A small real output of the tiny model, answered by the gated pipeline."""
    return canned_output(tiny_pipe)


def gated_app(app_factory: Any, tiny_pipe: Any, canned: Any, **config: Any) -> tuple[GatedPipeline, Any, Any]:
    """``(gated, app, engine)``: an app over a :class:`GatedPipeline` answering ``canned``,
    its gate closed (the first request holds the worker until the test opens it)."""
    gated = GatedPipeline(tiny_pipe, canned)
    app, engine = app_factory(gated, run_batch=GatedPipeline.run_batch, **config)
    gated.gate.clear()
    return gated, app, engine


def post_in_thread(url: str, body: dict[str, Any], answers: list[httpx.Response]) -> threading.Thread:
    def run() -> None:
        answers.append(httpx.post(f"{url}/run_inference/", json=body, timeout=60))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_queue_bound_answers_503_with_retry_after(tiny_pipe: Any, canned: Any, app_factory: Any) -> None:
    gated, app, engine = gated_app(app_factory, tiny_pipe, canned, queue_size=1, max_batch=1)
    with LiveServer(app) as server:
        answers: list[httpx.Response] = []
        first = post_in_thread(server.url, request_body("first"), answers)
        assert gated.entered.wait(20)  # the worker is busy with "first"
        second = post_in_thread(server.url, request_body("second"), answers)
        wait_for(lambda: engine.waiting == 1)
        refused = httpx.post(f"{server.url}/run_inference/", json=request_body("third"), timeout=30)
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
        assert "queue is full" in refused.json()["detail"]
        gated.gate.set()
        first.join(30)
        second.join(30)
        assert sorted(r.status_code for r in answers) == [200, 200]
        assert gated.prompts == ["first", "second"]
        assert engine.stats.refused == 1 and engine.stats.completed == 2


def test_disconnected_client_has_its_waiting_work_dropped(tiny_pipe: Any, canned: Any, app_factory: Any) -> None:
    gated, app, engine = gated_app(app_factory, tiny_pipe, canned, queue_size=4, max_batch=1)
    with LiveServer(app) as server:
        answers: list[httpx.Response] = []
        first = post_in_thread(server.url, request_body("busy"), answers)
        assert gated.entered.wait(20)
        payload = json.dumps(request_body("abandoned")).encode()
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(
            b"POST /run_inference/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        wait_for(lambda: engine.waiting == 1)  # queued behind "busy"
        sock.close()  # the client hangs up
        wait_for(lambda: engine.stats.dropped == 1 and engine.waiting == 0)
        gated.gate.set()
        first.join(30)
        assert answers[0].status_code == 200
        time.sleep(0.3)
        assert gated.prompts == ["busy"]  # the abandoned request never reached the model
        assert engine.stats.completed == 1


def test_requests_that_arrive_together_are_batched(tiny_pipe: Any, canned: Any, app_factory: Any) -> None:
    gated, app, engine = gated_app(app_factory, tiny_pipe, canned, queue_size=8, max_batch=4)
    with LiveServer(app) as server:
        answers: list[httpx.Response] = []
        threads = [post_in_thread(server.url, request_body("lead"), answers)]
        assert gated.entered.wait(20)
        threads += [post_in_thread(server.url, request_body(f"p{i}"), answers) for i in range(3)]
        wait_for(lambda: engine.waiting == 3)
        gated.gate.set()
        for thread in threads:
            thread.join(30)
        assert [r.status_code for r in answers] == [200] * 4
        assert gated.calls == [("batch", 1), ("batch", 3)]
