#!/usr/bin/env bash
# Installs the Debian packages the bench compares against (supervisor) and loads with (wrk), when missing.
set -euo pipefail
missing=()
command -v supervisord >/dev/null 2>&1 || missing+=(supervisor)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench: not root or no apt-get: install ${missing[*]} yourself for the full comparison" >&2
  exit 0
fi
# Keep the package from starting a system-wide supervisord: the bench runs its own and stops it.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
