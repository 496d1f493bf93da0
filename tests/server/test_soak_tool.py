"""The soak benchmark's own logic (benchmarks/soak.py), without a server: its Jam-page plan is
the page's (every queued prompt gets the four-clip blend), its requests are the page's, its
memory figures read the process tree, and RSS growth is measured over the last window."""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks import soak


def test_the_listeners_walk_the_pages_plan() -> None:
    plan = soak.first_plan("bells", 7)
    queue: list[str] = []
    alphas, ends = [plan["alpha"]], [plan["end"]["prompt"]]
    for i in range(1, 13):
        if i == 2:
            queue.append("techno")
        plan = soak.advance(plan, queue)
        alphas.append(plan["alpha"])
        ends.append(plan["end"]["prompt"])
    assert alphas == [0, 0.25, 0.5, 0.75, 1.0, 0.25, 0.5, 0.75, 1.0, 0.25, 0.5, 0.75, 1.0]
    assert ends[5:9] == ["techno"] * 4 and ends[9:] == ["techno"] * 4  # the whole blend, then it stays
    body = soak.jam_request(plan, {"num_inference_steps": 20, "guidance": 4.0})
    assert body["num_inference_steps"] == 20 and body["start"]["guidance"] == body["end"]["guidance"] == 4.0
    assert (body["format"], body["response"], body["seed_image_id"]) == ("flac", "json", "og_beat")


def test_rss_growth_is_measured_over_the_last_window() -> None:
    samples = [(float(t), 500.0 + (100.0 if t >= 300 else t / 3)) for t in range(0, 1801, 30)]
    growth, since, until = soak.rss_growth(samples, 900.0)
    assert (since, until) == (900.0, 1800.0) and growth == 0.0  # flat after the warm-up
    short = [(0.0, 400.0), (30.0, 600.0), (60.0, 600.0), (90.0, 630.0), (120.0, 630.0)]
    growth, since, _ = soak.rss_growth(short, 900.0)
    assert since == 60.0 and round(growth, 1) == 5.0  # the second half of a short run
    # batches make memory swing; the thirds' medians see through that, and still see a leak
    swinging = [(float(t), 1000.0 + (300.0 if (t // 30) % 2 else 0.0)) for t in range(0, 1801, 30)]
    assert abs(soak.rss_growth(swinging, 900.0)[0]) < 5.0
    leaking = [(t, r + t / 10) for t, r in swinging]
    assert soak.rss_growth(leaking, 900.0)[0] > 5.0


def test_memory_of_a_process_tree() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tree = soak.process_tree(os.getpid())
        assert os.getpid() in tree and child.pid in tree
        assert soak.rss_mib([os.getpid()]) > 10 and soak.rss_mib(tree) > soak.rss_mib([os.getpid()])
        assert soak.replica_pids(os.getpid()) == []
    finally:
        child.kill()
        child.wait()
