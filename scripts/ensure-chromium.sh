#!/bin/sh
# Debian's Chromium for the end-to-end admin tests (tests/admin, marker `browser`).
# Installs it when /usr/bin/chromium is missing; needs root (CI runs as root).
set -eu
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "ensure-chromium: /usr/bin/chromium is missing and installing it needs root; browser tests will be skipped" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: /usr/bin/chromium is missing and apt-get is not available; browser tests will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; then
    echo "ensure-chromium: could not install chromium with apt-get; browser tests will be skipped" >&2
    exit 0
fi
