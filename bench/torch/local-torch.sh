#!/usr/bin/env bash
# PyTorch's pipeline runtime on this machine, without a GPU machine: the
# check (torch_csv_check.py) runs gloo on the CPU and needs PyTorch >= 2.6,
# which Debian 12 does not package (1.13) but Debian 13 "trixie" does
# (python3-torch 2.6.0). This builds a trixie root file system from Debian's
# own packages and runs bench/torch/run-all.sh inside it with chroot.
# Needs root and about 2 GB of disk. Not part of CI.
#
#   bash bench/torch/local-torch.sh setup               # once: debootstrap + python3-torch
#   bash bench/torch/local-torch.sh run OUT_DIR [JOBS]  # every CSV, both formats
#   bash bench/torch/local-torch.sh python SCRIPT [ARGS] # a script of this repo, e.g.
#        bench/torch/torch_schedule_time.py (the reference for bench/schedule.ts)
#
# PIPEC_TORCH_ROOT (default /opt/pipec-torch) is where the root file system goes;
# TORCH_CSV_CHECK_DIR (default ../shared/tools) holds the shared checker.
set -eu
root=${PIPEC_TORCH_ROOT:-/opt/pipec-torch}
repo=$(cd "$(dirname "$0")/../.." && pwd)

case "${1:-}" in
  setup)
    command -v debootstrap >/dev/null || apt-get install -y debootstrap
    [ -x "$root/usr/bin/apt-get" ] || debootstrap --variant=minbase trixie "$root" http://deb.debian.org/debian
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    chroot "$root" bash -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-torch'
    chroot "$root" python3 -c 'import torch; print("PyTorch", torch.__version__, "ready in '"$root"'")'
    ;;
  run|python)
    command=$1; shift
    mkdir -p "$root/repo" "$root/checker" "$root/out"
    mounted=()
    cleanup() { for ((i=${#mounted[@]}-1; i>=0; i--)); do umount "${mounted[i]}" || true; done; }
    trap cleanup EXIT
    bind() { mount --bind "$1" "$2"; mounted+=("$2"); }
    mountpoint -q "$root/proc" || { mount -t proc proc "$root/proc"; mounted+=("$root/proc"); }
    mountpoint -q "$root/dev" || bind /dev "$root/dev"
    bind "$repo" "$root/repo"
    if [ "$command" = python ]; then
      # A script of this repository, by its path relative to the repository root.
      script=${1:?usage: local-torch.sh python SCRIPT [ARGS]}; shift
      chroot "$root" env USE_LIBUV=0 python3 "/repo/$script" "$@"
      exit
    fi
    out=${1:?usage: local-torch.sh run OUT_DIR [JOBS]}
    mkdir -p "$out"; out=$(cd "$out" && pwd)
    checker=$(cd "${TORCH_CSV_CHECK_DIR:-$repo/../shared/tools}" && pwd)
    bind "$checker" "$root/checker"
    bind "$out" "$root/out"
    # This PyTorch build has no libuv, which the TCP store asks for by default.
    chroot "$root" env USE_LIBUV=0 TORCH_CSV_CHECK_JOBS="${2:-2}" TORCH_CSV_CHECK_DIR=/checker \
      bash /repo/bench/torch/run-all.sh /out 120
    chroot "$root" python3 -c 'import torch; print("ran on PyTorch", torch.__version__)'
    ;;
  *)
    sed -n '2,16p' "$0"; exit 2 ;;
esac
