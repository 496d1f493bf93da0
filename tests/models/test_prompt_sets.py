"""The frozen prompt sets pass their mechanical check, the check catches what it should, and
the adherence benchmark's instrument classifier and scoring behave on synthetic data."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def _load(name: str, relative: str) -> Any:
    """A script of the repository as a module (benchmarks/ on the path for its own imports)."""
    if str(REPO / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ps() -> Any:
    return _load("prompt_sets", "benchmarks/prompt_sets.py")


def test_frozen_prompt_sets_pass_their_check(ps: Any) -> None:
    sets = ps.load_prompt_sets()
    assert ps.check(sets) == []
    unseen = sets["unseen_words"]
    assert len(unseen) >= 100 and len({i["style"] for i in unseen}) >= 30
    assert sets["instruments"] and sets["two_part"]
    for item in unseen:  # the check's core rule, restated: something in every prompt is new
        assert ps.unseen_words(item["prompt"]), item


def test_check_runs_as_a_script(ps: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert ps.main([]) == 0
    assert "check: passed" in capsys.readouterr().out


def test_unseen_word_rules(ps: Any) -> None:
    known = ps.known_words()
    assert "techno" in known and "saloon" in known  # caption words
    assert ps.is_unseen("hoedown", known)
    assert ps.is_unseen("four-on-the-floor", known)  # "floor" is new
    assert not ps.is_unseen("late-night", known)  # listed whole
    assert not ps.is_unseen("slow-energetic", known)  # every piece is a caption word
    assert ps.unseen_words("a mellow beat to study to") == ["study"]
    assert ps.content_words("the rave in a barn") == ["rave", "barn"]


def test_check_catches_bad_prompts(ps: Any) -> None:
    good = ps.load_prompt_sets()
    bad = json.loads(json.dumps(good))
    bad["unseen_words"][0] = {"prompt": "dark techno with synth bass", "style": "techno"}
    bad["unseen_words"][1] = {"prompt": "a rave in a deep house club", "style": "house"}
    bad["unseen_words"][2] = {"prompt": "a hoedown", "style": "hoedown"}
    bad["instruments"][0] = {"prompt": "a theremin", "instrument": "Theremin"}
    bad["instruments"][1] = {"prompt": "a sitar melody", "instrument": "Koto"}
    bad["two_part"][0] = {"prompt": "bluegrass with a banjo", "style": "bluegrass", "instrument": "Banjo"}
    bad["two_part"][1] = dict(bad["two_part"][2])
    problems = "\n".join(ps.check(bad))
    assert "'dark techno with synth bass': every content word is a caption word" in problems
    assert "'dark techno with synth bass': names the style(s) ['techno']" in problems
    assert "'a rave in a deep house club': names the style(s) ['house']" in problems
    assert "'hoedown' is no corpus style" in problems
    assert "['Theremin'] not GM programs the corpus renders" in problems
    assert "'a sitar melody': names none of ['Koto']" in problems
    assert "'bluegrass' already plays ['Banjo']" in problems
    assert "appears 2 times" in problems
    assert ps.check({"unseen_words": [], "instruments": [], "two_part": []})  # empty sets fail


def _tone_pixels(freq: float, rng: np.random.Generator, pulse: float | None = None) -> np.ndarray:
    """Converter pixels of a 2 s tone with five harmonics, optionally gated ``pulse`` times a second."""
    from sonogen.spectrogram.converter import get_converter

    rate = 44100
    t = np.arange(2 * rate) / rate
    f = freq * (1 + 0.03 * rng.standard_normal())
    wave = sum(0.3 / k * np.sin(2 * np.pi * k * f * t) for k in range(1, 6))
    if pulse:
        wave = wave * np.exp(-((t * pulse) % 1.0) * 6.0)  # struck notes: sharp attack, decay
    noisy = (wave + 0.01 * rng.standard_normal(t.size))[None].astype(np.float32)
    return np.asarray(get_converter().audio_to_image(noisy, rate).convert("L"))


def test_timbre_features_and_instrument_classifier() -> None:
    judge = _load("judge", "benchmarks/judge.py")
    rng = np.random.default_rng(0)
    kinds = [("low held", 110.0, None), ("low struck", 110.0, 3.0), ("high held", 1500.0, None)]
    labels = [k for k in kinds for _ in range(8)]
    pixels = [_tone_pixels(f, rng, p) for _, f, p in labels]
    t = np.stack([judge.timbre_features(p) for p in pixels])
    last = max(s.stop for s in judge.TIMBRE_BLOCKS.values())
    assert t.shape == (24, last) and np.isfinite(t).all()
    attack = t[:, judge.TIMBRE_BLOCKS["attack"]].mean(axis=1)
    assert attack[8:16].mean() > attack[:8].mean()  # struck notes rise at once and fade
    x = np.stack([judge.instrument_features(p) for p in pixels])
    names = ["low", "struck", "high"]
    rows = [{"instruments": [n for n in names if n in k[0].replace("held", "")]} for k in labels]
    y = judge.instrument_labels(rows, names)
    assert y.shape == (24, 3) and y.sum(axis=0).tolist() == [16, 8, 8]
    clf = judge.InstrumentClassifier(names).calibrate(x[::2], y[::2], false_alarm=0.1, folds=3)
    assert clf.threshold is not None and clf.threshold.shape == (3,)
    found = clf.detect(x[1::2])
    assert found.shape == (12, 3)
    assert (found == y[1::2]).mean() >= 0.9


def test_scoring_with_stub_classifiers_and_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    pa = _load("prompt_adherence", "benchmarks/prompt_adherence.py")
    assert pa.split_mask(7).tolist() == [False, False, True, False, False, True, False]
    det = np.array([[True, False], [False, False]])
    assert pa.found(det, ["A", "B"], ["B", "A"]).tolist() == [True, False]
    assert pa.found(det, ["A", "B"], ["C"]).tolist() == [False, False]
    assert pa.accepted({"instrument": "Violin", "accept": ["Fiddle"]}) == ["Violin", "Fiddle"]

    class Pipe:  # a "model" whose clip is a tone; the prompt's first letter picks the pitch
        spectrogram_params = SimpleNamespace(sample_rate=44100)

        def __call__(self, prompts: list[str], seed: list[int], progress: bool) -> Any:
            assert len(prompts) == len(seed) and not progress
            t = np.arange(44100) / 44100
            waves = [np.sin(2 * np.pi * (200.0 if p.startswith("l") else 3000.0) * t)[None] * 0.5 for p in prompts]
            return SimpleNamespace(waveforms=waves)

    pixels = pa.generate_pixels(Pipe(), ["low a", "high b", "low c"], [1, 2, 3], batch=2)
    assert len(pixels) == 3 and pixels[0].dtype == np.uint8

    def low_band_loud(x: np.ndarray) -> np.ndarray:  # the first style feature: level of the lowest bands
        return x[:, :1] > x[:, 5:6]

    style = SimpleNamespace(predict=lambda x: ["lowstyle" if v else "highstyle" for v in low_band_loud(x)[:, 0]])
    ranked = {"lowstyle": ["lowstyle", "highstyle"], "highstyle": ["highstyle", "otherstyle"]}
    monkeypatch.setattr(pa, "top_styles", lambda clf, x, k: [ranked[s][:k] for s in clf.predict(x)])
    inst = SimpleNamespace(instruments=["Tuba", "Flute"],
                           detect=lambda x: np.concatenate([low_band_loud(x), ~low_band_loud(x)], axis=1))
    sets = {
        "unseen_words": [{"prompt": "low x", "style": "lowstyle"}, {"prompt": "high y", "style": "lowstyle"}],
        "instruments": [{"prompt": "low tuba", "instrument": "Tuba"}, {"prompt": "high flute", "instrument": "Flute"}],
        "two_part": [{"prompt": "low with flute", "style": "lowstyle", "instrument": "Flute"}],
    }
    clips = {k: pa.generate_pixels(Pipe(), [i["prompt"] for i in v for _ in range(2)], [0, 1] * len(v), 4)
             for k, v in sets.items()}
    figures = pa.score_sets(sets, clips, 2, {"style": style, "instrument": inst})
    assert figures["unseen_words"]["top1"] == 0.5 and figures["unseen_words"]["clips"] == 4
    assert figures["instruments"]["found"] == 1.0 and figures["instruments"]["found_when_not_asked"] == 0.0
    assert figures["two_part"] == {"clips": 2, "both": 0.0, "style": 1.0, "instrument": 0.0}
    sets["two_part"] = [{"prompt": "high with tuba", "style": "lowstyle", "instrument": "Tuba"}]
    clips["two_part"] = pa.generate_pixels(Pipe(), ["high with tuba"] * 2, [0, 1], 2)
    assert pa.score_sets(sets, clips, 2, {"style": style, "instrument": inst})["two_part"]["style"] == 0.0
    assert pa.TWO_PART_TOP == 2


def test_reliability_and_top_styles() -> None:
    pa = _load("prompt_adherence", "benchmarks/prompt_adherence.py")
    judge = _load("judge", "benchmarks/judge.py")
    names = ["Violin", "Fiddle", "Tuba"]
    labels = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]] * 3, dtype=bool)
    detected = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1]] * 3, dtype=bool)
    alone = pa.reliability(detected, labels, names, ["Fiddle"], min_positives=3)
    assert alone["positives"] == 3 and alone["recall"] == 0.0 and not alone["reliable"]
    pair = pa.reliability(detected, labels, names, ["Fiddle", "Violin"], min_positives=3)
    assert pair["positives"] == 6 and pair["recall"] == 1.0 and pair["false_alarm"] == 0.5 and not pair["reliable"]
    assert pa.reliability(detected, labels, names, ["Tuba"], 3)["reliable"]
    assert not pa.reliability(detected, labels, names, ["Tuba"], 7)["reliable"]  # too few clips to tell
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(m, 0.1, (10, 2)) for m in (0.0, 1.0, 2.0)])
    clf = judge.StyleClassifier(["a", "b", "c"]).fit(x, ["a"] * 10 + ["b"] * 10 + ["c"] * 10)
    top = judge.top_styles(clf, np.array([[0.0, 0.0], [1.9, 2.1]]), 2)
    assert [t[0] for t in top] == clf.predict(np.array([[0.0, 0.0], [1.9, 2.1]])) == ["a", "c"]
    assert top[0][1] == "b" and top[1][1] == "b"


def test_reading_without_the_prompts_own_words_drops_only_the_phrases_that_hold_them() -> None:
    from sonogen.models.reading import build_reading
    from sonogen.models.vocabulary import build_vocabulary, read_prompt
    from tests.conftest import word_direction_encoder

    words = ("oktoberfest", "loud", "stadium", "polka", "accordion", "rock", "guitar")
    rows = [{"text": "polka accordion", "style": "polka"}, {"text": "loud rock guitar", "style": "rock"}]
    encoder = word_direction_encoder(words)
    encoder.set_vocabulary(build_vocabulary([r["text"] for r in rows]))
    encoder.set_reading(build_reading(rows, {"polka": ["oktoberfest"], "rock": ["loud stadium"]}, neighbours=2))
    pa = _load("prompt_adherence", "benchmarks/prompt_adherence.py")
    # "oktoberfest" is in no corpus caption: its own phrase carries the prompt to polka ...
    assert read_prompt(encoder, "oktoberfest loud") == "polka accordion"
    # ... and without it the rest of the reading carries it to rock
    assert pa.read_without_own_words(encoder, "oktoberfest loud") == "loud rock guitar"
    # a prompt the model draws as written stays so
    assert pa.read_without_own_words(encoder, "loud rock guitar") is None
