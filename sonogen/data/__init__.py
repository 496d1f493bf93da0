"""Datasets for training: spectrogram image folders from captioned audio, and a synthetic music corpus."""
