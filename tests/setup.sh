#!/usr/bin/env bash
# Installs what the integration tests need on a fresh machine; safe to run again (does nothing when all is there).
# - chromium: the browser test of the dashboard (tests/EmStreaming.Server.Tests) drives /usr/bin/chromium
#   through Microsoft.Playwright; Playwright never downloads a browser of its own here.
# - Azurite (npm azurite@3, into .tools/azurite, ignored by git): the Azure Storage emulator the Azure provider,
#   cluster and chaos tests start on free loopback ports (tests/Shared/AzuriteFixture.cs).
# - redis-server (Debian): the Redis membership tests start it on a free port (tests/Shared/RedisFixture.cs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

apt_packages=()
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
command -v redis-server >/dev/null 2>&1 || apt_packages+=(redis-server)
command -v npm >/dev/null 2>&1 || apt_packages+=(nodejs npm)

if [ "${#apt_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tests/setup.sh: installing ${apt_packages[*]} (Debian packages) for the integration tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
  else
    echo "tests/setup.sh: ${apt_packages[*]} missing and this user cannot install them (run as root or install Debian's ${apt_packages[*]})" >&2
    exit 1
  fi
fi

# redis-server's Debian package starts a system service on 6379; the tests never use it (they start their own on
# a free port), so it is left as the package set it up.

azurite_dir="$root/.tools/azurite"
if [ ! -x "$azurite_dir/node_modules/.bin/azurite" ]; then
  echo "tests/setup.sh: installing Azurite (npm azurite@3) into .tools/azurite" >&2
  mkdir -p "$azurite_dir"
  [ -f "$azurite_dir/package.json" ] || echo '{ "name": "emstreaming-tools-azurite", "private": true }' >"$azurite_dir/package.json"
  npm install --prefix "$azurite_dir" --no-audit --no-fund --loglevel=error azurite@3 >/dev/null
  if [ ! -x "$azurite_dir/node_modules/.bin/azurite" ]; then
    echo "tests/setup.sh: npm install azurite@3 finished but $azurite_dir/node_modules/.bin/azurite is missing" >&2
    exit 1
  fi
fi
