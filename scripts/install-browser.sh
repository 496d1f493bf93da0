#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the browser tests (tests/server/test_browser.py).
# Playwright's Python package drives it through executable_path=/usr/bin/chromium, so no
# Playwright browser download is needed.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
