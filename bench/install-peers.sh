#!/usr/bin/env bash
# Installs the Debian packages the bench compares against (supervisor; HAProxy and Caddy in front of the
# same backends; uvicorn + FastAPI as a realistic backend) and loads with (wrk), when missing.
set -euo pipefail
missing=()
command -v supervisord >/dev/null 2>&1 || missing+=(supervisor)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
# Debian's own python3 (a pyenv or venv python3 first on PATH would not see these packages).
py=/usr/bin/python3
"$py" -c 'import uvicorn' >/dev/null 2>&1 || missing+=(python3-uvicorn)
"$py" -c 'import fastapi' >/dev/null 2>&1 || missing+=(python3-fastapi)
# uvicorn's usual event loop (what `pip install uvicorn[standard]` brings).
"$py" -c 'import uvloop' >/dev/null 2>&1 || missing+=(python3-uvloop)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench: not root or no apt-get: install ${missing[*]} yourself for the full comparison" >&2
  exit 0
fi
# Keep the packages from starting system-wide daemons (supervisord, haproxy, caddy): the bench runs its own.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
