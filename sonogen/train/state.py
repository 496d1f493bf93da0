"""Training bookkeeping shared by every stage: the loss log and resumable states.

A stage saves accelerate states (weights, optimiser, EMA, random generators) in
``FOLDER/checkpoints/step-N`` with a ``sonogen_state.json`` naming the step, keeps the
newest few, and resumes from the newest one.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from sonogen.utils import atomic_path

CHECKPOINTS = "checkpoints"
STATE_FILE = "sonogen_state.json"
#: Stages that write loss rows, in the order the plot draws them, with their titles.
PLOTTED = {"autoencoder": "autoencoder (reconstruction)", "decoder": "decoder (reconstruction)",
           "unet": "UNet (denoising)"}

logger = logging.getLogger(__name__)


class LossLog:
    """Appends rows to ``loss.jsonl`` and redraws ``loss.png`` (main process only; the picture
    needs matplotlib, the optional ``plot`` extra)."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.path = folder / "loss.jsonl"
        self.picture = folder / "loss.png"
        self.enabled = enabled
        self.no_plot = False  # set when matplotlib (the "plot" extra) is missing

    def write(self, **row: Any) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def trim(self, stage: str, step: int) -> None:
        """Drop ``stage``'s rows past ``step`` (written after the state a run resumes from)."""
        if not self.enabled:
            return
        rows = [r for r in self.rows() if r.get("stage") != stage or r["step"] <= step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    def plot(self) -> None:
        """Draw each stage's training loss (raw and smoothed) and the fixed-batch eval loss."""
        if not self.enabled or self.no_plot:
            return
        try:
            import matplotlib
        except ImportError:
            self.no_plot = True  # say it once per run
            logger.warning("%s not drawn: matplotlib is not installed (pip install 'sonogen[plot]'); "
                           "the losses are in %s", self.picture.name, self.path)
            return
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.rows()
        stages = [s for s in PLOTTED if any(r.get("stage") == s and "loss" in r for r in rows)]
        if not stages:
            return
        fig, axes = plt.subplots(1, len(stages), figsize=(6 * len(stages), 3.6), squeeze=False)
        for ax, stage in zip(axes[0], stages, strict=True):
            pts = [(r["step"], r["loss"]) for r in rows if r.get("stage") == stage and "loss" in r]
            steps, losses = zip(*pts, strict=True)
            ax.plot(steps, losses, color="#9ab", linewidth=0.8, label="loss")
            k = max(1, len(losses) // 20)
            smooth = [sum(losses[max(0, i - k):i + 1]) / len(losses[max(0, i - k):i + 1]) for i in range(len(losses))]
            ax.plot(steps, smooth, color="#147", linewidth=1.6, label=f"mean of {k + 1}")
            evals = [(r["step"], r["eval_loss"]) for r in rows if r.get("stage") == stage and "eval_loss" in r]
            if evals:
                ax.plot(*zip(*evals, strict=True), "o-", color="#c42", label="fixed-batch loss")
            ax.set_title(PLOTTED[stage])
            ax.set_xlabel("step")
            ax.set_yscale("log")
            ax.legend(fontsize=8)
        fig.tight_layout()
        with atomic_path(self.picture) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
        plt.close(fig)


def latest_state(folder: Path) -> Path | None:
    """The newest complete resumable state in ``FOLDER/checkpoints``, or None."""
    states = sorted(
        (p for p in (folder / CHECKPOINTS).glob("step-*") if (p / STATE_FILE).is_file()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    return states[-1] if states else None


def state_step(state: Path) -> int:
    """The step a resumable state was saved at."""
    return int(json.loads((state / STATE_FILE).read_text(encoding="utf-8"))["step"])


def save_state(accelerator: Any, folder: Path, step: int, keep: int) -> None:
    """A resumable state in ``FOLDER/checkpoints/step-N``; older ones beyond ``keep`` are removed.

    ``sonogen_state.json`` is written last, so a state interrupted while saving is never
    taken for a complete one.
    """
    target = folder / CHECKPOINTS / f"step-{step}"
    accelerator.save_state(str(target))
    if accelerator.is_main_process:
        (target / STATE_FILE).write_text(json.dumps({"step": step}), encoding="utf-8")
        states = sorted((p for p in (folder / CHECKPOINTS).glob("step-*")), key=lambda p: int(p.name.split("-")[1]))
        for old in states[: max(0, len(states) - max(1, keep))]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
