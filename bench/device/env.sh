#!/usr/bin/env bash
# Runs ON the GPU machine (copied to .gpu/env.sh by bench/device/prep.sh):
# installs the carried Node.js and Vulkan loader, points Vulkan at the NVIDIA
# driver, then runs the given command.
#   bash .gpu/env.sh node .gpu/bench.mjs
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/gpu-bin
[ -x /tmp/gpu-bin/node ] || { xz -dc "$here/node.xz" > /tmp/gpu-bin/node; chmod +x /tmp/gpu-bin/node; }
for f in "$here"/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
export PATH=/tmp/gpu-bin:$PATH
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
exec "$@"
