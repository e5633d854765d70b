#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored): Node.js and the Vulkan loader for a GPU
# machine that has neither, and bench/device/env.sh to install them there.
# Run from the repository root: bash bench/device/prep.sh
# Then on the GPU machine: bash .gpu/env.sh <command> (docs/runtime.md,
# "Running the GPU check", says what to bundle and carry).
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
mkdir -p .gpu/debs
[ -f .gpu/node.xz ] || xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
if ! ls .gpu/debs/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update >/dev/null
  (cd .gpu/debs && apt-get $o download libvulkan1 >/dev/null 2>&1)
fi
cp bench/device/env.sh .gpu/env.sh
# The PyTorch CSV checker travels too.
cp bench/torch/torch_csv_check.py .gpu/
du -sh .gpu
