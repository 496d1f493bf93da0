"""The bounds on every request's work, checked before the work starts.

Every endpoint's worst case is bounded by the server's settings (:class:`ServerConfig`)
and the schema constants of :mod:`sonogen.server.schemas`: the longest audio, the most
clips, the largest upload and the most steps. A request beyond a bound is answered at
once, before any model or decoding work: ``413`` for a body over its byte limit
(:class:`sonogen.server.limits.BodySizeLimit`), ``422`` for everything else
(:class:`OverLimit`, or the request models' own ranges).

:func:`describe` lists the bounds for ``GET /v1/settings`` and :func:`apply_to_openapi`
writes the server's own values into its OpenAPI description, so the schema says exactly
what validation accepts (the request models hold the widest values a server may allow).
"""

from __future__ import annotations

import io
import math
from typing import Any

from sonogen.pipeline.longform import OVERLAP, WINDOW, clip_plan
from sonogen.server import schemas

#: Most audio channels an upload may have.
MAX_UPLOAD_CHANNELS = 8
#: Media types an audio upload may be sent as (the ``encoding`` of the multipart bodies).
AUDIO_TYPES = "audio/wav, audio/x-wav, audio/flac, audio/ogg, audio/mpeg"
#: Media types a spectrogram picture may be sent as.
IMAGE_TYPES = "image/png, image/jpeg, image/webp"
#: Most clips one ``/v1/sample-clips`` call returns.
MAX_SAMPLE_CLIPS = 16
#: Tallest picture ``/v1/image-to-audio`` accepts (taller ones are surely not spectrograms).
MAX_IMAGE_HEIGHT = 4096


class OverLimit(Exception):
    """A request beyond one of the server's bounds; answered 422 with this one-line message."""


def upload_length(data: bytes, max_s: float, what: str = "audio") -> None:
    """Refuse an audio upload longer than ``max_s`` seconds (or with too many channels) from
    its header alone, before it is decoded: a few kilobytes of FLAC can hold hours of silence.

    Files whose header cannot be read pass: decoding them names the problem.

    Raises:
        OverLimit: too long, or too many channels.
    """
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
        seconds = float(info.frames) / float(info.samplerate)
        channels = int(info.channels)
    except Exception:  # not audio, or a header libsndfile cannot read: left to the decoder
        return
    if not math.isfinite(seconds) or seconds > max_s:
        raise OverLimit(f"{what}: the upload is {seconds:.1f} s long; at most {max_s:g} s")
    if channels > MAX_UPLOAD_CHANNELS:
        raise OverLimit(f"{what}: the upload has {channels} channels; at most {MAX_UPLOAD_CHANNELS}")


def long_windows(seconds: float, params: Any) -> int:
    """Model clips a ``/v1/long`` piece of ``seconds`` draws: a first window, then one every
    ``WINDOW - OVERLAP`` columns."""
    columns = params.width_for_seconds(seconds)
    return 1 + max(0, math.ceil((columns - WINDOW) / (WINDOW - OVERLAP)))


def song_clips(seconds: float, clip_s: float, overlap_s: float, params: Any, step: int) -> list[tuple[int, int]]:
    """The ``(x, width)`` clips ``/v1/transform-song`` cuts from ``seconds`` of audio (the
    pipeline's own plan, on the picture width the upload makes)."""
    columns = int(seconds * params.sample_rate) // params.hop_length + 1
    clip = max(step, int(round(params.width_for_seconds(clip_s) / step)) * step)
    overlap = int(round(params.width_for_seconds(overlap_s)))
    return clip_plan(columns, clip, min(overlap, clip - step), step)


def check_clips(count: int, config: Any, what: str) -> None:
    """Refuse a request that would draw more than ``config.max_request_clips`` model clips."""
    if count > config.max_request_clips:
        raise OverLimit(f"{what} needs {count} model clips; at most {config.max_request_clips} per request")


def describe(config: Any, pipe: Any) -> dict[str, Any]:
    """Every bound of this server, for ``GET /v1/settings`` (``pipe``: the served pipeline,
    or what the ingress knows of it)."""
    from sonogen.server.jobs import pipeline_params

    params = pipeline_params(pipe)
    return {
        "max_steps": steps_cap(config),
        "max_guidance": schemas.MAX_GUIDANCE,
        "max_prompt_chars": schemas.MAX_PROMPT_CHARS,
        "min_clip_s": schemas.MIN_CLIP_S,
        "max_clip_s": max_clip_s(config),
        "max_long_s": max_long_s(config),
        "max_prompts": schemas.MAX_PROMPTS,
        "min_song_clip_s": schemas.MIN_SONG_CLIP_S,
        "max_song_clip_s": schemas.MAX_SONG_CLIP_S,
        "max_upload_s": config.max_long_s,
        "max_upload_channels": MAX_UPLOAD_CHANNELS,
        "max_sample_clips": MAX_SAMPLE_CLIPS,
        "max_image_width": params.width_for_seconds(config.max_long_s),
        "max_image_height": MAX_IMAGE_HEIGHT,
        "max_request_clips": config.max_request_clips,
        "max_body_bytes": config.max_body_bytes,
        "max_upload_bytes": config.max_upload_bytes,
        "queue_size": config.queue_size,
        "max_wait_s": config.max_wait_s or 0,
        "max_batch": config.max_batch,
    }


def steps_cap(config: Any) -> int:
    """The most denoising steps any clip is drawn with here."""
    return min(schemas.MAX_STEPS, config.max_steps) if config.max_steps is not None else schemas.MAX_STEPS


def max_clip_s(config: Any) -> float:
    """Longest clip ``/v1/generate``, ``/v1/transform`` and ``/v1/sample-clips`` make, seconds."""
    return float(min(schemas.MAX_CLIP_S, config.max_clip_s))


def max_long_s(config: Any) -> float:
    """Longest piece ``/v1/long`` makes, seconds."""
    return float(min(schemas.MAX_LONG_S, config.max_long_s))


# --------------------------------------------------------------------------- the OpenAPI description
def apply_to_openapi(openapi: dict[str, Any], config: Any) -> dict[str, Any]:
    """Write the server's bounds into its OpenAPI description (in place; returned).

    The clip and piece lengths get the server's maxima; the multipart uploads name the
    media types their file parts may have, and their optional fields lose the ``null``
    choice (a form field is a string or absent).
    """
    clip, piece = max_clip_s(config), max_long_s(config)
    for path, field, value in (
        ("/v1/generate", "duration_s", clip),
        ("/v1/transform", "duration_s", clip),
        ("/v1/transform", "offset_s", float(config.max_long_s)),
        ("/v1/sample-clips", "seconds", clip),
        ("/v1/long", "duration_s", piece),
    ):
        for prop in _body_properties(openapi, path, field):
            _set_number(prop, "maximum", value)
    for path, field, types in (
        ("/v1/transform", "audio", AUDIO_TYPES),
        ("/v1/transform-song", "audio", AUDIO_TYPES),
        ("/v1/sample-clips", "audio", AUDIO_TYPES),
        ("/v1/image-to-audio", "image", IMAGE_TYPES),
    ):
        content = _operation(openapi, path).get("requestBody", {}).get("content", {})
        if "multipart/form-data" in content:
            media = content["multipart/form-data"]
            media.setdefault("encoding", {})[field] = {"contentType": types}
            media["schema"] = _flat_form(openapi, media.get("schema", {}))
    return openapi


def _flat_form(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A multipart body's schema as one object: the fields of its ``allOf`` parts merged in,
    as a form sends them (a flat list of named parts); optional fields lose ``null``."""
    flat: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in _body_schemas(openapi, path=None, schema=schema):
        for name, prop in part.get("properties", {}).items():
            prop = dict(prop)
            _drop_null(prop)
            flat["properties"][name] = prop
        flat["required"] += [name for name in part.get("required", []) if name not in flat["required"]]
        for key in ("title", "description"):
            if key in part and key not in flat:
                flat[key] = part[key]
    return flat


def _drop_null(prop: dict[str, Any]) -> None:
    """A form field is a string or absent, never JSON null: ``anyOf [X, null]`` becomes ``X``."""
    branches = prop.get("anyOf")
    if not isinstance(branches, list):
        return
    kept = [b for b in branches if b.get("type") != "null"]
    if len(kept) == len(branches):
        return
    del prop["anyOf"]
    if len(kept) == 1:
        prop.update(kept[0])
    else:
        prop["anyOf"] = kept
    if prop.get("default", 0) is None:
        del prop["default"]


def _operation(openapi: dict[str, Any], path: str) -> dict[str, Any]:
    return dict(openapi.get("paths", {}).get(path, {})).get("post", {})


def _resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return dict(openapi.get("components", {}).get("schemas", {})).get(ref.rsplit("/", 1)[1], {})
    return schema


def _body_schemas(
    openapi: dict[str, Any], path: str | None, schema: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The object schemas of the request body of ``POST path`` (or of ``schema``), through
    ``$ref`` and ``allOf``."""
    found: list[dict[str, Any]] = []
    if schema is not None:
        pending = [schema]
    else:
        content = _operation(openapi, str(path)).get("requestBody", {}).get("content", {})
        pending = [media.get("schema", {}) for media in content.values()]
    while pending:
        schema = _resolve(openapi, pending.pop())
        if any(schema is other for other in found):
            continue
        found.append(schema)
        pending.extend(part for part in schema.get("allOf", []) if isinstance(part, dict))
    return found


def _body_properties(openapi: dict[str, Any], path: str, field: str) -> list[dict[str, Any]]:
    """The schemas of ``field`` in the request body of ``POST path``."""
    props = (schema.get("properties", {}).get(field) for schema in _body_schemas(openapi, path))
    return [prop for prop in props if isinstance(prop, dict)]


def _set_number(prop: dict[str, Any], key: str, value: float) -> None:
    """Set ``key`` on the numeric branches of ``prop`` (which may be ``anyOf`` number/null)."""
    branches = prop.get("anyOf", [prop])
    for branch in branches:
        if branch.get("type") in ("number", "integer"):
            branch[key] = value
