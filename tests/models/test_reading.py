"""Reading a prompt with unknown words as the nearest training caption (:mod:`sonogen.models.reading`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sonogen.errors import SonogenError
from sonogen.models.reading import (
    Reading,
    build_reading,
    nearest_of_style,
    read_reading,
    reading_key,
    style_phrases,
    style_vote,
    write_reading,
)
from sonogen.models.text import EncoderSource
from sonogen.models.tiny_text import tiny_sentence_components
from sonogen.models.vocabulary import (
    build_vocabulary,
    read_embeddings,
    read_prompt,
    read_prompts,
    write_embeddings,
)
from sonogen.spectrogram.params import SpectrogramParams
from tests.conftest import word_direction_encoder

#: The toy encoder's words: each a direction; a text is the normalised sum of its words'.
_WORDS = ("jazz", "trumpet", "swing", "rock", "guitar", "loud", "polka", "accordion", "beer", "tent", "stadium",
          "smoky", "club", "mountain")


ROWS = [{"text": "jazz swing with trumpet", "style": "jazz swing"},
        {"text": "jazz swing", "style": "jazz swing"},
        {"text": "loud rock guitar", "style": "rock"},
        {"text": "rock", "style": "rock"},
        {"text": "polka accordion", "style": "polka"},
        {"text": "polka accordion", "style": "polka"},  # a caption twice is kept once
        {"text": "no style here"},
        {"text": "", "style": "rock"}]
PHRASES = {"polka": ["beer tent", "mountain beer"], "rock": ["stadium"], "jazz swing": ["smoky club"],
           "disco": ["mirror ball"]}  # no disco caption: its phrase cannot be drawn, so it is dropped


def _toy(reading: Reading | None = None) -> Any:
    encoder = word_direction_encoder(_WORDS)
    encoder.set_vocabulary(build_vocabulary([str(r["text"]) for r in ROWS]))
    encoder.set_reading(reading if reading is not None else build_reading(ROWS, PHRASES, neighbours=2))
    return encoder


def test_build_keeps_captions_with_styles_once_and_phrases_of_drawable_styles() -> None:
    reading = build_reading(ROWS, PHRASES, fits=lambda text: text != "rock", neighbours=3)
    assert reading.captions == ("jazz swing with trumpet", "jazz swing", "loud rock guitar", "polka accordion")
    assert reading.caption_styles == ("jazz swing", "jazz swing", "rock", "polka")
    assert "mirror ball" not in reading.phrases and len(reading.phrases) == 4
    assert reading.phrase_styles[reading.phrases.index("stadium")] == "rock" and reading.neighbours == 3


def test_files_round_trip_and_bad_files_are_one_line(tmp_path: Path) -> None:
    reading = build_reading(ROWS, PHRASES)
    write_reading(reading, tmp_path / "reading.json")
    assert read_reading(tmp_path / "reading.json") == reading
    assert read_reading(tmp_path / "missing.json") is None
    for bad in ('{"captions": [{"text": "x"}]}', '{"captions": []}', "[1, 2]", "{not json"):
        (tmp_path / "bad.json").write_text(bad)
        with pytest.raises(SonogenError) as caught:
            read_reading(tmp_path / "bad.json")
        assert len(str(caught.value).splitlines()) == 1 and "bad.json" in str(caught.value)
    rows = {"captions": torch.eye(4), "phrases": torch.eye(4)[:2]}
    write_embeddings(rows, tmp_path / "r.safetensors", reading_key("abc", reading))
    read = read_embeddings(tmp_path / "r.safetensors", reading_key("abc", reading), ("captions", "phrases"))
    assert read is not None and torch.equal(read["phrases"], torch.eye(4)[:2])
    other = build_reading(ROWS[:3])
    assert read_embeddings(tmp_path / "r.safetensors", reading_key("abc", other), ("captions", "phrases")) is None


def test_vote_sums_cosines_of_the_nearest_rows() -> None:
    bank = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0]]), dim=-1)
    query = torch.tensor([1.0, 0.0])
    # the single nearest row is "a"; two "b" rows right behind it outvote it
    assert style_vote(query, bank, ["a", "b", "b", "c"], 1) == "a"
    assert style_vote(query, bank, ["a", "b", "b", "c"], 3) == "b"
    assert style_vote(torch.tensor([0.0, 1.0]), bank, ["a", "b", "b", "c"], 1) == "c"
    assert nearest_of_style(query, bank, ["a", "b", "b", "c"], "b") == 1


def test_read_prompt_draws_the_voted_styles_nearest_caption() -> None:
    encoder = _toy()
    # "beer" and "tent" are in no caption; the polka phrases are nearest, so a polka caption is drawn
    assert read_prompt(encoder, "beer tent") == "polka accordion"
    # the vote picks the style, then the caption of that style nearest the prompt: "trumpet" keeps its caption
    assert read_prompt(encoder, "smoky club trumpet") == "jazz swing with trumpet"
    assert read_prompt(encoder, "stadium guitar") == "loud rock guitar"
    assert read_prompt(encoder, "loud rock guitar") is None  # every word known: drawn as written
    assert read_prompt(encoder, "(beer:1.5) tent") is None  # a weighted prompt is the user's own
    assert read_prompt(encoder, "  ") is None
    assert read_prompts(encoder, ["beer tent", "rock"]) == ["polka accordion", "rock"]
    without = word_direction_encoder(_WORDS)
    without.set_vocabulary(build_vocabulary(["rock"]))
    assert read_prompt(without, "beer tent") is None  # no reading: nothing changes


def test_packaged_phrases_cover_every_corpus_style_and_name_no_other() -> None:
    from sonogen.data.styles import STYLE_TABLE

    phrases = style_phrases()
    assert set(phrases) == set(STYLE_TABLE)
    assert all(len(v) >= 20 and len(set(v)) == len(v) for v in phrases.values())
    with pytest.raises(SonogenError):
        style_phrases(Path(__file__))


# ------------------------------------------------------------------ in the pipelines

PARAMS = SpectrogramParams(num_frequencies=64)


def _pipeline(source: EncoderSource) -> Any:
    from sonogen.pipeline.pipeline import SonogenPipeline

    pipe = SonogenPipeline(**tiny_sentence_components(source))
    pipe.spectrogram_params = PARAMS
    rows = [{"text": "calm piano", "style": "solo piano"}, {"text": "fast drums", "style": "drums only"}]
    pipe.text_encoder.set_vocabulary(build_vocabulary([r["text"] for r in rows]))
    pipe.text_encoder.set_reading(build_reading(rows, {"solo piano": ["a hotel lobby at night"]}))
    return pipe


def test_pipeline_reads_prompts_not_negatives_and_saves_the_reading(tiny_source: EncoderSource, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from sonogen.models import vocabulary
    from sonogen.pipeline.loading import load_pipeline

    torch.set_num_threads(1)
    # the tiny random encoder puts every word near every other: count any word outside the
    # captions as unknown, as the real encoder does for words far from them
    strict = vocabulary.unknown_words
    monkeypatch.setattr(vocabulary, "unknown_words", lambda *a, **k: strict(*a, **k, threshold=1.01))
    pipe = _pipeline(tiny_source)
    odd = "zyxwv qrstu"
    caption = read_prompt(pipe.text_encoder, odd)
    assert caption in ("calm piano", "fast drums")
    assert torch.equal(pipe.encode([odd], 1), pipe.encode_texts([caption], 1))
    assert not torch.equal(pipe.encode_negative([odd], 1), pipe.encode_texts([caption], 1))
    pipe.read_prompts = False
    assert torch.equal(pipe.encode([odd], 1), pipe.encode_texts([odd], 1))
    pipe.read_prompts = True
    folder = tmp_path / "model"
    pipe.save_pretrained(str(folder))
    names = sorted(p.name for p in (folder / "text_encoder").iterdir())
    assert names == ["config.json", "reading.json", "reading.safetensors", "vocabulary.json", "vocabulary.safetensors"]
    saved = json.loads((folder / "text_encoder" / "reading.json").read_text())
    assert [c["text"] for c in saved["captions"]] == ["calm piano", "fast drums"]
    loaded = load_pipeline(str(folder), device="cpu")
    assert loaded.text_encoder.reading == pipe.text_encoder.reading
    assert loaded.text_encoder._reading_rows is not None  # the saved embeddings, not made anew
    assert read_prompt(loaded.text_encoder, odd) == caption
    kwargs: dict[str, Any] = {"seed": 3, "num_inference_steps": 1, "width": 64, "height": 64, "progress": False}
    read = loaded(odd, **kwargs).images[0]
    assert np.array_equal(np.asarray(read), np.asarray(loaded(caption, **kwargs).images[0]))


def test_a_prompt_is_read_once_until_the_reading_changes() -> None:
    encoder = _toy()
    calls: list[list[str]] = []
    plain = encoder.embed
    encoder.embed = lambda texts: calls.append(texts) or plain(texts)  # type: ignore[method-assign]
    assert read_prompt(encoder, "beer tent") == "polka accordion"
    made = len(calls)
    assert made > 0 and read_prompt(encoder, "beer tent") == "polka accordion" and len(calls) == made
    encoder.set_reading(build_reading(ROWS[:4], {"rock": ["beer tent"]}, neighbours=1))  # beer tents rock now
    assert read_prompt(encoder, "beer tent") in ("loud rock guitar", "rock") and len(calls) > made
