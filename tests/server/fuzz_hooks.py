"""Schemathesis hooks for fuzzing the API (``SCHEMATHESIS_HOOKS=tests.server.fuzz_hooks``).

The upload endpoints' OpenAPI description names the media types of their file parts
(``encoding``: audio/wav, ..., image/png, ...); these strategies make real files of those
types, short sound and small pictures, so generated requests reach the endpoints' work
instead of all failing to decode. They also register :func:`errors_are_one_line_json`,
the server's own rule for error answers.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import schemathesis
from hypothesis import strategies as st

RATES = (8000, 16000, 22050)


@st.composite
def audio_files(draw: Any, fmt: str = "WAV") -> bytes:
    """A tone-and-noise clip as ``fmt`` bytes: 2 to 3 s (the simplest example, 2 s mono at
    8 kHz, suits every upload endpoint of the fuzzed server), now and then 0.1 to 2 s, mono
    or stereo."""
    import soundfile as sf

    rate = draw(st.sampled_from(RATES))
    seconds = draw(st.one_of(st.floats(2.0, 3.0), st.floats(0.1, 2.0)))
    channels = draw(st.sampled_from((1, 2)))
    freq = draw(st.floats(60.0, 3000.0))
    seed = draw(st.integers(0, 2**16))
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * np.random.default_rng(seed).standard_normal(t.size)
    wave = np.stack([tone] * channels, axis=1).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, format=fmt)
    return buffer.getvalue()


@st.composite
def spectrogram_pictures(draw: Any) -> bytes:
    """A picture of dark lines on white as PNG: 50 to 300 columns (now and then 10 to 50,
    under half a second), 2 to 600 rows; some carry the v1 format's EXIF parameters as
    sonogen writes them (and are 512 rows high)."""
    from PIL import Image

    from sonogen.spectrogram.params import DEFAULT_MAX_VALUE, SpectrogramParams

    width = draw(st.one_of(st.integers(50, 300), st.integers(10, 49)))
    tagged = draw(st.booleans())
    height = 512 if tagged else draw(st.integers(64, 600) | st.integers(2, 63))
    image = Image.new("RGB", (width, height), "white")
    for _ in range(draw(st.integers(0, 4))):
        row = draw(st.integers(0, height - 1))
        shade = draw(st.integers(0, 200))
        for x in range(width):
            image.putpixel((x, row), (shade, shade, shade))
    exif = image.getexif()
    if tagged:
        for tag, value in SpectrogramParams().to_exif_dict(DEFAULT_MAX_VALUE).items():
            exif[tag] = value
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif)
    return buffer.getvalue()


schemathesis.openapi.media_type("audio/wav", audio_files("WAV"), aliases=("audio/x-wav",))
schemathesis.openapi.media_type("audio/flac", audio_files("FLAC"))
schemathesis.openapi.media_type("image/png", spectrogram_pictures())


@schemathesis.check
def errors_are_one_line_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error answer is JSON whose ``detail`` is one line (499: the client left)."""
    status = response.status_code
    if status < 400 or status == 499:
        return None
    kind = response.headers.get("content-type") or [""]
    kind = kind[0] if isinstance(kind, list) else kind
    if not kind.startswith("application/json"):
        raise AssertionError(f"{status} answered as {kind!r}, not JSON: {response.text[:200]}")
    detail = response.json().get("detail")
    if not (isinstance(detail, str) and detail and "\n" not in detail):
        raise AssertionError(f"{status} without a one-line detail: {response.text[:200]}")
    return None
