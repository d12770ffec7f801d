#!/usr/bin/env bash
# Install the Debian packages the test suite needs. Idempotent; run as root
# (or through sudo). .ci/run calls it on a fresh machine.
set -euo pipefail
PACKAGES=(
  # guests: C -> wasm32-wasi
  clang lld wasi-libc libclang-rt-14-dev-wasm32
  # images: build them (umoci), convert and push them (skopeo), serve them (docker-registry)
  umoci skopeo docker-registry
  # benchmarks: zstd layers for the decompression figure, tar -xzf for the P4 comparison
  zstd tar gzip
  # registry tests: the token server's signing certificate (bcrypt for htpasswd comes from perl-base, script from bsdutils)
  openssl
  # OCI-runtime backend (issue 12): the runtimes, and busybox for the Linux test image
  runc crun runsc busybox-static
  # microVM backend (issue 13): QEMU microvm, ext4 root disks without root (mke2fs -d), the kernel package's xz payload
  qemu-system-x86 e2fsprogs xz-utils
)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
