"""The Studio's upload endpoints: image to audio, sample clips, audio-to-audio on a whole song.

``router`` is included by :func:`sonogen.server.app.create_app` (after the /v1 routes of
:mod:`sonogen.server.routes`); like them, it depends on :mod:`sonogen.server.deps` only.
Uploads arrive as multipart forms and are bounded by the app's upload limit
(:data:`sonogen.server.deps.UPLOAD_PATHS`); every bad input answers 4xx JSON
``{"detail": "one line"}`` through the app's handlers.
Image-to-audio and sample clips need no model (they run in the thread pool even while
the model loads); the song transform runs on the model worker like the other jobs. Their
bounds (:mod:`sonogen.server.bounds`) are checked before any work: an upload's length from
its header, a picture's size and the clips a request would cost.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from sonogen.audio.io import load_audio
from sonogen.audio.ops import cut_clip
from sonogen.errors import SonogenError
from sonogen.pipeline.longform import transform_long
from sonogen.server import bounds
from sonogen.server.bounds import MAX_IMAGE_HEIGHT, OverLimit
from sonogen.server.deps import (
    AudioUpload,
    ConfigDep,
    EngineDep,
    clip_response,
    read_upload,
    run_job,
)
from sonogen.server.encode import EncodedClip, encode_clip
from sonogen.server.engine import Job
from sonogen.server.jobs import (
    LongPiece,
    encode_first,
    pipeline_params,
    resolve_guidance,
    resolve_steps,
    width_step,
)
from sonogen.server.schemas import (
    CLIP_RESPONSES,
    MAX_CLIP_S,
    MAX_SEED,
    MIN_CLIP_S,
    SAMPLE_DEFAULT_S,
    ClipOut,
    TransformSongIn,
)
from sonogen.spectrogram.converter import get_converter
from sonogen.spectrogram.params import DEFAULT_MAX_VALUE, ExifTag, SpectrogramParams

#: Most clips one /v1/sample-clips call returns.
MAX_CLIPS = bounds.MAX_SAMPLE_CLIPS
#: Longest analysis window or column step a picture's EXIF may ask for, milliseconds.
MAX_EXIF_MS = 1000
#: ``starts`` of /v1/sample-clips: non-negative decimal seconds separated by commas (or semicolons).
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
STARTS_PATTERN = rf"^ *(?:{_NUMBER}(?: *[,;] *{_NUMBER})*)? *$"

router = APIRouter(tags=["studio"])

AudioFormatForm = Annotated[str, Form(pattern="^(mp3|wav|ogg|flac)$", description="audio encoding")]
ResponseForm = Annotated[str, Form(pattern="^(audio|json)$", description="'audio': the file; 'json': data URIs")]


class ImageAudioOut(ClipOut):
    """``/v1/image-to-audio`` JSON answer: the clip, and how the picture was read."""

    used_exif: bool = Field(description="True when the picture carried sonogen/Riffusion EXIF parameters")
    width: int
    height: int


class SampleClipOut(BaseModel):
    """One clip cut from an upload."""

    index: int
    start_s: float
    duration_s: float
    audio: str = Field(description="data URI of the clip")
    image: str = Field(description="data URI of its spectrogram (PNG with EXIF)")


class SampleClipsOut(BaseModel):
    """``/v1/sample-clips`` answer."""

    source_duration_s: float
    sample_rate: int
    format: str
    clips: list[SampleClipOut]


# --------------------------------------------------------------------------- image -> audio
@dataclass
class Picture:
    """An uploaded spectrogram picture ready to decode."""

    image: Any
    used_exif: bool


def read_picture(data: bytes, max_width: int, max_s: float | None = None) -> Picture:
    """Decode an uploaded picture for image-to-audio.

    With sonogen/Riffusion EXIF tags its parameters are used as they are; a picture
    without them (drawn, edited, screenshotted) is read in the v1 format: transparent
    areas count as white (silence) and its height is scaled to the format's 512 bands.

    Raises:
        OverLimit: wider than ``max_width`` pixels, taller than the tallest, more than
            ``max_s`` seconds of sound, or EXIF asking for windows or steps over a second.
        SonogenError: not an image, or too small to hold half a second of sound.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as handle:
            width, height = handle.size
            if width > max_width or height > MAX_IMAGE_HEIGHT:
                raise OverLimit(
                    f"image: {width}x{height} pixels is too large (at most {max_width} wide, {MAX_IMAGE_HEIGHT} high)"
                )
            handle.load()
            image = handle.copy()
            exif = handle.getexif()
    except OverLimit:
        raise
    except Exception as exc:  # PIL raises many types for non-images and corrupt files
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SonogenError(f"image: cannot read the uploaded picture ({detail})") from None
    if width < 2 or height < 2:
        raise SonogenError(f"image: {width}x{height} pixels is too small to hold sound")
    used_exif = any(int(tag) in exif for tag in ExifTag)
    params = SpectrogramParams.from_exif(exif, warn=False)[0] if used_exif else SpectrogramParams()
    if used_exif and max(params.step_size_ms, params.window_duration_ms, params.padded_duration_ms) > MAX_EXIF_MS:
        raise OverLimit(f"image: its EXIF asks for steps or windows over {MAX_EXIF_MS} ms")
    seconds = params.seconds_for_width(width)
    if max_s is not None and seconds > max_s:
        raise OverLimit(f"image: {width} columns make {seconds:g} s of sound; at most {max_s:g} s")
    if seconds < MIN_CLIP_S:
        raise SonogenError(
            f"image: {width} columns make {seconds:g} s of sound, too small; at least {MIN_CLIP_S:g} s "
            f"({params.width_for_seconds(MIN_CLIP_S)} columns)"
        )
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    image = image.convert("RGB")
    if used_exif:
        target = image.getexif()
        for tag, value in exif.items():
            target[tag] = value
        return Picture(image, True)
    params = SpectrogramParams()
    if image.height != params.num_frequencies:
        image = image.resize((image.width, params.num_frequencies), Image.Resampling.LANCZOS)
    target = image.getexif()
    for tag, value in params.to_exif_dict(DEFAULT_MAX_VALUE).items():
        target[tag] = value
    return Picture(image, False)


def picture_to_clip(
    data: bytes, max_width: int, audio_format: str, max_s: float | None = None
) -> tuple[EncodedClip, Picture]:
    """Decode, reconstruct the sound and encode it with the picture as read (PNG)."""
    picture = read_picture(data, max_width, max_s)
    wave, rate = get_converter().image_to_audio(picture.image)
    return encode_clip(wave, rate, picture.image, audio_format, "png"), picture


@router.post(
    "/v1/image-to-audio",
    summary="A spectrogram picture (with or without EXIF) to sound",
    responses=CLIP_RESPONSES,
)
async def image_to_audio(
    config: ConfigDep,
    image: Annotated[UploadFile, File(description="PNG/JPEG/WebP spectrogram picture")],
    format: AudioFormatForm = "flac",
    response: ResponseForm = "audio",
) -> Response:
    data = await read_upload(image, "image")
    max_width = SpectrogramParams().width_for_seconds(config.max_long_s)
    clip, picture = await run_in_threadpool(picture_to_clip, data, max_width, format, config.max_long_s)
    body = ImageAudioOut(
        image=clip.image_uri,
        audio=clip.audio_uri,
        duration_s=clip.duration_s,
        sample_rate=clip.sample_rate,
        used_exif=picture.used_exif,
        width=picture.image.width,
        height=picture.image.height,
    )
    return clip_response(clip, response, body=body, name="sonogen-image")


# --------------------------------------------------------------------------- sample clips
def clip_starts(total_s: float, seconds: float, *, count: int | None, hop_s: float | None,
                starts: list[float] | None, seed: int) -> list[float]:
    """Clip start times in seconds: given ``starts``, every ``hop_s``, or ``count`` random ones (sorted)."""
    if seconds > total_s:
        raise SonogenError(f"the upload is {total_s:.2f} s long, shorter than one {seconds:g} s clip")
    last = total_s - seconds
    if starts is not None:
        for s in starts:
            if not 0 <= s <= last + 1e-6:
                raise SonogenError(f"starts: {s:g} s does not leave a {seconds:g} s clip (the upload is {total_s:.2f} s)")
        chosen = [float(s) for s in starts]
    elif hop_s is not None:
        chosen = [float(s) for s in np.arange(0.0, last + 1e-9, hop_s)]
    else:
        rng = np.random.default_rng(seed)
        chosen = sorted(float(s) for s in rng.uniform(0.0, last, size=count or 1))
    if len(chosen) > MAX_CLIPS:
        raise OverLimit(f"that makes {len(chosen)} clips; at most {MAX_CLIPS} per request")
    return chosen


def _parse_starts(text: str | None) -> list[float] | None:
    if text is None or not text.strip():
        return None
    values = [float(part) for part in text.replace(";", ",").split(",") if part.strip()]  # the pattern held
    if len(values) > MAX_CLIPS:
        raise OverLimit(f"starts: {len(values)} start times; at most {MAX_CLIPS} per request")
    return values


def sample_clips(
    data: bytes, seconds: float, count: int | None, hop_s: float | None, starts: list[float] | None,
    seed: int, audio_format: str, max_long_s: float,
) -> SampleClipsOut:
    converter = get_converter()
    bounds.upload_length(data, max_long_s)
    wave, rate = load_audio(data, converter.params.sample_rate)
    total = wave.shape[1] / rate
    if total > max_long_s:
        raise OverLimit(f"audio: the upload is {total:.1f} s long; at most {max_long_s:g} s")
    clips = []
    for i, start in enumerate(clip_starts(total, seconds, count=count, hop_s=hop_s, starts=starts, seed=seed)):
        piece = cut_clip(wave, rate, start, seconds)
        encoded = encode_clip(piece, rate, converter.audio_to_image(piece, rate), audio_format, "png")
        clips.append(
            SampleClipOut(
                index=i,
                start_s=round(start, 3),
                duration_s=encoded.duration_s,
                audio=encoded.audio_uri,
                image=encoded.image_uri,
            )
        )
    return SampleClipsOut(source_duration_s=round(total, 3), sample_rate=rate, format=audio_format, clips=clips)


@router.post("/v1/sample-clips", response_model=SampleClipsOut, summary="Cut clips out of a long upload, with spectrograms")
async def sample_clips_route(
    config: ConfigDep,
    audio: AudioUpload,
    seconds: Annotated[
        float | None,
        Form(ge=MIN_CLIP_S, le=MAX_CLIP_S, description=f"clip length, s (default: {SAMPLE_DEFAULT_S:g} s, at most the longest clip)"),
    ] = None,
    count: Annotated[int | None, Form(ge=1, le=MAX_CLIPS, description="this many clips at random starts")] = None,
    hop_s: Annotated[float | None, Form(gt=0.0, description="a clip every hop_s seconds (at most 16 clips)")] = None,
    starts: Annotated[
        str | None,
        Form(max_length=1000, pattern=STARTS_PATTERN, description="start times in seconds, comma-separated (at most 16)"),
    ] = None,
    seed: Annotated[int, Form(ge=0, le=MAX_SEED, description="seed of the random starts")] = 0,
    format: AudioFormatForm = "flac",
) -> SampleClipsOut:
    if seconds is None:
        seconds = min(SAMPLE_DEFAULT_S, bounds.max_clip_s(config))
    elif seconds > bounds.max_clip_s(config):
        raise OverLimit(f"seconds: at most {bounds.max_clip_s(config):g} seconds on this server")
    chosen = _parse_starts(starts)
    if sum(x is not None for x in (count, hop_s, chosen)) > 1:
        raise HTTPException(422, "give one of count, hop_s or starts")
    data = await read_upload(audio, "audio")
    return await run_in_threadpool(
        sample_clips, data, seconds, count if count is not None else (None if (hop_s or chosen) else 4),
        hop_s, chosen, seed, format, config.max_long_s,
    )


# --------------------------------------------------------------------------- whole-song transform
def song_fn(wave: np.ndarray, rate: int, options: dict[str, Any]) -> Any:
    """The worker callable for ``/v1/transform-song``.

    A song whose last clip would be narrower than the shortest clip (a few columns left
    over after the last full one, too little to rebuild sound from) is padded with silence
    up to it; the answer is cut back to the song's length.
    """

    def run(pipe: Any) -> LongPiece:
        padded = _pad_last_clip(pipe, wave, rate, options["clip_s"], options["overlap_s"])
        out, out_rate = transform_long(pipe, padded, rate, progress=False, **options)
        keep = int(round(wave.shape[1] * out_rate / rate))
        return LongPiece.of(pipe, np.ascontiguousarray(out[:, :keep]), out_rate)

    return run


def _pad_last_clip(pipe: Any, wave: np.ndarray, rate: int, clip_s: float, overlap_s: float) -> np.ndarray:
    params, step = pipeline_params(pipe), width_step(pipe)
    plan = bounds.song_clips(wave.shape[1] / rate, clip_s, overlap_s, params, step)
    shortest = params.width_for_seconds(MIN_CLIP_S)
    if not plan or plan[-1][1] >= shortest:
        return wave
    extra_s = params.seconds_for_width(shortest - plan[-1][1] + 2 * step)
    return np.concatenate([wave, np.zeros((wave.shape[0], int(np.ceil(extra_s * rate))), wave.dtype)], axis=1)


def _decode_song(data: bytes, max_s: float) -> tuple[np.ndarray, int]:
    bounds.upload_length(data, max_s)
    wave, rate = load_audio(data)
    total = wave.shape[1] / rate
    if total > max_s:
        raise OverLimit(f"audio: the upload is {total:.1f} s long; at most {max_s:g} s")
    return wave, rate


@router.post(
    "/v1/transform-song",
    summary="Audio to audio on a whole song: overlapping clips, each transformed, crossfaded back",
    responses=CLIP_RESPONSES,
)
async def transform_song(
    request: Request,
    engine: EngineDep,
    config: ConfigDep,
    audio: AudioUpload,
    form: Annotated[TransformSongIn, Form()],
) -> Response:
    if form.overlap_s >= form.clip_s / 2:
        raise HTTPException(422, f"overlap_s: must be shorter than half a clip ({form.clip_s / 2:g} s)")
    if form.crossfade_s is not None and form.crossfade_s > form.overlap_s:
        raise HTTPException(422, "crossfade_s: cannot be longer than overlap_s")
    data = await read_upload(audio, "audio")
    wave, rate = await run_in_threadpool(_decode_song, data, config.max_long_s)
    pipe = engine.pipeline
    clips = bounds.song_clips(wave.shape[1] / rate, form.clip_s, form.overlap_s, pipeline_params(pipe), width_step(pipe))
    bounds.check_clips(len(clips), config, f"a {wave.shape[1] / rate:.1f} s song in {form.clip_s:g} s clips")
    steps, guidance = resolve_steps(pipe, form.num_inference_steps, config.max_steps), resolve_guidance(pipe, form.guidance)
    options = {
        "prompt": form.prompt,
        "to_prompt": form.to_prompt or None,
        "to_seed": form.to_seed,
        "negative_prompt": form.negative_prompt or None,
        "seed": form.seed,
        "num_inference_steps": steps,
        "guidance_scale": guidance,
        "strength": form.strength,
        "clip_s": form.clip_s,
        "overlap_s": form.overlap_s,
        "crossfade_s": form.crossfade_s,
    }
    output = await run_job(engine, Job(fn=song_fn(wave, rate, options)), request)
    clip = await run_in_threadpool(encode_first, output, form.format, form.image_format)
    title = f"{form.prompt} → {form.to_prompt}" if form.to_prompt else form.prompt
    return clip_response(
        clip, form.response, seed=form.seed, prompt=title, name="sonogen-song", steps=steps, guidance=guidance
    )
