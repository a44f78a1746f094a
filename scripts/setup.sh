#!/usr/bin/env bash
# Installs what llmops needs on a fresh Debian/Ubuntu machine, then builds it. Idempotent: what is
# already there is not installed again.
#   - Debian packages: Python with torch (python3-torch, python3-onnx) for the trainer; with
#     --dev also openssh-server, rsync, slurm-wlm, munge, chromium, docker.io and debootstrap for the
#     integration tests.
#   - npm packages (npm ci), skipped when node_modules matches package-lock.json.
# Asks before installing system packages on a TTY, unless --yes or CI is set.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0; YES=0
for a in "$@"; do
  case "$a" in
    --dev) DEV=1 ;;
    --yes|-y) YES=1 ;;
    *) echo "setup: unknown option $a (use --dev, --yes)" >&2; exit 2 ;;
  esac
done
[ -n "${CI:-}" ] && YES=1
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
[ -n "${NO_COLOR:-}" ] || [ ! -t 2 ] && say() { printf '==> %s\n' "$*" >&2; }

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none)). Try this: install Node.js 20 from https://nodejs.org" >&2
  exit 8
fi

# libopenblas0-pthread: without it Debian's torch falls back to the reference BLAS (10x slower).
pkgs=(python3 python3-torch python3-onnx libopenblas0-pthread)
[ "$DEV" = 1 ] && pkgs+=(openssh-server openssh-client rsync slurm-wlm munge chromium tmux docker.io debootstrap)
ask() { # question -> 0 for yes; never asks without a TTY (then --yes or CI decide)
  [ "$YES" = 1 ] && return 0
  [ -t 0 ] || { echo "setup: $1 Not asked without a TTY: rerun with --yes." >&2; return 1; }
  read -r -p "$1 [Y/n] " answer
  case "$answer" in [nN]*) return 1 ;; esac
}
has_torch() { for py in "${LLMOPS_PYTHON:-}" python3 /usr/bin/python3 .venv/bin/python; do [ -n "$py" ] && "$py" -c 'import torch' >/dev/null 2>&1 && return 0; done; return 1; }

if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    ask "Install with apt-get: ${missing[*]}?" || { echo "setup: not installed; llmops doctor lists what is missing." >&2; exit 8; }
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    say "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
elif ! has_torch; then
  # No apt: a virtual environment with pip, where PyPI is reachable (scripts/demo.mjs uses .venv).
  command -v python3 >/dev/null || { echo "setup: no Python 3. Try this: install Python 3.9+ and rerun." >&2; exit 8; }
  ask "Create .venv and pip install torch onnx?" || { echo "setup: not installed; llmops doctor lists what is missing." >&2; exit 8; }
  say "python3 -m venv .venv && .venv/bin/pip install torch onnx"
  python3 -m venv .venv && .venv/bin/pip install -q torch onnx || {
    echo "setup: pip could not install torch (is PyPI reachable?). Try this: install torch for your Python and set python: in llmops.yaml." >&2
    exit 8
  }
fi

# onnxruntime-node's postinstall downloads CUDA binaries from outside the npm registry; the CPU
# binaries ship inside the package, so skip it.
export ONNXRUNTIME_NODE_INSTALL=skip
lock_sha=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.llmops-lock-sha 2>/dev/null)" != "$lock_sha" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sha" > node_modules/.llmops-lock-sha
fi
say "build"
npm run --silent build >/dev/null
