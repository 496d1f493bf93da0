"""Pydantic models for every request and answer of the HTTP API.

Numbers are validated here (ranges, whole-number floats accepted where floats are
meant), and seed/mask ids are checked against the built-in ids: they are never used as
file paths.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from sonogen.pipeline.seeds import MASK_IMAGE_IDS, SEED_IMAGE_IDS

MAX_SEED = 2**32 - 1
MAX_PROMPT_CHARS = 1000
MAX_STEPS = 100
MAX_GUIDANCE = 30.0
#: Shortest clip any endpoint makes or cuts, seconds: phase reconstruction needs a few
#: analysis windows of audio, and half a second leaves a wide margin for every format.
MIN_CLIP_S = 0.5
#: Longest clip /v1/generate and /v1/transform accept in their schema, seconds; the server's
#: ``max_clip_s`` may lower it (the OpenAPI description shows the server's own bound).
MAX_CLIP_S = 60.0
#: Longest piece /v1/long accepts in its schema, seconds (the server's ``max_long_s`` may lower it).
MAX_LONG_S = 300.0
#: Longest clip the song transform cuts (one image; SD 1.x draws up to 1024 columns well).
MAX_SONG_CLIP_S = 10.24
#: Length of a /v1/generate clip that names none, seconds (512 columns of the v1 format).
CLIP_DEFAULT_S = 5.12
#: Length of a /v1/long piece that names none, seconds (at most the server's longest).
LONG_DEFAULT_S = 20.0
#: Length of a /v1/sample-clips clip that names none, seconds (at most the server's longest clip).
SAMPLE_DEFAULT_S = 5.12
#: Shortest clip the song transform cuts, seconds.
MIN_SONG_CLIP_S = 1.0
#: Most prompts one /v1/long piece moves through.
MAX_PROMPTS = 16
#: A prompt that the /v1 endpoints accept: 1 to MAX_PROMPT_CHARS characters, not all of them
#: white space (checked with Python's ``re``, as the OpenAPI pattern is read).
NON_BLANK = r"\S"
#: The uploads' prompt: empty (no text), or not all white space.
EMPTY_OR_NON_BLANK = r"^$|\S"

AudioFormat = Literal["mp3", "wav", "ogg", "flac"]
ImageFormat = Literal["jpeg", "png"]
ResponseKind = Literal["audio", "json"]

MEDIA_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
#: The 200 answers of the /v1 clip endpoints (``responses=`` of their routes): JSON with
#: data URIs, or the audio file in any of the audio formats.
CLIP_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, **{MEDIA_TYPES[f]: {} for f in ("mp3", "wav", "ogg", "flac")}}}
}


def seed_image_ids() -> tuple[str, ...]:
    """The built-in seed image ids (from the pipeline package)."""
    return tuple(SEED_IMAGE_IDS)


def mask_image_ids() -> tuple[str, ...]:
    """The built-in mask image ids (from the pipeline package)."""
    return tuple(MASK_IMAGE_IDS)


def check_seed_image_id(value: str | None) -> str | None:
    """``value`` if it is a built-in seed image id (or None), else ValueError."""
    if value is not None and value not in seed_image_ids():
        raise ValueError(f"unknown seed_image_id {value!r}; use one of {', '.join(seed_image_ids())}")
    return value


def check_mask_image_id(value: str | None) -> str | None:
    """``value`` if it is a built-in mask id (or None), else ValueError."""
    if value is not None and value not in mask_image_ids():
        raise ValueError(f"unknown mask_image_id {value!r}; use one of {', '.join(mask_image_ids())}")
    return value


class PromptIn(BaseModel):
    """One end of an interpolation: the ``start``/``end`` objects of ``/run_inference/``."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(max_length=MAX_PROMPT_CHARS)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    negative_prompt: str | None = Field(None, max_length=MAX_PROMPT_CHARS)
    denoising: float = Field(0.75, ge=0.0, le=1.0, description="img2img strength, 0..1")
    guidance: float = Field(7.0, ge=0.0, le=MAX_GUIDANCE, description="classifier-free guidance scale")


class BuiltinIds(BaseModel):
    """Checks ``seed_image_id``/``mask_image_id`` against the built-in ids (never paths)."""

    @field_validator("seed_image_id", check_fields=False)
    @classmethod
    def _seed_ok(cls, value: str | None) -> str | None:
        return check_seed_image_id(value)

    @field_validator("mask_image_id", check_fields=False)
    @classmethod
    def _mask_ok(cls, value: str | None) -> str | None:
        return check_mask_image_id(value)


#: The original app's request, as its documentation gives it (the example of /run_inference/).
ORIGINAL_EXAMPLE: dict[str, Any] = {
    "alpha": 0.25,
    "num_inference_steps": 50,
    "seed_image_id": "og_beat",
    "mask_image_id": None,
    "start": {"prompt": "church bells on sunday", "seed": 42, "negative_prompt": None, "denoising": 0.75,
              "guidance": 7.0},
    "end": {"prompt": "jazz with piano", "seed": 123, "denoising": 0.75, "guidance": 7.0},
}


class InferenceIn(BuiltinIds):
    """The body of ``POST /run_inference/`` (the original Riffusion app's request)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [ORIGINAL_EXAMPLE]})

    alpha: float = Field(ge=0.0, le=1.0, description="0 = fully start, 1 = fully end")
    num_inference_steps: int | None = Field(
        None, ge=1, le=MAX_STEPS, description="denoising steps; default: the model's recommended number (50 when it names none)"
    )
    seed_image_id: str = "og_beat"
    mask_image_id: str | None = None
    start: PromptIn
    end: PromptIn


class OutputOptions(BaseModel):
    """How /v1 endpoints answer: raw audio bytes, or JSON with data URIs."""

    format: AudioFormat = Field("mp3", description="audio encoding")
    response: ResponseKind = Field("audio", description="'audio': the file's bytes; 'json': data URIs")
    image_format: ImageFormat = Field("png", description="spectrogram picture encoding in JSON answers")


class InterpolateIn(InferenceIn, OutputOptions):
    """``POST /v1/interpolate``: ``/run_inference/`` semantics with a choice of output."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**ORIGINAL_EXAMPLE, "num_inference_steps": None, "format": "flac",
                                         "response": "json"}]}
    )


class SamplingOptions(BaseModel):
    """The sampling fields of the /v1 generation requests (steps and guidance: the model's when omitted)."""

    seed: int = Field(0, ge=0, le=MAX_SEED)
    negative_prompt: str | None = Field(None, max_length=MAX_PROMPT_CHARS)
    num_inference_steps: int | None = Field(
        None, ge=1, le=MAX_STEPS, description="denoising steps; default: the model's recommended number (50 when it names none)"
    )
    guidance: float | None = Field(
        None, ge=0.0, le=MAX_GUIDANCE, description="guidance scale; default: the model's recommended one (7.0 when it names none)"
    )


#: One prompt of the /v1 endpoints (see :data:`NON_BLANK`).
Prompt = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PROMPT_CHARS, pattern=NON_BLANK)]


class GenerateIn(OutputOptions, SamplingOptions, BuiltinIds):
    """``POST /v1/generate``: text to audio (optionally from a seed image / looped)."""

    model_config = ConfigDict(
        extra="forbid", regex_engine="python-re",
        json_schema_extra={"examples": [{"prompt": "funky bass with drums", "seed": 42, "format": "wav"}]},
    )

    prompt: Prompt = Field(description="what to hear; not only white space")
    duration_s: float | None = Field(
        None, ge=MIN_CLIP_S, le=MAX_CLIP_S,
        description="clip length in seconds, rounded to the model's width step (default: 5.12 s, or the server's longest clip if shorter)",
    )
    seed_image_id: str | None = Field(None, description="start from this built-in image (img2img)")
    mask_image_id: str | None = Field(None, description="repaint the white area of this built-in mask")
    denoising: float = Field(0.75, ge=0.0, le=1.0, description="strength when a seed image is given")
    loop: bool = Field(False, description="make the clip loop seamlessly")


class LongIn(OutputOptions, SamplingOptions):
    """``POST /v1/long``: a long piece from one or more prompts."""

    model_config = ConfigDict(
        extra="forbid", regex_engine="python-re",
        json_schema_extra={"examples": [{"prompts": ["calm ambient pads", "jazz with piano"], "seed": 1}]},
    )

    prompts: list[Prompt] = Field(min_length=1, max_length=MAX_PROMPTS, description="the piece moves through them")
    duration_s: float | None = Field(
        None, ge=MIN_CLIP_S, le=MAX_LONG_S,
        description=f"length of the piece, s (default: {LONG_DEFAULT_S:g} s, or the server's longest if that is shorter)",
    )


class UploadTransformIn(OutputOptions, SamplingOptions):
    """The form fields of the uploads' audio-to-audio endpoints (multipart, beside the ``audio`` file)."""

    model_config = ConfigDict(regex_engine="python-re")

    prompt: Annotated[str, StringConstraints(max_length=MAX_PROMPT_CHARS, pattern=EMPTY_OR_NON_BLANK)] = Field(
        "", description="what to hear, not only white space; empty (or left out): the model re-imagines the upload on its own"
    )
    strength: float = Field(0.6, ge=0.0, le=1.0, description="how far from the upload, 0..1")


class TransformIn(UploadTransformIn):
    """``POST /v1/transform``: one clip of the upload re-imagined with a prompt."""

    offset_s: float = Field(0.0, ge=0.0, le=MAX_LONG_S, description="where the clip starts in the upload, s")
    duration_s: float | None = Field(
        None, ge=MIN_CLIP_S, le=MAX_CLIP_S, description="clip length, s (default: the rest of the upload, up to the longest clip)"
    )


class TransformSongIn(UploadTransformIn):
    """``POST /v1/transform-song``: the whole upload, clip by clip, optionally moving to a second prompt."""

    to_prompt: str | None = Field(None, max_length=MAX_PROMPT_CHARS, description="move to this prompt by the end")
    to_seed: int | None = Field(None, ge=0, le=MAX_SEED)
    clip_s: float = Field(5.12, ge=MIN_SONG_CLIP_S, le=MAX_SONG_CLIP_S, description="clip length, s")
    overlap_s: float = Field(
        0.2, ge=0.0, le=MAX_SONG_CLIP_S / 2, description="clips overlap by this much, s (less than half a clip)"
    )
    crossfade_s: float | None = Field(
        None, ge=0.0, le=MAX_SONG_CLIP_S / 2, description="crossfade in each overlap, s (default: all of it; at most the overlap)"
    )


class InferenceOut(BaseModel):
    """The answer of ``/run_inference/`` (and of /v1 endpoints with ``response=json``)."""

    image: str = Field(description="data URI of the spectrogram picture")
    audio: str = Field(description="data URI of the clip")
    duration_s: float


class ClipOut(InferenceOut):
    """A /v1 JSON answer: the clip plus what produced it."""

    sample_rate: int
    seed: int | None = None
    prompt: str | None = None
    num_inference_steps: int | None = Field(default=None, description="denoising steps the clip was drawn with")
    guidance: float | None = Field(default=None, description="guidance scale the clip was drawn with")
    requested_duration_s: float | None = Field(
        default=None, description="the length asked for; duration_s is it rounded to the model's width step"
    )


class SeedImagesOut(BaseModel):
    seed_image_ids: list[str]
    mask_image_ids: list[str]
    default: str = "og_beat"


class ErrorOut(BaseModel):
    """Every 4xx/5xx answer: ``detail`` is a one-line message."""

    detail: str


class SamplingOut(BaseModel):
    """What the served model draws with when a request names no steps or guidance."""

    num_inference_steps: int = Field(description="the model's recommended denoising steps")
    guidance: float = Field(description="the model's recommended guidance scale")
    max_steps: int = Field(description="the most steps any clip is drawn with here (more are drawn with this many)")


class SettingsOut(BaseModel):
    """``GET /v1/settings``: the model's own settings and every bound of this server."""

    sampling: SamplingOut
    clip_step_s: float = Field(description="clip lengths are rounded to whole multiples of this, s")
    sample_rate: int = Field(description="audio rate of the clips, Hz")
    limits: dict[str, float | int] = Field(description="the bounds of every endpoint (see the README's table)")
