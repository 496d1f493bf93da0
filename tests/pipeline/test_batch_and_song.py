"""``generate --batch`` and whole-song ``transform`` on the tiny checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from sonogen.cli import main
from sonogen.pipeline.longform import clip_plan, overlap_join


def _run(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


def test_batch_json_writes_every_good_entry_reports_bad_ones_and_resumes(tiny_folder, tmp_path, capsys) -> None:
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({
        "params": {"scheduler": "DDIMScheduler", "num_inference_steps": 1, "guidance": 7.0, "width": 64},
        "entries": [
            {"prompt": "church bells", "seed": 42},
            {"negative_prompt": "drums", "seed": 3},                 # no prompt: bad
            {"prompt": "jazz", "negative_prompt": "drums", "seed": 7, "name": "jazz-take"},
            {"prompt": "techno", "seed": -1},                        # bad seed
            {"prompt": "rock", "seconds": 0.5},
        ],
    }))
    out = tmp_path / "out"
    assert _run("generate", "--batch", str(batch), str(out), "--checkpoint", str(tiny_folder)) == 2
    captured = capsys.readouterr()
    assert "entry 2:" in captured.err and "entry 4:" in captured.err and "seed" in captured.err
    assert "wrote 3 clip(s)" in captured.out and "2 failed (entries 2, 4)" in captured.out
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([
        "0001-church-bells-s42.wav", "0001-church-bells-s42.png",
        "jazz-take.wav", "jazz-take.png",
        "0005-rock-s0.wav", "0005-rock-s0.png",
    ])
    wave, rate = sf.read(out / "jazz-take.wav")
    assert rate == 44100 and abs(len(wave) / rate - 0.63) < 0.02  # 64 columns
    assert abs(sf.info(str(out / "0005-rock-s0.wav")).duration - 0.47) < 0.03  # 0.5 s -> 48 columns
    # resumable: a second run writes nothing new
    before = (out / "jazz-take.wav").stat().st_mtime_ns
    (out / "0001-church-bells-s42.wav").unlink()
    assert _run("generate", "--batch", str(batch), str(out), "--checkpoint", str(tiny_folder)) == 2
    assert "wrote 1 clip(s) to" in (summary := capsys.readouterr().out) and "skipped 2 already done" in summary
    assert (out / "jazz-take.wav").stat().st_mtime_ns == before
    assert (out / "0001-church-bells-s42.wav").is_file()


def test_batch_csv_and_clean_failures(tiny_folder, tmp_path, capsys) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("prompt,seed,negative_prompt\nlo-fi beat,1,\nambient pads,2,vocals\n")
    out = tmp_path / "csv-out"
    assert _run("generate", "--batch", str(rows), str(out), "--checkpoint", str(tiny_folder),
                "--steps", "1", "--seconds", "0.3", "--format", "flac") == 0
    assert "wrote 2 clip(s)" in capsys.readouterr().out
    assert sorted(p.suffix for p in out.iterdir()) == [".flac", ".flac", ".png", ".png"]
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    wrong_column = tmp_path / "cols.csv"
    wrong_column.write_text("text,seed\nx,1\n")
    cases = [
        ("generate", "--batch", str(tmp_path / "missing.json"), str(out)),
        ("generate", "--batch", str(bad_json), str(out)),
        ("generate", "--batch", str(wrong_column), str(out)),
        ("generate", "x", "--batch", str(rows), str(out)),
        ("generate", "x"),
    ]
    for argv in cases:
        assert _run(*argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("sonogen: error:"), err


def test_clip_plan_and_overlap_join() -> None:
    assert clip_plan(1000, 512, 20, 8) == [(0, 512), (492, 504)]
    assert clip_plan(300, 512, 20, 8) == [(0, 296)]
    assert clip_plan(5, 512, 20, 8) == []
    ones = [np.ones((1, 100), np.float32), np.ones((1, 100), np.float32), np.ones((1, 50), np.float32)]
    joined = overlap_join(ones, [0, 80, 170], crossfade=10)
    assert joined.shape == (1, 220)
    # equal-power: the level dips by at most 3 dB inside a fade, and there is no gap
    assert joined.min() > 0.7 and np.allclose(joined[0, :80], 1.0) and np.allclose(joined[0, -40:], 1.0)
    hard = overlap_join(ones[:2], [0, 80], crossfade=0)
    assert hard.shape == (1, 180) and np.allclose(hard, 1.0)


def test_transform_a_whole_file_with_a_prompt_move(tiny_folder, tmp_path, capsys) -> None:
    src = tmp_path / "song.wav"
    t = np.arange(int(2.6 * 44100)) / 44100
    sf.write(src, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 44100)
    out = tmp_path / "song-rock.wav"
    assert _run("transform", str(src), "rock", "-o", str(out), "--checkpoint", str(tiny_folder), "--steps", "2",
                "--clip-seconds", "1", "--overlap", "0.2", "--crossfade", "0.1", "--to-prompt", "jazz",
                "--to-seed", "5", "--image", str(tmp_path / "song.png")) == 0
    wave, rate = sf.read(out)
    assert abs(len(wave) / rate - 2.6) < 0.1 and (tmp_path / "song.png").is_file()
    assert np.abs(wave).max() > 0.01
    capsys.readouterr()
    for bad in (["--overlap", "0.6", "--clip-seconds", "1"], ["--overlap", "0.1", "--crossfade", "0.2"],
                ["--clip-seconds", "20"], ["--overlap", "-1"]):
        assert _run("transform", str(src), "rock", "-o", str(tmp_path / "x.wav"), *bad) == 2, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "error" in err[0], err
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("name", ["../escape", "a/b", ""])
def test_batch_rejects_unsafe_names(tmp_path, name) -> None:
    import argparse

    from sonogen.cli.batch import read_batch

    batch = tmp_path / "b.json"
    batch.write_text(json.dumps([{"prompt": "x", "name": name}, "plain prompt"]))
    plan = read_batch(batch, argparse.Namespace(seed=0, format=None))
    if name:
        assert [i for i, _ in plan.bad] == [1] and len(plan.entries) == 1
    else:
        assert len(plan.entries) == 2 and plan.entries[1].prompt == "plain prompt"
