"""The generation commands end to end on the tiny checkpoint."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from sonogen.cli import main


def _run(*argv: str) -> int:
    return main(list(argv))


def test_generate_and_loop(tiny_folder, tmp_path, capsys) -> None:
    out, img = tmp_path / "g.wav", tmp_path / "g.png"
    assert _run("generate", "jazz", "-o", str(out), "--checkpoint", str(tiny_folder), "--steps", "2",
                "--seconds", "1", "--image", str(img), "--seed", "3", "--negative", "rock") == 0
    wave, rate = sf.read(out)
    assert rate == 44100 and 0.9 < len(wave) / rate < 1.1 and img.is_file()
    again = tmp_path / "g2.wav"
    assert _run("generate", "jazz", "-o", str(again), "--checkpoint", str(tiny_folder), "--steps", "2",
                "--seconds", "1", "--seed", "3", "--negative", "rock") == 0
    assert np.array_equal(sf.read(again)[0], wave)  # deterministic
    loop = tmp_path / "l.flac"
    assert _run("generate", "jazz", "-o", str(loop), "--checkpoint", str(tiny_folder), "--steps", "1",
                "--seconds", "0.5", "--loop", "--scheduler", "ddim") == 0
    assert loop.is_file()


def test_transform_interpolate_extend(tiny_folder, tmp_path) -> None:
    src = tmp_path / "in.wav"
    t = np.arange(int(0.8 * 44100)) / 44100
    sf.write(src, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 44100)
    out = tmp_path / "t.wav"
    assert _run("transform", str(src), "rock", "-o", str(out), "--checkpoint", str(tiny_folder),
                "--steps", "2", "--strength", "0.5") == 0
    assert out.is_file()
    inter = tmp_path / "i.ogg"
    assert _run("interpolate", "jazz", "rock", "-o", str(inter), "--checkpoint", str(tiny_folder),
                "--steps", "1", "--clips", "2", "--seed-image", "agile", "--mask", "mask_top_third_75") == 0
    assert inter.is_file()
    ext = tmp_path / "e.wav"
    assert _run("extend", str(src), "funk", "-o", str(ext), "--checkpoint", str(tiny_folder),
                "--steps", "1", "--seconds", "1.5") == 0
    wave, rate = sf.read(ext, dtype="float32")
    original, _ = sf.read(src, dtype="float32")
    assert abs(len(wave) / rate - 1.5) < 0.01
    keep = len(original) - int(0.1 * rate)
    assert np.allclose(wave[:keep], original[:keep], atol=1e-4)  # 16-bit wav round trip


def test_clean_failures(tiny_folder, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cases = [
        ("generate", "x", "-o", str(tmp_path / "a.xyz"), "--checkpoint", str(tiny_folder)),
        ("generate", "x", "-o", str(tmp_path / "a.wav"), "--checkpoint", str(tmp_path / "nope")),
        ("generate", "x", "-o", str(tmp_path / "a.wav"), "--checkpoint", "no-one/no-model"),
        ("transform", str(tmp_path / "missing.wav"), "x", "-o", str(tmp_path / "a.wav")),
        ("interpolate", "a", "b", "-o", str(tmp_path / "a.wav"), "--seed-image", "../x"),
        ("generate", "x", "-o", str(tmp_path / "a.wav"), "--image", str(tmp_path / "a.txt")),
    ]
    for argv in cases:
        assert _run(*argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("sonogen: error:"), err
    assert not (tmp_path / "a.wav").exists()
