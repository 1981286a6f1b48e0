#!/usr/bin/env bash
# Installs what the integration tests need on a fresh machine; safe to run again (does nothing when all is there).
# - chromium: the browser test of the dashboard (tests/EmStreaming.Server.Tests) drives /usr/bin/chromium
#   through Microsoft.Playwright; Playwright never downloads a browser of its own here.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tests/setup.sh: installing chromium for the dashboard browser test" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "tests/setup.sh: /usr/bin/chromium is missing and this user cannot install it (run as root or install Debian's chromium)" >&2
    exit 1
  fi
fi
