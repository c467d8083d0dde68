#!/usr/bin/env bash
# install-deps.sh: installs what presenced needs to build, test and benchmark
# on Debian 12. Idempotent: does nothing (and needs no network) when every
# package is already present. Run as root (or with sudo available).
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
  # data plane
  libsodium-dev liburing-dev libdpdk-dev dpdk libjemalloc-dev
  # control plane and tools
  libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev iproute2 procps
  prometheus redis-server redis-tools gnuplot-nox python3 curl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo_cmd=(sudo); else
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
# Benchmarks and tests start their own redis-server on a private port; the
# system service Debian starts on install is not used.
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
