"""Soak test: `sonogen serve` under steady loopback load for a bounded time.

Starts the real command (``python -m sonogen.cli serve``, its own process) on a tiny
random checkpoint written to a temporary folder (or ``--checkpoint``), waits for its
"serving on" line, then keeps ``--clients`` clients sending requests for ``--seconds``:
``POST /run_inference/`` (the original app's call) and, every fourth request,
``POST /v1/generate`` with a WAV answer. A 503 (queue full) waits
``min(Retry-After, 0.5 s)`` and counts as refused, not as an error; any other non-200
answer or a transport failure is an error.

The server's resident memory (VmRSS of its process) is read when the load starts, every
``--sample`` seconds and at the end, and reported with the counts: it must not grow
without bound. Loopback only; nothing is downloaded.

    python benchmarks/soak.py --seconds 300 --clients 2 --json soak.json
"""

from __future__ import annotations

import argparse
import json
import os
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


@dataclass
class Counts:
    answered: int = 0
    refused: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, key: str) -> None:
        with self.lock:
            self.errors[key] = self.errors.get(key, 0) + 1


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def request_for(cid: int, n: int, steps: int) -> tuple[str, dict[str, Any]]:
    if n % 4 == 3:
        return "/v1/generate", {"prompt": f"soak {n}", "seed": n, "num_inference_steps": steps,
                                "duration_s": 1.0, "format": "wav"}
    return "/run_inference/", {
        "alpha": (n % 4) * 0.25,
        "num_inference_steps": steps,
        "seed_image_id": "og_beat",
        "start": {"prompt": "church bells on sunday", "seed": cid, "denoising": 0.75, "guidance": 7},
        "end": {"prompt": "jazz with piano", "seed": cid + 1, "denoising": 0.75, "guidance": 7},
    }


def client(cid: int, url: str, deadline: float, steps: int, counts: Counts) -> None:
    import httpx

    with httpx.Client(timeout=300) as http:
        n = 0
        while time.monotonic() < deadline:
            path, body = request_for(cid, n, steps)
            n += 1
            try:
                response = http.post(url + path, json=body)
            except httpx.HTTPError as exc:
                counts.error(type(exc).__name__)
                time.sleep(0.5)
                continue
            if response.status_code == 200:
                with counts.lock:
                    counts.answered += 1
            elif response.status_code == 503:
                with counts.lock:
                    counts.refused += 1
                time.sleep(min(float(response.headers.get("Retry-After", "1")), 0.5))
            else:
                counts.error(f"HTTP {response.status_code}")


def start_server(checkpoint: str, threads: int) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "sonogen.cli", "serve", "--checkpoint", checkpoint, "--port", "0",
           "--threads", str(threads), "--device", "cpu", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"soak: the server exited before serving (code {proc.wait()})")
        print(line.rstrip(), flush=True)
        if "serving on" in line:
            return proc, line.split("serving on ", 1)[1].split()[0].rstrip("/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="how long the load runs (300)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients (2)")
    parser.add_argument("--steps", type=int, default=2, help="denoising steps per request (2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the server (1)")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between memory samples (30)")
    parser.add_argument("--checkpoint", default=None, help="model to serve (default: a tiny random one)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="sonogen-soak-") as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            from sonogen.pipeline.tiny import save_tiny_checkpoint

            checkpoint = str(save_tiny_checkpoint(Path(tmp) / "tiny"))
        proc, url = start_server(checkpoint, args.threads)
        try:
            counts = Counts()
            samples = [(0.0, rss_mib(proc.pid))]
            start = time.monotonic()
            deadline = start + args.seconds
            workers = [threading.Thread(target=client, args=(c, url, deadline, args.steps, counts))
                       for c in range(args.clients)]
            for w in workers:
                w.start()
            while any(w.is_alive() for w in workers):
                time.sleep(min(args.sample, max(0.1, deadline - time.monotonic())) if time.monotonic() < deadline
                           else 0.2)
                if proc.poll() is not None:
                    raise SystemExit(f"soak: the server died (code {proc.returncode})")
                if time.monotonic() - start - samples[-1][0] >= args.sample:
                    samples.append((time.monotonic() - start, rss_mib(proc.pid)))
            samples.append((time.monotonic() - start, rss_mib(proc.pid)))
            import httpx

            health = httpx.get(url + "/health", timeout=10).json()
        finally:
            proc.terminate()
            proc.wait(30)
    figures = {
        "seconds": args.seconds, "clients": args.clients, "steps": args.steps,
        "answered": counts.answered, "refused_503": counts.refused, "errors": counts.errors,
        "rss_start_mib": round(samples[0][1], 1), "rss_end_mib": round(samples[-1][1], 1),
        "rss_max_mib": round(max(r for _, r in samples), 1),
        "rss_samples": [(round(t, 1), round(r, 1)) for t, r in samples],
        "server_stats": health.get("stats"),
        "pid_cpu_count": os.cpu_count(),
    }
    print("| seconds | clients | answered | refused 503 | errors | RSS start MiB | RSS end MiB | RSS max MiB |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.seconds:.0f} | {args.clients} | {counts.answered} | {counts.refused} | "
          f"{sum(counts.errors.values())} {counts.errors or ''} | {figures['rss_start_mib']} | "
          f"{figures['rss_end_mib']} | {figures['rss_max_mib']} |")
    print("RSS samples (s, MiB):", figures["rss_samples"])
    print("server stats:", json.dumps(health.get("stats")))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if counts.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
