"""Original SD 1.x single files (LDM key layout) load offline.

The checkpoint is written here in the original layout: a tiny diffusers UNet, VAE and
CLIP text encoder (CLIP's 49408-entry vocabulary, so the packaged tokenizer drives it)
with their keys renamed to ``model.diffusion_model.*``, ``first_stage_model.*`` and
``cond_stage_model.transformer.*`` by the inverse of diffusers' conversion (the maps of
diffusers' ``convert_diffusers_to_original_stable_diffusion.py``), plus an LDM config
sidecar ``<name>.yaml`` with its tiny sizes.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import torch

from sonogen.errors import SonogenError
from sonogen.spectrogram.params import SpectrogramParams

PARAMS = SpectrogramParams(num_frequencies=64)

# --------------------------------------------------------------------------- diffusers -> LDM
_UNET_TOP = [
    ("time_embed.0.", "time_embedding.linear_1."),
    ("time_embed.2.", "time_embedding.linear_2."),
    ("input_blocks.0.0.", "conv_in."),
    ("out.0.", "conv_norm_out."),
    ("out.2.", "conv_out."),
]
_UNET_RESNET = [
    ("in_layers.0", "norm1"),
    ("in_layers.2", "conv1"),
    ("out_layers.0", "norm2"),
    ("out_layers.3", "conv2"),
    ("emb_layers.1", "time_emb_proj"),
    ("skip_connection", "conv_shortcut"),
]


def _unet_layer_map() -> list[tuple[str, str]]:
    """(LDM prefix, diffusers prefix) for SD 1.x's block structure (4 levels, 2 layers)."""
    pairs = []
    for i in range(4):
        for j in range(2):
            pairs.append((f"input_blocks.{3 * i + j + 1}.0.", f"down_blocks.{i}.resnets.{j}."))
            if i < 3:
                pairs.append((f"input_blocks.{3 * i + j + 1}.1.", f"down_blocks.{i}.attentions.{j}."))
        for j in range(3):
            pairs.append((f"output_blocks.{3 * i + j}.0.", f"up_blocks.{i}.resnets.{j}."))
            if i > 0:
                pairs.append((f"output_blocks.{3 * i + j}.1.", f"up_blocks.{i}.attentions.{j}."))
        if i < 3:
            pairs.append((f"input_blocks.{3 * (i + 1)}.0.op.", f"down_blocks.{i}.downsamplers.0.conv."))
            pairs.append((f"output_blocks.{3 * i + 2}.{1 if i == 0 else 2}.", f"up_blocks.{i}.upsamplers.0."))
    pairs.append(("middle_block.1.", "mid_block.attentions.0."))
    for j in range(2):
        pairs.append((f"middle_block.{2 * j}.", f"mid_block.resnets.{j}."))
    return pairs


def unet_to_ldm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        new = key
        for ldm, hf in _UNET_TOP:
            if new.startswith(hf):
                new = ldm + new[len(hf):]
        for ldm, hf in _unet_layer_map():
            if new.startswith(hf):
                new = ldm + new[len(hf):]
                if "resnets" in hf:
                    for ldm_part, hf_part in _UNET_RESNET:
                        new = new.replace(hf_part, ldm_part)
        out["model.diffusion_model." + new] = value
    return out


def vae_to_ldm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    pairs = [("nin_shortcut", "conv_shortcut"), ("norm_out", "conv_norm_out"), ("mid.attn_1.", "mid_block.attentions.0.")]
    for i in range(4):
        for j in range(2):
            pairs.append((f"encoder.down.{i}.block.{j}.", f"encoder.down_blocks.{i}.resnets.{j}."))
        if i < 3:
            pairs.append((f"down.{i}.downsample.", f"down_blocks.{i}.downsamplers.0."))
            pairs.append((f"up.{3 - i}.upsample.", f"up_blocks.{i}.upsamplers.0."))
        for j in range(3):
            pairs.append((f"decoder.up.{3 - i}.block.{j}.", f"decoder.up_blocks.{i}.resnets.{j}."))
    for i in range(2):
        pairs.append((f"mid.block_{i + 1}.", f"mid_block.resnets.{i}."))
    attn = [("norm.", "group_norm."), ("q.", "to_q."), ("k.", "to_k."), ("v.", "to_v."), ("proj_out.", "to_out.0.")]
    out = {}
    for key, value in state.items():
        new = key
        for ldm, hf in pairs:
            new = new.replace(hf, ldm)
        if "attentions" in key or "mid.attn_1." in new:
            for ldm, hf in attn:
                new = new.replace(hf, ldm)
            if new.endswith(("q.weight", "k.weight", "v.weight", "proj_out.weight")) and value.ndim == 2:
                value = value[:, :, None, None]  # LDM's attention projections are 1x1 convolutions
        out["first_stage_model." + new] = value
    return out


def tiny_ldm_parts(seed: int = 0) -> dict[str, Any]:
    """SD 1.x-structured tiny parts (32 groups per norm, as LDM's modules fix it)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(32, 32, 64, 64),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=64, attention_head_dim=2,
    )
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32, 32, 32, 32), layers_per_block=2, latent_channels=4, scaling_factor=0.18215,
    )
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=49408, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
        max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=64,
        bos_token_id=49406, eos_token_id=49407, pad_token_id=49407,
    ))
    return {"unet": unet.eval(), "vae": vae.eval(), "text_encoder": text.eval()}


TINY_YAML = """\
model:
  params:
    linear_start: 0.00085
    linear_end: 0.0120
    timesteps: 1000
    scale_factor: 0.18215
    unet_config:
      params:
        in_channels: 4
        out_channels: 4
        model_channels: 32
        attention_resolutions: [4, 2, 1]
        num_res_blocks: 2
        channel_mult: [1, 1, 2, 2]
        num_heads: 2
        use_spatial_transformer: true
        transformer_depth: 1
        context_dim: 64
    first_stage_config:
      params:
        ddconfig:
          double_z: true
          z_channels: 4
          in_channels: 3
          out_ch: 3
          ch: 32
          ch_mult: [1, 1, 1, 1]
          num_res_blocks: 2
"""


@pytest.fixture(scope="module")
def ldm_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from safetensors.torch import save_file

    parts = tiny_ldm_parts()
    state = unet_to_ldm(parts["unet"].state_dict())
    state.update(vae_to_ldm(parts["vae"].state_dict()))
    text = parts["text_encoder"].state_dict()  # SD 1.x files nest the tower under text_model.
    state.update({"cond_stage_model.transformer.text_model." + k.removeprefix("text_model."): v for k, v in text.items()})
    folder = tmp_path_factory.mktemp("ldm")
    path = folder / "riffusion-tiny.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    path.with_suffix(".yaml").write_text(TINY_YAML)
    path.with_suffix(".spectrogram.json").write_text(json.dumps(dict(PARAMS.__dict__)))
    return path, parts


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: the Hub is marked offline and any connection or download attempt fails."""
    import huggingface_hub

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network used while loading an original single file")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in ("hf_hub_download", "snapshot_download"):
        monkeypatch.setattr(huggingface_hub, name, refuse)


def test_original_layout_loads_offline_with_the_same_weights(ldm_file, offline) -> None:
    from sonogen.pipeline import load_pipeline

    path, parts = ldm_file
    pipe = load_pipeline(str(path), device="cpu")
    assert pipe.spectrogram_params == PARAMS
    for name in ("unet", "vae", "text_encoder"):
        want = parts[name].state_dict()
        got = getattr(pipe, name).state_dict()
        assert set(got) == set(want), name
        for key, value in want.items():
            assert torch.equal(got[key], value), f"{name}.{key}"
    assert len(pipe.tokenizer) == 49408
    assert pipe.tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert type(pipe.scheduler).__name__ == "PNDMScheduler" and pipe.scheduler.config.steps_offset == 1
    out = pipe("jazz piano", seed=3, num_inference_steps=2, width=64, progress=False)
    assert out.images[0].size == (64, PARAMS.num_frequencies)
    assert out.waveforms[0].shape[0] == 1 and abs(out.waveforms[0]).max() > 0


def test_without_a_sidecar_the_packaged_sd1_config_is_used_and_named(ldm_file, tmp_path, offline) -> None:
    from sonogen.pipeline import load_pipeline

    path, _ = ldm_file
    bare = tmp_path / "bare.safetensors"
    bare.write_bytes(path.read_bytes())
    with pytest.raises(SonogenError) as err:
        load_pipeline(str(bare), device="cpu")
    text = str(err.value)
    assert "\n" not in text and "v1-inference.yaml" in text and "bare.yaml" in text


def test_packaged_config_describes_sd15() -> None:
    """The shipped v1-inference.yaml converts to the SD 1.5 / Riffusion UNet and VAE configs."""
    from diffusers.loaders import single_file_utils as sfu

    from sonogen.pipeline.ldm import V1_INFERENCE_CONFIG, read_config

    config, file = read_config(Path("/nonexistent/riffusion-model-v1.safetensors"))
    assert file == V1_INFERENCE_CONFIG
    unet = sfu.create_unet_diffusers_config_from_ldm(config, {})
    assert list(unet["block_out_channels"]) == [320, 640, 1280, 1280]
    assert unet["down_block_types"] == ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"]
    assert unet["cross_attention_dim"] == 768 and unet["attention_head_dim"] == 8 and unet["layers_per_block"] == 2
    assert unet["sample_size"] == 64 and unet["use_linear_projection"] is False
    vae = sfu.create_vae_diffusers_config_from_ldm(config, {})
    assert vae["block_out_channels"] == [128, 256, 512, 512] and vae["scaling_factor"] == 0.18215


def test_pickled_checkpoints_are_refused_without_unpickling(tmp_path) -> None:
    from sonogen.pipeline import load_pipeline

    ckpt = tmp_path / "riffusion-model-v1.ckpt"
    ckpt.write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(SonogenError, match=r"pickled checkpoint.*\.safetensors"):
        load_pipeline(str(ckpt), device="cpu")


def test_cli_names_a_file_that_is_not_sd1(tmp_path, capsys) -> None:
    from safetensors.torch import save_file

    from sonogen.cli import main

    odd = tmp_path / "odd.safetensors"
    save_file({"model.diffusion_model.conv.weight": torch.zeros(2)}, str(odd))
    assert main(["generate", "x", "-o", str(tmp_path / "x.wav"), "--checkpoint", str(odd), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "odd.safetensors" in err[0] and "text encoder" in err[0]
