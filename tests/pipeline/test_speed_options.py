"""Each speed option gives the plain path's output, within a stated tolerance (CPU).

The plain path: float32 weights, contiguous memory, nothing cached, eager. Against it:

* ``channels_last``, ``cache`` and ``torch.compile`` (backend ``aot_eager``: the same
  graph capture as inductor without the C++ toolchain) change only the order of float
  operations: images within 1 grey level anywhere (``MAX_LEVELS``). Audio: where the
  images are equal, waveforms within ``WAVE_TOL``; where a grey level moved, the audio's
  mel spectrograms within ``MEL_TOL`` relative L2 (on the random tiny model's noise-like
  spectrograms one changed pixel sends Griffin-Lim to another phase solution of the same
  magnitude, so waveforms are compared by their spectrograms there).
* bfloat16 weights (latents and the scheduler stay float32): mean absolute pixel
  difference at most ``BF16_MEAN`` (0..1 scale), the benchmark's accuracy tolerance.
* One batched phase reconstruction equals one call per image, within ``BATCH_REL`` relative
  L2 and ``BATCH_SCALE`` in level: FFTs of another batch size may round differently (they do
  on some CPUs), and Griffin-Lim's phase projections amplify that where a bin's magnitude is
  near zero.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from sonogen.pipeline.tiny import build_tiny_pipeline
from sonogen.spectrogram.params import SpectrogramParams

PARAMS = SpectrogramParams(num_frequencies=64)
MAX_LEVELS = 1
MEL_TOL = 0.1
WAVE_TOL = 2e-3
BATCH_REL = 5e-2
BATCH_SCALE = 1e-2
BF16_MEAN = 0.02
PROMPTS = ["jazz piano", "rock guitar and drums"]
KW: dict[str, Any] = {"seed": [5, 6], "num_inference_steps": 3, "width": 64, "progress": False, "guidance_scale": 7.0}


def _pixels(out: Any) -> np.ndarray:
    return np.stack([np.asarray(img, dtype=np.int16) for img in out.images])


def _run(pipe: Any, init: Image.Image | None = None) -> Any:
    if init is None:
        return pipe(PROMPTS, negative_prompt="vocals", **KW)
    return pipe(PROMPTS, negative_prompt="vocals", init_image=init, strength=0.7, **KW)


@pytest.fixture(scope="module")
def plain() -> Any:
    return build_tiny_pipeline(spectrogram_params=PARAMS)


@pytest.fixture(scope="module")
def init_image(plain: Any) -> Image.Image:
    return plain("church bells", seed=9, num_inference_steps=2, width=64, progress=False).images[0]


@pytest.fixture(scope="module")
def reference(plain: Any, init_image: Image.Image) -> tuple[Any, Any]:
    return _run(plain), _run(plain, init_image)


def _copy(plain: Any, dtype: torch.dtype = torch.float32) -> Any:
    pipe = copy.deepcopy(plain)
    pipe.unet.to(dtype)
    pipe.vae.to(dtype)
    pipe.text_encoder.to(dtype)
    return pipe


def _assert_close(got: Any, want: Any) -> None:
    diff = np.abs(_pixels(got) - _pixels(want))
    assert diff.max() <= MAX_LEVELS, f"images differ by up to {diff.max()} grey levels"
    from sonogen.spectrogram.converter import get_converter

    conv = get_converter(PARAMS)
    for a, b, same in zip(got.waveforms, want.waveforms, (diff == 0).all(axis=(1, 2, 3)), strict=True):
        assert a.shape == b.shape
        if same:
            assert np.abs(a - b).max() <= WAVE_TOL
            continue
        ma, mb = conv.spectrogram_from_waveform(torch.from_numpy(a)), conv.spectrogram_from_waveform(torch.from_numpy(b))
        rel = float((ma - mb).norm() / mb.norm().clamp_min(1e-12))
        assert rel <= MEL_TOL, f"audio mel spectrograms differ by {rel:.4f} relative L2"


def test_channels_last_matches_plain(plain, init_image, reference) -> None:
    pipe = _copy(plain).enable_speedups(channels_last=True)
    assert pipe.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    _assert_close(_run(pipe), reference[0])
    _assert_close(_run(pipe, init_image), reference[1])


def test_cache_matches_plain_and_skips_repeated_work(plain, init_image, reference) -> None:
    pipe = _copy(plain).enable_speedups(cache=True)
    calls = {"text": 0, "vae_encode": 0}
    pipe.text_encoder.register_forward_pre_hook(lambda *_: calls.__setitem__("text", calls["text"] + 1))
    encode = pipe.vae.encode

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls["vae_encode"] += 1
        return encode(*args, **kwargs)

    pipe.vae.encode = counted
    _assert_close(_run(pipe), reference[0])
    first = calls["text"]
    _assert_close(_run(pipe, init_image), reference[1])
    _assert_close(_run(pipe), reference[0])
    _assert_close(_run(pipe, init_image), reference[1])
    # after the first run the negative prompt is never encoded again, the seed image once
    assert calls["vae_encode"] == 1
    assert 0 < calls["text"] - first == 3 * (first - 1)  # each later run encodes only the prompts
    before = calls["text"]
    pipe.encode_negative(["vocals", "vocals"], 1)
    assert calls["text"] == before
    # the cache follows the content: a different init image is encoded again
    other = init_image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    _run(pipe, other)
    assert calls["vae_encode"] == 2


def test_bfloat16_weights_match_plain_within_tolerance(plain, init_image, reference) -> None:
    pipe = _copy(plain, torch.bfloat16)
    for got, want in ((_run(pipe), reference[0]), (_run(pipe, init_image), reference[1])):
        diff = np.abs(_pixels(got) - _pixels(want)) / 255.0
        assert diff.mean() <= BF16_MEAN, f"bf16 mean pixel difference {diff.mean():.4f} > {BF16_MEAN}"
        assert all(np.isfinite(w).all() and np.abs(w).max() > 0 for w in got.waveforms)


@pytest.mark.slow
def test_torch_compile_matches_plain(plain, reference) -> None:
    pipe = _copy(plain).enable_speedups(compile=True, compile_backend="aot_eager")
    assert pipe.compiled == "aot_eager"
    _assert_close(_run(pipe), reference[0])


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-12))


def test_batched_phase_reconstruction_equals_one_call_per_image(plain, reference) -> None:
    images = reference[0].images
    for loop in (False, True):
        batched = plain._to_audio_batch(images, loop=loop)
        singles = [plain._to_audio(image, loop=loop) for image in images]
        for wave, single in zip(batched, singles, strict=True):
            assert wave.shape == single.shape and _relative(wave, single) <= BATCH_REL
            # and the same loudness: the rounding moves phases, not levels
            assert abs(float(np.linalg.norm(wave) / np.linalg.norm(single)) - 1) <= BATCH_SCALE
        assert _relative(batched[0], singles[1]) > 0.5  # each wave is its own image's


def test_batched_phase_runs_once_per_generate(plain, monkeypatch) -> None:
    from sonogen.spectrogram.converter import SpectrogramConverter

    calls: list[tuple[int, ...]] = []
    original = SpectrogramConverter.waveform_from_spectrogram

    def counted(self: Any, mel: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        calls.append(tuple(mel.shape))
        return original(self, mel, *args, **kwargs)

    monkeypatch.setattr(SpectrogramConverter, "waveform_from_spectrogram", counted)
    plain(["a", "b", "c"], seed=[1, 2, 3], num_inference_steps=1, width=64, progress=False)
    assert len(calls) == 1 and calls[0][0] == 3


def test_load_pipeline_applies_the_options(tiny_folder) -> None:
    from sonogen.pipeline import load_pipeline

    pipe = load_pipeline(str(tiny_folder), device="cpu", dtype=torch.bfloat16, channels_last=True)
    assert pipe.unet.dtype == torch.bfloat16 and pipe.channels_last and pipe.cache
    plain = load_pipeline(str(tiny_folder), device="cpu", cache=False, channels_last=False)
    assert plain.unet.dtype == torch.float32 and not plain.channels_last and not plain.cache
    assert not plain.vae.decoder.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    default = load_pipeline(str(tiny_folder), device="cpu")  # on the CPU channels-last unless told not to
    assert default.channels_last and default.vae.decoder.conv_in.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "jazz", "-o", "{out}/a.wav"],
        ["generate", "--batch", "{out}/b.json", "{out}/batch"],
        ["transform", "{out}/in.wav", "jazz", "-o", "{out}/a.wav"],
        ["interpolate", "jazz", "rock", "-o", "{out}/a.wav", "--clips", "1"],
        ["extend", "{out}/in.wav", "jazz", "-o", "{out}/a.wav", "--seconds", "2"],
        ["serve", "--port", "0"],
    ],
    ids=["generate", "generate-batch", "transform", "interpolate", "extend", "serve"],
)
def test_every_model_command_passes_dtype_and_compile(argv, tmp_path, monkeypatch) -> None:
    """--dtype and --compile reach load_pipeline from every command that loads a model."""
    import json

    import soundfile as sf

    import sonogen.pipeline
    import sonogen.pipeline.loading
    from sonogen.cli import main
    from sonogen.errors import SonogenError

    sf.write(tmp_path / "in.wav", np.zeros(44100, dtype=np.float32), 44100)
    (tmp_path / "b.json").write_text(json.dumps({"entries": [{"prompt": "jazz", "seed": 1}]}))
    seen: dict[str, Any] = {}

    def fake_load(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise SonogenError("stopped before loading")

    # the package attribute first: its lazy __getattr__ would otherwise hand monkeypatch the
    # fake as the value to restore, and the fake would outlive this test
    monkeypatch.setattr(sonogen.pipeline, "load_pipeline", sonogen.pipeline.loading.load_pipeline)
    monkeypatch.setattr(sonogen.pipeline, "load_pipeline", fake_load)
    monkeypatch.setattr(sonogen.pipeline.loading, "load_pipeline", fake_load)
    full = [a.format(out=tmp_path) for a in argv] + ["--device", "cpu", "--dtype", "bfloat16", "--compile"]
    assert main(full) == 2
    assert seen["dtype"] == torch.bfloat16 and seen["compile"] is True


def test_the_real_load_pipeline_is_back_after_the_cli_cases() -> None:
    import sonogen.pipeline
    import sonogen.pipeline.loading

    assert sonogen.pipeline.loading.load_pipeline.__module__ == "sonogen.pipeline.loading"
    assert sonogen.pipeline.load_pipeline is sonogen.pipeline.loading.load_pipeline
