"""The whole HTTP API fuzzed from its own OpenAPI description (schemathesis, in-process ASGI).

Bounded: a few examples per operation, no deadline, the tiny model forced to one
denoising step and short clips (the server's limits are set low), so the module runs in
well under a minute. Every answer must be: no 5xx; every error a JSON 4xx whose
``detail`` is one line; every 2xx matching the schema (``response_schema_conformance``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance  # noqa: E402

from tests.server.conftest import make_app  # noqa: E402

EXAMPLES = 8


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


@pytest.fixture(scope="module")
def api_schema() -> Iterator[Any]:
    from sonogen.pipeline.tiny import build_tiny_pipeline
    from sonogen.spectrogram.params import SpectrogramParams

    # 64 mel bands: the same code paths as 512, an eighth of the phase reconstruction work
    pipe = build_tiny_pipeline(seed=0, spectrogram_params=SpectrogramParams(num_frequencies=64))
    app, engine = make_app(OneStep(pipe), max_clip_s=1.5, max_long_s=3.0, max_upload_bytes=64 * 1024)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # the examples and fuzzing phases (bounded by max_examples); the coverage phase's
    # boundary enumeration is unbounded in count and would run the model hundreds of times
    schema.config.phases.coverage.enabled = False
    schema.config.phases.stateful.enabled = False
    yield schema
    engine.stop()


schema = schemathesis.pytest.from_fixture("api_schema")


def errors_are_one_line_json_4xx(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every non-2xx answer: 4xx (499 for a client gone), JSON, ``detail`` a one-line string."""
    status = response.status_code
    if status < 400:
        return None
    assert status < 500, f"server error {status}: {response.text[:300]}"
    kind = response.headers.get("content-type") or [""]
    kind = kind[0] if isinstance(kind, list) else kind
    assert kind.startswith("application/json"), (kind, response.text[:300])
    detail = response.json().get("detail")
    assert isinstance(detail, str) and detail and "\n" not in detail, detail
    return None


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_5xx_errors_are_json_4xx_answers_match_schema(case: Any) -> None:
    response = case.call()
    case.validate_response(
        response,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
    errors_are_one_line_json_4xx(None, response, case)


@pytest.mark.slow
def test_damaged_audio_uploads_are_json_4xx(api_schema: Any) -> None:
    """Random, truncated and bit-flipped audio uploaded to /v1/transform: a JSON 4xx, or a clip."""
    from fastapi.testclient import TestClient
    from hypothesis import given

    from tests.cli.test_fuzz_inputs import WAV, garbage

    client = TestClient(api_schema.app)

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

    check()
