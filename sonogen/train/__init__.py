"""Training: fine-tuning, LoRA and from-scratch training of spectrogram diffusion models.

Public API::

    from sonogen.train.config import TrainConfig, load_model_config
    from sonogen.train.trainer import train, TrainResult
"""
