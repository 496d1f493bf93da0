"""Generation commands: generate, transform, interpolate, extend.

All load a checkpoint (``--checkpoint``: Hub id, diffusers folder or ``.safetensors``
file; default the embedded model packaged with sonogen), write audio in the format of the output's
extension and, with ``--image``, the spectrogram image beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sonogen.argtypes import (
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    unit_float,
)
from sonogen.cli.batch import run_batch
from sonogen.cli.common import add_speed_options, check_image_path, save_image_atomic
from sonogen.errors import SonogenError
from sonogen.utils import SCHEDULERS, torch_dtype

# `sonogen` imports this module while parsing its arguments, so the audio, spectrogram and
# pipeline modules (numpy, torch, diffusers) are imported inside the handlers, for a quick
# start (tests/cli/test_cold_start.py checks what parsing imports).

#: Longest clip drawn as one image; longer pieces are made by continuation.
MAX_SINGLE_SECONDS = 10.24


def add_model_options(p: argparse.ArgumentParser, *, output_required: bool = True) -> None:
    """Options shared by every generation command."""
    p.add_argument("-o", "--output", required=output_required, help="output audio (.wav/.flac/.ogg/.mp3)")
    p.add_argument(
        "--checkpoint",
        default=None,
        help="Hub id, diffusers folder or .safetensors file (default: the model packaged with sonogen; "
        "a Hub id is downloaded only when named and not cached)",
    )
    p.add_argument("--device", default=None, help="torch device (default: cuda, mps or cpu)")
    add_speed_options(p)
    p.add_argument("--scheduler", choices=SCHEDULERS, default=None)
    p.add_argument("--lora", default=None, help="LoRA adapter folder or file to apply")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="denoising steps (default: the model's sampling.json, else 50)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance (default: the model's sampling.json, else 7.0)")
    p.add_argument("--negative", default=None, metavar="TEXT", help="negative prompt")
    p.add_argument("--literal", action="store_true",
                   help="draw the prompt's words as written; by default a model that carries a prompt reading "
                        "(the packaged one does) draws a prompt with words it has not learnt as its training "
                        "caption nearest the prompt's meaning")
    p.add_argument("--image", default=None, metavar="PATH", help="also write the spectrogram image here")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("generate", help="text -> audio clip (or a long piece / seamless loop)")
    p.add_argument("prompt", nargs="?", help="the text (or give --batch FILE OUTDIR instead)")
    add_model_options(p, output_required=False)
    p.add_argument("--batch", nargs=2, metavar=("FILE", "OUTDIR"), default=None,
                   help="make every entry of a .json/.csv batch file into OUTDIR (resumable)")
    p.add_argument("--format", choices=("wav", "flac", "ogg", "mp3"), default=None,
                   help="audio format of --batch outputs (default: the file's, else wav)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seconds", type=positive_float, default=5.12, help="length (5.12 s = one 512 px image)")
    p.add_argument("--loop", action="store_true", help="make the end flow seamlessly into the start")
    p.set_defaults(func=cmd_generate)

    p = subparsers.add_parser("transform", help="audio + prompt -> new audio (audio-to-audio)")
    p.add_argument("audio")
    p.add_argument("prompt")
    add_model_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strength", type=unit_float, default=0.6, help="how much to change, 0..1 (0.6)")
    p.add_argument("--to-prompt", default=None, metavar="TEXT",
                   help="move from PROMPT (start of the file) to this prompt (its end)")
    p.add_argument("--to-seed", type=non_negative_int, default=None, help="seed at the end (default: --seed)")
    p.add_argument("--clip-seconds", type=positive_float, default=5.12,
                   help="long input is cut into clips this long (5.12)")
    p.add_argument("--overlap", type=non_negative_float, default=0.2, metavar="SECONDS",
                   help="clips overlap by this much (0.2)")
    p.add_argument("--crossfade", type=non_negative_float, default=None, metavar="SECONDS",
                   help="crossfade inside each overlap (default: the whole overlap)")
    p.set_defaults(func=cmd_transform)

    p = subparsers.add_parser("interpolate", help="a sequence of clips moving from prompt A to prompt B")
    p.add_argument("prompt_a")
    p.add_argument("prompt_b")
    add_model_options(p)
    p.add_argument("--clips", type=positive_int, default=5, help="clips from alpha 0 to 1 (5)")
    p.add_argument("--seed-a", type=int, default=0)
    p.add_argument("--seed-b", type=int, default=1)
    p.add_argument("--denoising", type=unit_float, default=0.75, help="strength on the seed image (0.75)")
    p.add_argument("--seed-image", default="og_beat", help="built-in seed image id (og_beat)")
    p.add_argument("--mask", default=None, help="built-in mask id")
    p.set_defaults(func=cmd_interpolate)

    p = subparsers.add_parser("extend", help="continue an audio file to a longer piece")
    p.add_argument("audio")
    p.add_argument("prompt")
    add_model_options(p)
    p.add_argument("--seconds", type=positive_float, required=True, help="total length of the result")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_extend)


# ---------------------------------------------------------------------- helpers
def _check_outputs(args: argparse.Namespace) -> None:
    """Fail on bad output paths before any model is loaded."""
    from sonogen.audio.io import format_for

    format_for(args.output)
    if args.image:
        check_image_path(args.image)
    for path in (args.output, args.image):
        if path and not Path(path).expanduser().resolve().parent.is_dir():
            raise SonogenError(f"output folder does not exist: {Path(path).parent}")
    if args.guidance is not None and args.guidance < 0:
        raise SonogenError(f"--guidance must be >= 0, got {args.guidance}")


def _load(args: argparse.Namespace) -> Any:
    from sonogen.pipeline.loading import load_pipeline

    pipe = load_pipeline(
        args.checkpoint, device=args.device, dtype=torch_dtype(args.dtype), scheduler=args.scheduler, lora=args.lora,
        compile=bool(getattr(args, "compile", False)),
    )
    pipe.read_prompts = not getattr(args, "literal", False)
    return pipe


def _load_input_audio(path: str) -> tuple[Any, int]:
    from sonogen.audio.io import load_audio

    if not Path(path).is_file():
        raise SonogenError(f"audio file not found: {path}")
    return load_audio(path)


def _write(args: argparse.Namespace, wave: Any, rate: int, image: Any = None) -> None:
    from sonogen.audio.io import save_audio

    save_audio(args.output, wave, rate)
    if args.image and image is not None:
        save_image_atomic(image, args.image)
    extra = f" and {args.image}" if args.image and image is not None else ""
    print(f"wrote {args.output} ({wave.shape[1] / rate:.2f} s, {rate} Hz){extra}")


def _side_by_side(images: list[Any]) -> Any:
    """Images joined left to right (EXIF of the first kept)."""
    from PIL import Image

    out = Image.new("RGB", (sum(i.width for i in images), images[0].height))
    x = 0
    for image in images:
        out.paste(image, (x, 0))
        x += image.width
    exif = out.getexif()
    for tag, value in images[0].getexif().items():
        exif[tag] = value
    return out


def _image_of(pipe: Any, wave: Any, rate: int) -> Any:
    from sonogen.spectrogram.converter import get_converter

    return get_converter(pipe.spectrogram_params).audio_to_image(wave, rate)


def _tell_unknown_words(pipe: Any, prompt: str) -> None:
    """Name on stderr, once, the prompt's words the model has not learnt and nothing near them.

    Only models that record their captions' vocabulary (sentence-encoder models trained by
    sonogen) can tell; for any other checkpoint this says nothing. When the pipeline reads
    such a prompt as a training caption, the line says which one it draws.
    """
    import sys

    from sonogen.models.vocabulary import read_prompt, unknown_words_message

    caption = read_prompt(pipe.text_encoder, prompt) if pipe.read_prompts else None
    message = unknown_words_message(pipe.text_encoder, prompt, reads_as=caption)
    if message:
        print(message, file=sys.stderr, flush=True)


def _sampling(args: argparse.Namespace) -> dict[str, Any]:
    """The sampling options every generation command passes to the pipeline."""
    return {
        "negative_prompt": args.negative,
        "seed": args.seed,
        "num_inference_steps": args.steps,
        "guidance_scale": args.guidance,
    }


def _clip_width(params: Any, factor: int, seconds: float) -> int:
    """Image width (pixels, a multiple of ``factor``) nearest to ``seconds`` of audio."""
    return int(max(factor, int(round(params.width_for_seconds(seconds) / factor)) * factor))


def _lite_folder(args: argparse.Namespace) -> Path | None:
    """The checkpoint folder when ``generate`` can run it without diffusers, else None.

    That is one clip of text to audio on the CPU in float32, from a folder whose
    components :mod:`sonogen.lite` runs (the packaged default model is one), with the
    checkpoint's own scheduler and no LoRA, loop or compilation. ``SONOGEN_LITE=0``
    always takes the full pipeline.
    """
    import os

    if os.environ.get("SONOGEN_LITE", "1") == "0":
        return None
    if args.lora or args.scheduler not in (None, "default", "few-step") or getattr(args, "compile", False) or args.loop:
        return None
    if args.dtype not in (None, "float32") or args.device not in (None, "cpu") or args.seconds > MAX_SINGLE_SECONDS:
        return None
    import torch

    if args.device is None and (torch.cuda.is_available() or torch.backends.mps.is_available()):
        return None
    from sonogen.lite.pipeline import lite_unsupported
    from sonogen.models import default_checkpoint_path
    from sonogen.pipeline.model_files import few_step_adapter

    folder = default_checkpoint_path() if args.checkpoint is None else Path(args.checkpoint).expanduser()
    few_step = args.scheduler == "few-step"
    if folder is None or not folder.is_dir() or lite_unsupported(folder, few_step) is not None:
        return None
    if few_step and few_step_adapter(folder) is None:
        return None  # the full pipeline names what is missing
    return folder


def _generate_lite(args: argparse.Namespace, folder: Path) -> int:
    """``generate`` of one clip through :class:`~sonogen.lite.pipeline.LitePipeline`."""
    from tqdm import tqdm

    from sonogen.lite.pipeline import LitePipeline

    pipe = LitePipeline.load(folder, few_step=args.scheduler == "few-step")
    pipe.read_prompts = not args.literal
    _tell_unknown_words(pipe, args.prompt)
    steps = pipe.default_steps if args.steps is None else args.steps
    with tqdm(total=steps, leave=False, desc="denoise") as bar:
        wave, rate, image = pipe.text_to_audio(
            args.prompt,
            negative_prompt=args.negative,
            seed=args.seed,
            num_inference_steps=steps,
            guidance_scale=args.guidance,
            width=_clip_width(pipe.spectrogram_params, pipe.vae_scale_factor, args.seconds),
            progress=bar.update,
        )
    _write(args, wave, rate, image)
    return 0


# ---------------------------------------------------------------------- commands
def cmd_generate(args: argparse.Namespace) -> int:
    if args.batch:
        if args.prompt or args.output or args.image or args.loop:
            raise SonogenError("--batch takes its prompts and outputs from the file: drop PROMPT, -o, --image, --loop")
        if args.guidance is not None and args.guidance < 0:
            raise SonogenError(f"--guidance must be >= 0, got {args.guidance}")
        return run_batch(args, _load, MAX_SINGLE_SECONDS)
    if not args.prompt or not args.output:
        raise SonogenError("generate needs PROMPT and -o OUTPUT (or --batch FILE OUTDIR)")
    if args.format:
        raise SonogenError("--format is for --batch; a single output's format follows its extension")
    _check_outputs(args)
    lite = _lite_folder(args)
    if lite is not None:
        return _generate_lite(args, lite)
    pipe = _load(args)
    _tell_unknown_words(pipe, args.prompt)
    params = pipe.spectrogram_params
    f = pipe.vae_scale_factor
    if args.loop or args.seconds <= MAX_SINGLE_SECONDS:
        width = _clip_width(params, f, args.seconds)
        out = pipe(
            args.prompt,
            **_sampling(args),
            width=width,
            loop=args.loop,
        )
        _write(args, out.waveforms[0], out.sample_rate, out.images[0])
        return 0
    from sonogen.pipeline.longform import generate_long

    wave, rate = generate_long(
        pipe,
        args.prompt,
        args.seconds,
        **_sampling(args),
    )
    _write(args, wave, rate, _image_of(pipe, wave, rate) if args.image else None)
    return 0


def cmd_transform(args: argparse.Namespace) -> int:
    from sonogen.pipeline.longform import transform_long

    _check_outputs(args)
    crossfade = args.overlap if args.crossfade is None else args.crossfade
    if args.clip_seconds > MAX_SINGLE_SECONDS:
        raise SonogenError(f"--clip-seconds must be at most {MAX_SINGLE_SECONDS}, got {args.clip_seconds}")
    if args.overlap >= args.clip_seconds / 2:
        raise SonogenError(f"--overlap ({args.overlap} s) must be shorter than half a clip ({args.clip_seconds} s)")
    if crossfade > args.overlap:
        raise SonogenError(f"--crossfade ({crossfade} s) cannot be longer than --overlap ({args.overlap} s)")
    wave, rate = _load_input_audio(args.audio)
    pipe = _load(args)
    sampling = _sampling(args)
    joined, out_rate = transform_long(
        pipe,
        wave,
        rate,
        args.prompt,
        to_prompt=args.to_prompt,
        to_seed=args.to_seed,
        negative_prompt=sampling["negative_prompt"],
        seed=sampling["seed"],
        num_inference_steps=sampling["num_inference_steps"],
        guidance_scale=sampling["guidance_scale"],
        strength=args.strength,
        clip_s=args.clip_seconds,
        overlap_s=args.overlap,
        crossfade_s=crossfade,
    )
    _write(args, joined, out_rate, _image_of(pipe, joined, out_rate) if args.image else None)
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from sonogen.audio.ops import crossfade_join
    from sonogen.pipeline.seeds import get_mask_image, get_seed_image
    from sonogen.pipeline.types import PromptInput

    _check_outputs(args)
    init = get_seed_image(args.seed_image)  # bad ids fail before loading
    mask = get_mask_image(args.mask, width=init.width) if args.mask else None
    pipe = _load(args)
    if init.height != pipe.spectrogram_params.num_frequencies:
        init = get_seed_image(args.seed_image, params=pipe.spectrogram_params)
        mask = get_mask_image(args.mask, width=init.width, height=init.height) if args.mask else None
    guidance = pipe.default_guidance if args.guidance is None else args.guidance
    start = PromptInput(args.prompt_a, args.seed_a, args.negative, args.denoising, guidance)
    end = PromptInput(args.prompt_b, args.seed_b, args.negative, args.denoising, guidance)
    alphas = [0.0] if args.clips == 1 else [float(a) for a in np.linspace(0.0, 1.0, args.clips)]
    waves, images = [], []
    for alpha in tqdm(alphas, desc="interpolate", unit="clip"):  # one bar: per clip, not per step too
        out = pipe.interpolate(
            start, end, alpha, num_inference_steps=args.steps, init_image=init, mask_image=mask, progress=False
        )
        waves.append(out.waveforms[0])
        images.append(out.images[0])
    rate = pipe.spectrogram_params.sample_rate
    _write(args, crossfade_join(waves, rate) if len(waves) > 1 else waves[0], rate, _side_by_side(images))
    return 0


def cmd_extend(args: argparse.Namespace) -> int:
    from sonogen.pipeline.longform import extend_audio

    _check_outputs(args)
    wave, rate = _load_input_audio(args.audio)
    if args.seconds <= wave.shape[1] / rate:
        raise SonogenError(f"--seconds {args.seconds} is not longer than the audio ({wave.shape[1] / rate:.2f} s)")
    pipe = _load(args)
    out, out_rate = extend_audio(
        pipe,
        wave,
        rate,
        args.prompt,
        args.seconds,
        **_sampling(args),
    )
    _write(args, out, out_rate, _image_of(pipe, out, out_rate) if args.image else None)
    return 0
