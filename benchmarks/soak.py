"""Soak test: `sonogen serve` with Jam-page listeners and a real browser playing the Jam page.

Starts the real command (``python -m sonogen.cli serve``, its own process: the packaged
default model unless ``--model tiny`` or ``--model PATH``), waits for its "serving on" line,
then for ``--minutes``:

* ``--clients`` Jam-page clients (threads), each a listener as the page is one: it reads
  the model's steps and guidance from ``GET /v1/settings``, asks ``POST /v1/interpolate`` for
  the next clip (FLAC in JSON, alpha stepping by 0.25 from prompt to prompt, a new prompt
  queued every ``--prompt-every`` clips) with at most 2 requests in flight, keeps 8 s of
  audio ahead of its own playhead and counts a gap when its playhead runs out;
* headless Chromium (``--browser``, the default) playing the Jam page itself, whose own
  counters (clips received, gaps: a clip that could not start where the last one ended)
  are read every sample.

Every request is counted as answered (200), refused (503, the queue is full: the client
waits ``Retry-After`` as the page does) or failed (anything else, or no answer). The server's
resident memory (VmRSS of its whole process tree, so Ray's processes too) is read every
``--sample`` seconds (30); after the warm-up it should be flat: the report gives its growth
over the last ``--flat-window`` seconds (900: the last 15 minutes; the second half of a
shorter run), the median of the window's last third against that of its first third
(single samples swing with each batch), which should stay under 5%. Clip time is the time from a client's request to
its answer (p50, p90); the server's own counters (``GET /metrics``) are read at the end.

``--ray --replicas 2`` serves through Ray Serve instead, and ``--kill-replica-at S`` kills
one model replica's process (SIGKILL, found by its process title) S seconds in (default:
halfway with ``--ray``); the report gives the page's gaps after the kill, which should be
at most one clip: the page keeps playing, or recovers within one clip.

    python benchmarks/soak.py --minutes 20 --json soak.json                  # the default model
    python benchmarks/soak.py --minutes 10 --ray --replicas 2 --json soak-ray.json
    python benchmarks/soak.py --minutes 2 --model tiny                       # a short check of the tool

Loopback only; nothing is downloaded. The browser is Debian's Chromium driven by Playwright
(``scripts/install-browser.sh``); ``--no-browser`` leaves it out.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
#: Prompts the clients move through (one queued every --prompt-every clips).
PROMPTS = ("church bells on sunday", "jazz with piano", "techno beat", "acoustic folk violin jam",
           "(caribbean:1.5) (jazz:0.3)", "lo-fi beat for the holidays")
ALPHA_STEP = 0.25
AHEAD_S = 8.0  # audio a listener keeps ahead of its playhead, as the page does
IN_FLIGHT = 2  # requests a listener has outstanding at most, as the page does
REPLICA_TITLE = "ServeReplica:sonogen:SonogenModel"


# --------------------------------------------------------------------------- the Jam page's plan
def first_plan(prompt: str, seed: int) -> dict[str, Any]:
    """The first clip of a stream (sonogen/web/js/plan.js: ``firstPlan``)."""
    return {"start": {"prompt": prompt, "seed": seed}, "end": {"prompt": prompt, "seed": seed + 1}, "alpha": 0.0}


def advance(plan: dict[str, Any], queue: list[str]) -> dict[str, Any]:
    """The next clip (plan.js ``advance``): alpha steps by 0.25; past 1 the end becomes the start
    and the first queued prompt (or the same one, next seed) the new end."""
    alpha = round(plan["alpha"] + ALPHA_STEP, 3)
    if alpha <= 1:
        return {**plan, "alpha": alpha}
    start = plan["end"]
    prompt = queue.pop(0) if queue else start["prompt"]
    return {"start": start, "end": {"prompt": prompt, "seed": start["seed"] + 1}, "alpha": ALPHA_STEP}


def jam_request(plan: dict[str, Any], sampling: dict[str, Any]) -> dict[str, Any]:
    """The body the Jam page posts to /v1/interpolate for ``plan`` with the model's ``sampling``."""
    def side(end: dict[str, Any]) -> dict[str, Any]:
        return {"prompt": end["prompt"], "seed": end["seed"], "denoising": 0.75, "guidance": sampling["guidance"]}

    return {"alpha": plan["alpha"], "num_inference_steps": sampling["num_inference_steps"], "seed_image_id": "og_beat",
            "mask_image_id": None, "start": side(plan["start"]), "end": side(plan["end"]), "format": "flac",
            "response": "json", "image_format": "jpeg"}


# --------------------------------------------------------------------------- figures
@dataclass
class Tally:
    answered: int = 0
    refused: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    gaps: int = 0  # the clients' own playheads running out
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, key: str) -> None:
        with self.lock:
            self.failed[key] = self.failed.get(key, 0) + 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def rss_growth(samples: list[tuple[float, float]], window_s: float) -> tuple[float, float, float]:
    """``(growth %, from s, to s)`` of resident memory over the last ``window_s`` seconds
    (the second half of a run shorter than two windows).

    A served model's memory swings by a fifth from one sample to the next (each batch's
    activations come and go), so one sample against another says more about the moment
    than about a leak. The growth compares the median of the window's last third with
    the median of its first third.
    """
    end = samples[-1][0]
    window = min(window_s, end / 2)
    inside = [s for s in samples if s[0] >= end - window] or samples[-1:]
    third = max(1, len(inside) // 3)
    first = statistics.median(r for _, r in inside[:third])
    last = statistics.median(r for _, r in inside[-third:])
    return 100.0 * (last - first) / first, inside[0][0], end


def _process_table() -> dict[int, tuple[int, str]]:
    """``{pid: (parent pid, title)}`` of every process (Linux /proc)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        table[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), title)
    return table


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    table = _process_table()
    tree, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in table.items() if ppid == parent]
        tree += children
        frontier += children
    return tree


def rss_mib(pids: list[int]) -> float:
    """Resident memory of ``pids`` together, MiB (processes that ended count 0)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def replica_pids(root: int) -> list[int]:
    """Processes of the server's tree that are Ray Serve model replicas."""
    table = _process_table()
    return [pid for pid in process_tree(root) if REPLICA_TITLE in table.get(pid, (0, ""))[1]]


# --------------------------------------------------------------------------- the listeners
def listener(cid: int, url: str, deadline: float, args: argparse.Namespace, sampling: dict[str, Any],
             tally: Tally) -> None:
    """One Jam-page client until ``deadline`` (monotonic seconds)."""
    import httpx

    plan = first_plan(PROMPTS[cid % len(PROMPTS)], 1000 * cid)
    queue: list[str] = []
    clips = 0
    playhead: float | None = None  # monotonic time when the audio received so far runs out
    inflight = 0
    last_duration = 5.11
    lock = threading.Lock()

    def fetch(body: dict[str, Any]) -> None:
        nonlocal playhead, inflight, last_duration
        with httpx.Client(timeout=args.timeout) as http:
            while True:
                started = time.monotonic()
                try:
                    response = http.post(url + "/v1/interpolate", json=body)
                except httpx.HTTPError as exc:
                    tally.fail(type(exc).__name__)
                    break
                if response.status_code == 503:
                    with tally.lock:
                        tally.refused += 1
                    time.sleep(max(1.0, float(response.headers.get("Retry-After", "1"))))
                    if time.monotonic() > deadline:
                        break
                    continue  # the same clip again, as the page does
                if response.status_code != 200:
                    tally.fail(f"HTTP {response.status_code}")
                    break
                duration = float(response.json()["duration_s"])
                last_duration = duration
                with tally.lock:
                    tally.answered += 1
                    tally.latencies.append(time.monotonic() - started)
                with lock:
                    now = time.monotonic()
                    if playhead is None or playhead < now:
                        if playhead is not None:
                            with tally.lock:
                                tally.gaps += 1
                        playhead = now
                    playhead += duration
                break
        with lock:
            inflight -= 1

    threads: list[threading.Thread] = []
    while time.monotonic() < deadline:
        with lock:
            ahead = (playhead - time.monotonic()) if playhead is not None else 0.0
            # as the page: at most 2 outstanding, and ask only while less than the target is in hand
            wanted = inflight < IN_FLIGHT and ahead + inflight * last_duration < max(AHEAD_S, 2 * last_duration)
            if wanted:
                inflight += 1
        if not wanted:
            time.sleep(0.2)
            continue
        if clips and clips % args.prompt_every == 0:
            queue.append(PROMPTS[(cid + clips // args.prompt_every) % len(PROMPTS)])
        body = jam_request(plan, sampling)
        plan = advance(plan, queue)
        clips += 1
        thread = threading.Thread(target=fetch, args=(body,), daemon=True)
        thread.start()
        threads.append(thread)
        time.sleep(0.05)
    for thread in threads:
        thread.join(args.timeout + 5)


# --------------------------------------------------------------------------- the server and the page
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(args: argparse.Namespace, checkpoint: str | None) -> tuple[subprocess.Popen[str], str]:
    port = args.port or (free_port() if args.ray else 0)  # Ray Serve needs a real port
    cmd = [sys.executable, "-m", "sonogen.cli", "serve", "--port", str(port), "--log-level", "info"]
    if checkpoint:
        cmd += ["--checkpoint", checkpoint]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.scheduler:
        cmd += ["--scheduler", args.scheduler]
    if args.ray:
        cmd += ["--ray", "--replicas", str(args.replicas)]
    else:
        cmd += ["--device", "cpu"]
    log = open(args.log, "w") if args.log else subprocess.DEVNULL  # noqa: SIM115 (kept open while it runs)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO,
                            start_new_session=True)
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"soak: the server exited before serving (code {proc.wait()})")
        print(line.rstrip(), flush=True)
        if "serving on" in line:
            url = line.split("serving on ", 1)[1].split()[0].rstrip("/")
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            return proc, url


def wait_for_settings(url: str, seconds: float = 300.0) -> dict[str, Any]:
    """``GET /v1/settings`` once the model answers (Ray replicas may still be starting)."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            response = httpx.get(url + "/v1/settings", timeout=30)
            if response.status_code == 200:
                return dict(response.json())
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("soak: the server never gave its settings")
        time.sleep(2)


class Page:
    """Headless Chromium playing the Jam page (Playwright's sync API, used from one thread)."""

    def __init__(self, url: str) -> None:
        from playwright.sync_api import sync_playwright

        if not CHROMIUM.exists():
            raise SystemExit("soak: Chromium is missing: bash scripts/install-browser.sh (or --no-browser)")
        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        self.page = self.browser.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(f"{url}/?prompt=lo-fi%20beat%20for%20the%20holidays&seed=7")
        self.page.wait_for_function("window.sonogenJam && window.sonogenJam.ready && window.sonogenJam.model.loaded",
                                    timeout=300_000)
        self.page.click("#play")

    def state(self) -> dict[str, Any]:
        return dict(self.page.evaluate(
            "(() => { const j = window.sonogenJam; return {state: j.state, received: j.received, gaps: j.gaps,"
            " requested: j.requested, now: j.now(), errors: j.errors.slice(),"
            " late: j.scheduled.filter(c => c.late).map(c => c.start)}; })()"
        ))

    def queue(self, prompt: str) -> None:
        self.page.evaluate("(p) => window.sonogenJam.addPrompt(p)", prompt)

    def close(self) -> None:
        try:
            self.page.evaluate("window.sonogenJam.stop()")
        finally:
            self.browser.close()
            self._pw.stop()


# --------------------------------------------------------------------------- the run
def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    with tempfile.TemporaryDirectory(prefix="sonogen-soak-") as tmp:
        checkpoint = None if args.model == "default" else args.model
        if args.model == "tiny":
            from sonogen.pipeline.tiny import save_tiny_checkpoint
            from sonogen.spectrogram.params import SpectrogramParams

            # 64 mel bands: the same code paths as 512 at an eighth of the decoder's work
            folder = save_tiny_checkpoint(Path(tmp) / "tiny", spectrogram_params=SpectrogramParams(num_frequencies=64))
            # its own sampling settings, as the packaged model has: few steps, so it can keep up
            (folder / "sampling.json").write_text(json.dumps({"num_inference_steps": 2, "guidance_scale": 4.0}))
            checkpoint = str(folder)
        proc, url = start_server(args, checkpoint)
        page: Page | None = None
        tree = [proc.pid]
        try:
            sampling = wait_for_settings(url)["sampling"]
            print(f"soak: the model's own settings {sampling}", flush=True)
            tree = process_tree(proc.pid)
            samples = [(0.0, rss_mib(tree))]
            page_samples: list[dict[str, Any]] = []
            tally = Tally()
            start = time.monotonic()
            deadline = start + 60 * args.minutes
            if args.browser:
                page = Page(url)
            workers = [threading.Thread(target=listener, args=(c, url, deadline, args, sampling, tally), daemon=True)
                       for c in range(args.clients)]
            for worker in workers:
                worker.start()
            kill_at = args.kill_replica_at
            if kill_at is None and args.ray:
                kill_at = 30 * args.minutes
            killed: dict[str, Any] = {}
            next_sample = start + args.sample
            queued = 0
            while time.monotonic() < deadline:
                time.sleep(0.5)
                if proc.poll() is not None:
                    raise SystemExit(f"soak: the server died (code {proc.returncode})")
                now = time.monotonic()
                if kill_at is not None and not killed and now - start >= kill_at:
                    killed = kill_one_replica(proc.pid, page)
                if now >= next_sample:
                    tree = process_tree(proc.pid)
                    samples.append((now - start, rss_mib(tree)))
                    next_sample += args.sample
                    if page is not None:
                        state = page.state()
                        state["t"] = now - start
                        page_samples.append(state)
                        if int(state["received"]) // args.prompt_every > queued:  # the page's user queues too
                            queued += 1
                            page.queue(PROMPTS[queued % len(PROMPTS)])
                    print(f"soak: {now - start:6.0f} s  RSS {samples[-1][1]:7.1f} MiB  answered {tally.answered}"
                          f"  refused {tally.refused}  failed {sum(tally.failed.values())}"
                          + (f"  page clips {page_samples[-1]['received']} gaps {page_samples[-1]['gaps']}"
                             if page_samples else ""), flush=True)
            for worker in workers:
                worker.join(args.timeout + 10)
            end_state = page.state() if page is not None else None
            samples.append((time.monotonic() - start, rss_mib(process_tree(proc.pid))))
            metrics = httpx.get(url + "/metrics", timeout=30).text
            health = httpx.get(url + "/health", timeout=30).json()
        finally:
            if page is not None:
                try:
                    page.close()
                except Exception:  # the report matters more than a clean browser exit
                    pass
            stop_server(proc, tree)
    return report(args, tally, samples, page_samples, end_state, killed, metrics, health, sampling)


def kill_one_replica(root: int, page: Page | None) -> dict[str, Any]:
    """SIGKILL one model replica; returns when, which, and the page's clock then."""
    pids = replica_pids(root)
    if not pids:
        print("soak: no model replica process found to kill", flush=True)
        return {"killed": None}
    os.kill(pids[0], signal.SIGKILL)
    state = page.state() if page is not None else {}
    print(f"soak: killed model replica process {pids[0]} (of {len(pids)})", flush=True)
    return {"killed": pids[0], "replicas": len(pids), "page_now": state.get("now"), "wall": time.time()}


def stop_server(proc: subprocess.Popen[str], tree: list[int]) -> None:
    """SIGINT the server (``serve --ray`` then deletes its app and stops Ray); whatever of its
    process tree is left a minute later is killed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
    for pid in tree:
        if pid != proc.pid and pid in _process_table():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _metric(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(name):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def report(args: argparse.Namespace, tally: Tally, samples: list[tuple[float, float]],
           page_samples: list[dict[str, Any]], end_state: dict[str, Any] | None, killed: dict[str, Any],
           metrics: str, health: dict[str, Any], sampling: dict[str, Any]) -> dict[str, Any]:
    growth, since, until = rss_growth(samples, args.flat_window)
    lat = tally.latencies
    figures: dict[str, Any] = {
        "minutes": args.minutes, "model": args.model, "ray_replicas": args.replicas if args.ray else None,
        "clients": args.clients, "browser": bool(args.browser), "sampling": sampling,
        "answered": tally.answered, "refused_503": tally.refused, "failed": tally.failed,
        "clip_p50_s": round(percentile(lat, 50), 2), "clip_p90_s": round(percentile(lat, 90), 2),
        "clip_mean_s": round(statistics.mean(lat), 2) if lat else None,
        "client_gaps": tally.gaps,
        "rss_samples_mib": [(round(t), round(r, 1)) for t, r in samples],
        "rss_growth_pct": round(growth, 2), "rss_window_s": [round(since), round(until)],
        "rss_flat": growth < 5.0,
        "server_requests": _metric(metrics, "sonogen_requests_total"),
        "server_clips_per_second": _metric(metrics, "sonogen_clips_per_second"),
        "server_stats": health.get("stats"),
    }
    if end_state is not None:
        figures["page"] = {"clips": end_state["received"], "requested": end_state["requested"],
                           "gaps": end_state["gaps"], "state": end_state["state"], "errors": end_state["errors"][-5:],
                           "samples": [(round(s["t"]), s["received"], s["gaps"]) for s in page_samples]}
    if killed:
        figures["kill"] = killed
        if end_state is not None and killed.get("page_now") is not None:
            after = [t for t in end_state["late"] if t >= killed["page_now"]]
            figures["kill"]["page_gaps_after"] = len(after)
            figures["kill"]["page_recovered"] = len(after) <= 1 and end_state["state"] == "playing"
    return figures


def print_report(figures: dict[str, Any]) -> None:
    page = figures.get("page", {})
    print()
    print("| minutes | model | clients + page | answered | refused 503 | failed | clip p50 s | clip p90 s "
          "| page clips | page gaps | RSS first → last MiB | RSS growth (window) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rss = figures["rss_samples_mib"]
    print(f"| {figures['minutes']:g} | {figures['model']}{' on Ray x' + str(figures['ray_replicas']) if figures['ray_replicas'] else ''} "
          f"| {figures['clients']} + {'1' if figures['browser'] else '0'} | {figures['answered']} | {figures['refused_503']} "
          f"| {sum(figures['failed'].values())} {figures['failed'] or ''} | {figures['clip_p50_s']} | {figures['clip_p90_s']} "
          f"| {page.get('clips', '-')} | {page.get('gaps', '-')} | {rss[0][1]} → {rss[-1][1]} "
          f"| {figures['rss_growth_pct']:+.1f}% ({figures['rss_window_s'][0]}–{figures['rss_window_s'][1]} s) |")
    print("RSS samples (s, MiB):", rss)
    if page:
        print("page (s, clips, gaps):", page["samples"], "errors:", page["errors"])
    if "kill" in figures:
        print("replica kill:", figures["kill"])
    print("server stats:", json.dumps(figures["server_stats"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="how long the listeners play (20)")
    parser.add_argument("--clients", type=int, default=4, help="Jam-page clients besides the browser (4)")
    parser.add_argument("--model", default="default",
                        help="default (the packaged model), tiny (random weights, 64 bands, 2 steps: fast) or a checkpoint path")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the server (default: torch's)")
    parser.add_argument("--scheduler", default=None,
                        help="the server's --scheduler, e.g. few-step (the model folder's few-step adapter)")
    parser.add_argument("--port", type=int, default=0, help="server port (0: any free one)")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between memory samples (30)")
    parser.add_argument("--flat-window", type=float, default=900.0,
                        help="RSS growth is measured over the last this many seconds (900)")
    parser.add_argument("--prompt-every", type=int, default=8, help="a listener queues a new prompt every N clips (8)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, s (120)")
    parser.add_argument("--no-browser", dest="browser", action="store_false", help="no headless Chromium page")
    parser.add_argument("--ray", action="store_true", help="serve through Ray Serve (serve --ray)")
    parser.add_argument("--replicas", type=int, default=2, help="with --ray: model replicas (2)")
    parser.add_argument("--kill-replica-at", type=float, default=None,
                        help="with --ray: kill one model replica this many seconds in (default: halfway)")
    parser.add_argument("--log", default=None, help="write the server's log (stderr: one line a request) here")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.kill_replica_at is not None and not args.ray:
        parser.error("--kill-replica-at needs --ray")
    figures = run(args)
    print_report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    ok = not figures["failed"] and (figures.get("kill", {}).get("page_recovered", True))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

