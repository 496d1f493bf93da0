"""Diffusers-free inference for the default model's text-to-audio path (a quick cold start)."""
