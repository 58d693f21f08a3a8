#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests use, when missing and when we may (root + apt).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The shell completion scripts are tested in each shell they are written for.
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v fish >/dev/null 2>&1 || missing+=(fish)
# The dashboard is tested in a real headless browser.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The monitor is tested in a real terminal.
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
# export compose is checked by docker-compose itself (`docker-compose config` needs no daemon).
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${missing[*]} not installed and cannot install without root/apt; tests that need them will say they skipped" >&2
  exit 0
fi
echo "installing ${missing[*]} (Debian packages)" >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
