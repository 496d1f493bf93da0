"""The embedded default model: where it lives in the package and how it is found.

sonogen ships a small diffusers checkpoint (fp16 safetensors shards, trained by
``scripts/train_default_model.py`` on the synthetic corpus) in the package folder
``sonogen/models/default/``. Nothing is downloaded: the folder is package data.

The architecture it is trained with is :data:`DEFAULT_CONFIG_PATH`
(``sonogen/models/default_config.json``), the file given to ``sonogen train --config``.
"""

from __future__ import annotations

from pathlib import Path

#: The packaged folder that holds the default checkpoint once it has been trained.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default"
#: The training config (architecture and schedule) of the default model.
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "default_config.json"
#: The file whose presence marks a diffusers pipeline folder.
MODEL_INDEX = "model_index.json"


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


__all__ = ["DEFAULT_CONFIG_PATH", "DEFAULT_MODEL_DIR", "MODEL_INDEX", "default_checkpoint_path"]
