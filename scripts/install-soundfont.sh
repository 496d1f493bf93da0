#!/usr/bin/env bash
# Install the General MIDI SoundFont that `sonogen synth-corpus` renders with (Debian/Ubuntu).
# Idempotent: does nothing when the file is already there. Needs root (or sudo) for apt-get.
set -euo pipefail
FONT=/usr/share/sounds/sf2/TimGM6mb.sf2
PACKAGE=timgm6mb-soundfont
if [ -f "$FONT" ]; then
    echo "SoundFont present: $FONT"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show "$PACKAGE" >/dev/null 2>&1; then
    $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "$PACKAGE" >/dev/null
if [ ! -f "$FONT" ]; then
    echo "install-soundfont: $PACKAGE installed but $FONT is missing" >&2
    exit 1
fi
echo "SoundFont installed: $FONT"
