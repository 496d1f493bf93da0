"""The whole HTTP API fuzzed from its own OpenAPI description: schemathesis's command line with
every phase (examples, coverage, fuzzing, stateful) against a live server.

The bar, on every answer: no 5xx; none slower than 30 s; every error JSON whose ``detail``
is one line (:func:`tests.server.fuzz_hooks.errors_are_one_line_json`); every 2xx matching
the schema; and no warning from the run, in particular no schema-validation mismatch (the
schema says exactly what validation accepts: an operation whose generated requests are all
refused means the two disagree). The command line is used because its warnings are part of
the bar; ``tests.server.fuzz_hooks`` gives it real audio and pictures for the uploads.

Bounded: the coverage phase makes every boundary case the schema defines (a few hundred),
the others ``EXAMPLES`` per operation, on the tiny model forced to one denoising step with a
small, cheap spectrogram format (32 bands, 8 kHz, up to 1.2 kHz, 4 phase iterations) and
low length limits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from tests.server.conftest import LiveServer, make_app  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = 8
#: The slowest answer the bar allows, seconds.
MAX_RESPONSE_S = 30
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance,errors_are_one_line_json"


class OneStep:
    """The tiny pipeline, but every request runs one denoising step (keeps the fuzz bounded)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["num_inference_steps"] = 1
        return self.inner(*args, **kwargs)

    def interpolate(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["num_inference_steps"] = 1
        return self.inner.interpolate(*args, **kwargs)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["num_inference_steps"] = 1
        return self.inner.generate(*args, **kwargs)


def fuzz_app() -> tuple[Any, Any]:
    """The app the fuzzer meets: the tiny model in a cheap format (phase reconstruction with 4
    iterations instead of 40: the same code, a third of the time), low length limits."""
    from sonogen.pipeline.tiny import build_tiny_pipeline
    from sonogen.spectrogram.converter import ReconstructionSettings, get_converter
    from sonogen.spectrogram.params import SpectrogramParams

    params = SpectrogramParams(num_frequencies=32, sample_rate=8000, max_frequency=1200)
    get_converter(params).settings = ReconstructionSettings(n_iter=4)  # this format is the fuzz test's alone
    pipe = build_tiny_pipeline(seed=0, spectrogram_params=params)
    return make_app(OneStep(pipe), max_clip_s=1.5, max_long_s=3.0, max_upload_bytes=256 * 1024)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[LiveServer]:
    app, engine = fuzz_app()
    with LiveServer(app) as live:
        yield live
    engine.stop()


@pytest.mark.slow
def test_every_phase_no_5xx_no_slow_answer_no_warning(fuzz_server: LiveServer, tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{fuzz_server.url}/openapi.json",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(EXAMPLES), "--seed", "1", "--workers", "1",
        "--checks", CHECKS, "--max-response-time", str(MAX_RESPONSE_S), "--request-timeout", "60",
        "--suppress-health-check", "all",
        "--report", "json", "--report-dir", str(tmp_path),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.server.fuzz_hooks", "PYTHONPATH": str(REPO),
           "NO_COLOR": "1"}
    # run from tmp_path: the command line keeps a .schemathesis cache in its working folder
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    reports = sorted(tmp_path.glob("*.json"))
    assert reports, f"schemathesis wrote no report (exit {run.returncode}): {run.stdout[-3000:]} {run.stderr[-2000:]}"
    report = json.loads(reports[-1].read_text())
    summary = run.stdout[-6000:]
    assert report["failures"] == [] and report["errors"] == [], summary
    warned = {kind: ops for kind, ops in report["warnings"].items() if ops}
    assert warned == {}, f"warnings {warned}: {summary}"
    phases = {name: phase["status"] for name, phase in report["phases"].items()}
    assert phases["coverage"] == phases["fuzzing"] == phases["examples"] == "success", (phases, summary)
    assert phases["stateful"] in ("success", "skip"), (phases, summary)
    assert report["operations"]["tested"] == report["operations"]["total"] >= 13, report["operations"]
    assert run.returncode == 0, summary


@pytest.mark.slow
def test_damaged_audio_uploads_are_json_4xx() -> None:
    """Random, truncated and bit-flipped audio uploaded to /v1/transform: a JSON 4xx, or a clip."""
    from fastapi.testclient import TestClient
    from hypothesis import given

    from tests.cli.test_fuzz_inputs import WAV, garbage

    app, engine = fuzz_app()
    client = TestClient(app)

    @settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(data=garbage(WAV))
    def check(data: bytes) -> None:
        response = client.post(
            "/v1/transform",
            files={"audio": ("upload.wav", data, "audio/wav")},
            data={"prompt": "jazz", "num_inference_steps": "1", "format": "wav"},
        )
        if response.status_code == 200:
            assert response.headers["content-type"].startswith("audio/")
            return
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/json")
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail and "\n" not in detail

    try:
        check()
    finally:
        engine.stop()
