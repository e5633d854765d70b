#!/usr/bin/env bash
# Makes the Python environment that runs PyTorch's pipeline runtime for
# `npm run test:torch` (bench/torch/torch_csv_check.py): a venv with
# PyTorch (CPU build is enough: the check runs gloo on the CPU) and numpy.
#
#   bash scripts/torch-venv.sh           # create or reuse; prints the venv's python
#   bash scripts/torch-venv.sh --check   # only say whether it is ready
#
# Idempotent: a venv that already imports the wanted PyTorch is reused as is.
# On failure it prints one line starting "torch venv:" with the reason (no
# Python 3.11, no venv module, no wheel on pip's configured index) and exits 1.
#
# PIPEC_TORCH_VENV   where the venv goes (default .venv-torch at the repo root)
# PIPEC_TORCH_PYTHON the interpreter to build it from (default python3.11:
#                    the version PyTorch's wheels here are built for)
# PIPEC_TORCH_VERSION the PyTorch release (default 2.13.0, the one that runs
#                    every family without adaptations, docs/schedules.md)
#
# pip's index comes from pip's own configuration (`pip config list`,
# PIP_INDEX_URL/PIP_EXTRA_INDEX_URL); it is passed on explicitly with
# --index-url so that pip does not also retry an index it cannot reach.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${PIPEC_TORCH_VENV:-$repo/.venv-torch}
python=${PIPEC_TORCH_PYTHON:-python3.11}
version=${PIPEC_TORCH_VERSION:-2.13.0}
marker="$venv/.pipec-torch-$version"

fail() { echo "torch venv: $*" >&2; exit 1; }

ready() {
  [ -f "$marker" ] && "$venv/bin/python" - "$version" >/dev/null 2>&1 <<'EOF'
import sys, torch, torch.distributed, numpy
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] and torch.distributed.is_available() else 1)
EOF
}

if ready; then
  echo "$venv/bin/python"
  exit 0
fi
[ "${1:-}" = --check ] && fail "no PyTorch $version venv at $venv (make it with: bash scripts/torch-venv.sh)"

command -v "$python" >/dev/null 2>&1 || fail "no $python on PATH (PyTorch $version's wheels here are for Python 3.11; set PIPEC_TORCH_PYTHON to another interpreter)"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null || fail "$python does not run or is older than 3.9"
"$python" -c 'import venv, ensurepip' 2>/dev/null || fail "$python has no venv/ensurepip module (on Debian: apt-get install python3.11-venv)"

# The configured indexes, first as --index-url, the rest as --extra-index-url.
indexes=()
config() { "$python" -m pip config get "$1" 2>/dev/null; }
for url in ${PIP_INDEX_URL:-$(config global.index-url)} ${PIP_EXTRA_INDEX_URL:-$(config global.extra-index-url)}; do
  indexes+=("$url")
done
index_args=()
for i in "${!indexes[@]}"; do
  if [ "$i" = 0 ]; then index_args+=(--index-url "${indexes[i]}"); else index_args+=(--extra-index-url "${indexes[i]}"); fi
done

# Replace only what is a venv (an older or broken one), never another folder.
if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
  fail "$venv exists and is not a venv; remove it or set PIPEC_TORCH_VENV elsewhere"
fi
rm -rf "$venv"
"$python" -m venv "$venv" || { rm -rf "$venv"; fail "$python -m venv $venv failed"; }
log=$(mktemp)
echo "torch venv: installing torch==$version and numpy into $venv" >&2
if ! "$venv/bin/pip" install --disable-pip-version-check -q "${index_args[@]}" "torch==$version" numpy >"$log" 2>&1; then
  if grep -q -i -e 'no matching distribution' -e 'could not find a version' -e "cannot install torch==" "$log"; then
    # (pip says "cannot install ... conflicting dependencies" when a constraints file caps the version)
    reason="no torch==$version wheel for $("$python" -c 'import sys; print(f"Python {sys.version_info[0]}.{sys.version_info[1]}")') on pip's configured index or within its constraints (pip config list)"
  else
    reason="pip install torch==$version numpy failed: $(grep -v '^\s*$' "$log" | tail -1)"
  fi
  rm -rf "$venv" "$log"
  fail "$reason"
fi
rm -f "$log"
touch "$marker"
ready || { rm -rf "$venv"; fail "PyTorch $version installed but does not import with torch.distributed"; }
echo "$venv/bin/python"
