"""Fixtures for the server tests: the tiny pipeline, apps with the engine overridden, a live
server, and a headless browser with the pages of the web app."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sonogen.server import Engine, ServerConfig, create_app, current_engine
from sonogen.server.batching import run_inference_batch


@pytest.fixture(scope="session")
def tiny_pipe() -> Iterator[Any]:
    """The tiny random pipeline (built once; its weights are fixed by seed 0).

    Torch runs single-threaded meanwhile: when other processes share the CPU, intra-op
    threads fighting them can make each tiny call many times slower.
    """
    import torch

    from sonogen.pipeline.tiny import build_tiny_pipeline

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield build_tiny_pipeline(seed=0)
    torch.set_num_threads(threads)


class GatedPipeline:
    """Wraps a pipeline; every model call first waits for ``gate`` and is counted.

    Lets a test hold the worker busy, fill the queue, and see which jobs really ran.
    """

    def __init__(self, inner: Any, canned: Any = None) -> None:
        self.inner = inner
        self.canned = canned  # when set, answer this SonogenOutput instead of running the model
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.calls: list[tuple[str, int]] = []  # (kind, batch size)
        self.prompts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _wait(self, kind: str, size: int) -> None:
        self.entered.set()
        assert self.gate.wait(30), "test gate never opened"
        self.calls.append((kind, size))

    def __call__(self, prompt: str, **kwargs: Any) -> Any:
        self._wait("call", 1)
        self.prompts.append(prompt)
        return self.canned if self.canned is not None else self.inner(prompt, **kwargs)

    def run_batch(self, items: list[Any]) -> Any:
        """The engine's ``run_batch`` for this pipeline: ``make_app(gated, run_batch=GatedPipeline.run_batch)``."""
        self._wait("batch", len(items))
        self.prompts.extend(item.start.prompt for item in items)
        if self.canned is not None:
            return [self.canned for _ in items]
        return run_inference_batch(self.inner, items)


def make_app(pipe: Any, run_batch: Callable[[Any, list[Any]], Any] = run_inference_batch, **config: Any) -> tuple[Any, Engine]:
    """An app whose engine (over ``pipe``, batches answered by ``run_batch``) comes in
    through the current_engine dependency override."""
    cfg = ServerConfig(load_model=False, threads=1, **config)
    app = create_app(cfg)
    engine = Engine(pipe, queue_size=cfg.queue_size, max_batch=cfg.max_batch, threads=1, run_batch=run_batch).start()
    app.dependency_overrides[current_engine] = lambda: engine
    return app, engine


@pytest.fixture()
def app_factory() -> Iterator[Callable[..., tuple[Any, Engine]]]:
    """Build apps with :func:`make_app`; their engines are stopped afterwards."""
    engines: list[Engine] = []

    def build(pipe: Any, **config: Any) -> tuple[Any, Engine]:
        app, engine = make_app(pipe, **config)
        engines.append(engine)
        return app, engine

    yield build
    for engine in engines:
        engine.stop()


@pytest.fixture(scope="module")
def client(tiny_pipe: Any) -> Iterator[TestClient]:
    """A TestClient over the tiny pipeline (module-wide: the model state is read-only)."""
    app, engine = make_app(tiny_pipe)
    with TestClient(app, raise_server_exceptions=True) as test_client:
        test_client.engine = engine  # type: ignore[attr-defined]
        yield test_client
    engine.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1:<random port> in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# --------------------------------------------------------------------------- the browser tests
#: Debian's Chromium (scripts/install-browser.sh), driven by Playwright.
CHROMIUM = Path("/usr/bin/chromium")
#: Where the browser tests leave their screenshots.
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
#: JavaScript that is true once the jam page (index.html) or the Studio is ready.
JAM_READY = "window.sonogenJam && window.sonogenJam.ready"
STUDIO_READY = "window.sonogenStudio && window.sonogenStudio.ready"


@pytest.fixture(scope="module")
def server(tiny_pipe: Any) -> Iterator[LiveServer]:
    """The app over the tiny pipeline, served by uvicorn for a browser (one per module)."""
    app, engine = make_app(tiny_pipe, queue_size=16, max_batch=4)
    with LiveServer(app) as live:
        yield live
    engine.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (one per module); the screenshot folder exists."""
    assert CHROMIUM.exists(), "Chromium is missing: run scripts/install-browser.sh (apt-get install chromium)"
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def open_page(browser: Any, url: str, ready: str, **options: Any) -> Any:
    """A new tab (``options``: Playwright's ``new_page`` ones) at ``url``, once the JavaScript
    ``ready`` is true; uncaught page errors collect in ``tab.errors``."""
    tab = browser.new_page(**options)
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.goto(url)
    tab.wait_for_function(ready)
    return tab
