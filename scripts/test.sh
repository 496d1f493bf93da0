#!/usr/bin/env bash
# The test command: installs what the tests need from the system's package registry
# (headless Chromium for the browser tests; the Debian General MIDI SoundFonts the synthetic
# corpus spreads its clips over) when it is missing, then runs the whole suite. TimGM6mb
# alone comes with the pip install (pretty_midi).
#
# Where an install fails (no root, no network), the tests that need the tool are skipped
# with the reason. Under SONOGEN_REQUIRE_ALL=1 (set by CI, .ci/run) a failed install stops
# the run and nothing is skipped: CI runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
for helper in scripts/install-browser.sh scripts/install-soundfont.sh; do
    if [ -f "$helper" ] && ! bash "$helper"; then
        if [ "${SONOGEN_REQUIRE_ALL:-0}" != "0" ]; then
            echo "test.sh: $helper failed and SONOGEN_REQUIRE_ALL is set" >&2
            exit 1
        fi
        echo "test.sh: $helper failed; the tests that need it will be skipped" >&2
    fi
done
exec python -m pytest -q tests "$@"
