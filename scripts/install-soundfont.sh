#!/usr/bin/env bash
# Install the General MIDI SoundFonts `sonogen synth-corpus` spreads its clips over (Debian/Ubuntu):
#   fluid-soundfont-gm                    /usr/share/sounds/sf2/FluidR3_GM.sf2
#   musescore-general-soundfont-lossless  /usr/share/sounds/sf2/MuseScore_General_Full.sf2
#   timgm6mb-soundfont                    /usr/share/sounds/sf2/TimGM6mb.sf2
# (pip alone gives TimGM6mb through pretty_midi; these add timbral variety.)
# Idempotent: installs only the packages whose file is missing. Needs root (or sudo) for apt-get.
set -euo pipefail
FONTS=(
    "fluid-soundfont-gm:/usr/share/sounds/sf2/FluidR3_GM.sf2"
    "musescore-general-soundfont-lossless:/usr/share/sounds/sf2/MuseScore_General_Full.sf2"
    "timgm6mb-soundfont:/usr/share/sounds/sf2/TimGM6mb.sf2"
)
missing=()
for entry in "${FONTS[@]}"; do
    if [ ! -f "${entry#*:}" ]; then
        missing+=("${entry%%:*}")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "SoundFonts present: FluidR3_GM, MuseScore_General_Full, TimGM6mb"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
for package in "${missing[@]}"; do
    if ! apt-cache show "$package" >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        break
    fi
done
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for entry in "${FONTS[@]}"; do
    if [ ! -f "${entry#*:}" ]; then
        echo "install-soundfont: ${entry%%:*} installed but ${entry#*:} is missing" >&2
        exit 1
    fi
done
echo "SoundFonts installed: ${missing[*]}"
