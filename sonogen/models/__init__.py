"""Model configs and the embedded default model: where they live in the package.

Every model sonogen trains from scratch is one JSON file in this folder (see
:mod:`sonogen.train.config` for the keys): the architecture, the noise schedule and
sampler, and the options of the recipe that trains it.

- ``default.json``: the model shipped in ``default/`` (fp16 safetensors shards, made
  by ``scripts/train_default_model.py`` with ``sonogen train``). Nothing is downloaded:
  the folder is package data.
- ``tiny.json``: a small real model for 512-band spectrograms.
- ``micro.json``: the test-size model that tests and benchmarks train in seconds.
"""

from __future__ import annotations

from pathlib import Path

#: The folder of model configs (``<name>.json``).
CONFIG_DIR = Path(__file__).resolve().parent
#: The packaged folder that holds the default checkpoint once it has been trained.
DEFAULT_MODEL_DIR = CONFIG_DIR / "default"
#: The config (architecture, schedule, recipe) the default model is trained with.
DEFAULT_CONFIG_PATH = CONFIG_DIR / "default.json"
#: The file whose presence marks a diffusers pipeline folder.
MODEL_INDEX = "model_index.json"


def model_config_path(name: str) -> Path:
    """The packaged config called ``name`` (``"micro"`` -> ``sonogen/models/micro.json``)."""
    return CONFIG_DIR / f"{name}.json"


def default_checkpoint_path(folder: Path | None = None) -> Path | None:
    """The packaged default checkpoint folder, or None when no model is shipped in it.

    Args:
        folder: the folder to look in; :data:`DEFAULT_MODEL_DIR` when None (tests pass
            a temporary folder).

    Returns:
        The folder (absolute) if it holds a diffusers ``model_index.json``, else None
        (a missing folder, an empty one, or one holding only a README).
    """
    root = DEFAULT_MODEL_DIR if folder is None else Path(folder).resolve()
    if (root / MODEL_INDEX).is_file():
        return root
    return None


__all__ = [
    "CONFIG_DIR", "DEFAULT_CONFIG_PATH", "DEFAULT_MODEL_DIR", "MODEL_INDEX", "default_checkpoint_path",
    "model_config_path",
]
