#!/usr/bin/env bash
# The test command: installs what the tests need from the system's package registry
# (headless Chromium for the browser tests, a General MIDI SoundFont for the synthetic
# corpus) when it is missing, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
for helper in scripts/install-browser.sh scripts/install-soundfont.sh; do
    if [ -f "$helper" ]; then bash "$helper"; fi
done
exec python -m pytest -q tests "$@"
