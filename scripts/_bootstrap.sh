# Sourced by scripts/demo and scripts/test: make a fresh machine ready, idempotently.
#  - system packages the tests drive (nginx for load balancing, wrk for the harness's self-check);
#  - a virtualenv in .venv with CPU torch first (never a CUDA build), then the kit and every extra;
#  - resemblyzer with --no-deps: it requires plain `webrtcvad`, which breaks on new setuptools,
#    and webrtcvad-wheels (in the judges extra) provides the same module.
# A stamp keyed by pyproject.toml and this file skips the work on later runs.
set -euo pipefail

KIT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KIT_VENV=${VOICEBOX_KIT_VENV:-$KIT_ROOT/.venv}
KIT_PYTHON=$KIT_VENV/bin/python

_kit_log() { printf '\033[1m[voicebox-kit]\033[0m %s\n' "$*" >&2; }

_kit_system_packages() {
  local missing=()
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    _kit_log "installing ${missing[*]} (apt)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
    # Debian starts the packaged nginx on port 80; the kit runs its own instances.
    (nginx -s stop 2>/dev/null || pkill -x nginx 2>/dev/null) || true
  else
    _kit_log "warning: ${missing[*]} missing; the load-balancing tests will be skipped"
  fi
}

_kit_python_packages() {
  local stamp="$KIT_VENV/.voicebox-kit-stamp" want
  want=$(cat "$KIT_ROOT/pyproject.toml" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$KIT_PYTHON" ]; then
    return 0
  fi
  _kit_log "installing the kit into $KIT_VENV (first run: a few minutes)"
  [ -x "$KIT_PYTHON" ] || python3 -m venv "$KIT_VENV"
  local pip=("$KIT_PYTHON" -m pip install --quiet --disable-pip-version-check)
  "${pip[@]}" --upgrade pip setuptools wheel
  "${pip[@]}" "torch==2.13.0"
  "${pip[@]}" -e "$KIT_ROOT[all]"
  "${pip[@]}" --no-deps "resemblyzer==0.1.4"
  # A real third-party OpenAI-compatible server for one slow test; --no-deps so it changes no
  # pin (its deps are in [all]; uvicorn[standard]'s extras are optional).
  "${pip[@]}" --no-deps "faster-whisper-server==0.0.3"
  echo "$want" >"$stamp"
}

_kit_system_packages
_kit_python_packages

# Tools run by name (nox sessions with --no-venv, ruff, mypy, locust, nginx helpers) come from .venv.
export VIRTUAL_ENV=$KIT_VENV
export PATH="$KIT_VENV/bin:$PATH"
