#!/bin/sh
# Build the microVM backend's guest assets from Debian packages, cached:
#   vmlinux            the uncompressed kernel of linux-image-amd64's current image package
#   initrd.cpio.gz     busybox-static + the needed kernel modules + runtime/microvm/init
#   assets.json        package, version, paths and sha256 of both (for the host config's pins)
# Output directory (printed as the last line on stdout):
#   ${STRATA_MICROVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/strata/microvm}/<package>_<version>-<init hash>/
# A second run with the same kernel package, init and busybox is a cache hit
# (no download). Needs: apt-get, dpkg-deb, xz, busybox (busybox-static), sha256sum.
# Set STRATA_MICROVM_KERNEL_PACKAGE to pin another image package.
set -eu
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
cache=${STRATA_MICROVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/strata/microvm}
busybox=$(command -v busybox) || { echo "build-assets: busybox (busybox-static) is not installed" >&2; exit 1; }
# The modules the guest needs; their dependencies are read from each .ko.
wanted="crc32c_generic virtio_mmio virtio_blk virtio_console ext4 overlay 9pnet_virtio 9p"

pkg=${STRATA_MICROVM_KERNEL_PACKAGE:-}
if [ -z "$pkg" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }') || true
  if [ -z "$pkg" ]; then
    apt-get update -qq >&2
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
  fi
fi
version=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
[ -n "$version" ] || { echo "build-assets: apt knows no version of $pkg" >&2; exit 1; }
key=$(cat "$here/init" "$0" "$busybox" | sha256sum | cut -c1-12)
out="$cache/${pkg}_${version}-$key"
if [ -f "$out/assets.json" ]; then echo "$out"; exit 0; fi

mkdir -p "$cache"
# One build at a time (test files start in parallel): wait, then look again.
if command -v flock >/dev/null; then
  exec 9>"$cache/.lock" && flock 9
  if [ -f "$out/assets.json" ]; then echo "$out"; exit 0; fi
fi
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
kdir="$cache/${pkg}_${version}-kernel"
if [ ! -f "$kdir/vmlinux" ]; then
  (cd "$work" && { apt-get download "$pkg=$version" >&2 2>/dev/null || { apt-get update -qq >&2 && apt-get download "$pkg=$version" >&2; }; })
  mkdir -p "$work/x"
  dpkg-deb --fsys-tarfile "$work"/*.deb | tar -x -C "$work/x" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/fs/*' './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/virtio_blk.ko*' './lib/modules/*/kernel/drivers/char/virtio_console.ko*' './lib/modules/*/kernel/net/9p/*' './lib/modules/*/kernel/crypto/*' './lib/modules/*/kernel/lib/*'
  # vmlinuz's payload is xz: decompress it from the first offset that gives an ELF file.
  vmlinuz=$(ls "$work"/x/boot/vmlinuz-*)
  for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | cut -d: -f1); do
    tail -c +$((off + 1)) "$vmlinuz" | xz -dc >"$work/vmlinux" 2>/dev/null || true
    [ "$(head -c 4 "$work/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] && break
  done
  [ "$(head -c 4 "$work/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] || { echo "build-assets: no xz ELF payload in $vmlinuz" >&2; exit 1; }
  # Modules in load order: each one's dependencies (from its modinfo) first.
  mods="$work/mods"; mkdir -p "$mods"; : >"$work/order"
  find_ko() { find "$work"/x/lib/modules -name "$1.ko" -o -name "$1.ko.xz" | head -n1; }
  add() {
    grep -qx "$1" "$work/order" && return 0
    ko=$(find_ko "$1"); [ -n "$ko" ] || { echo "build-assets: module $1 not in $pkg" >&2; exit 1; }
    for dep in $(grep -aom1 'depends=[^[:cntrl:]]*' "$ko" | cut -d= -f2 | tr ',' ' '); do add "$dep"; done
    ko=$(find_ko "$1")
    case "$ko" in *.xz) xz -dc "$ko" >"$mods/$1.ko" ;; *) cp "$ko" "$mods/$1.ko" ;; esac
    echo "$1" >>"$work/order"
  }
  for m in $wanted; do add "$m"; done
  # Built aside and renamed: a concurrent build of the same version keeps the first complete one.
  ktmp="$work/kernel" && mkdir -p "$ktmp" && cp -r "$mods" "$ktmp/modules" && cp "$work/order" "$ktmp/modules/order"
  mv "$work/vmlinux" "$ktmp/vmlinux"
  mv -T "$ktmp" "$kdir" 2>/dev/null || [ -f "$kdir/vmlinux" ]
fi

# The initramfs: busybox with applet links, the modules in order, the init.
root="$work/initramfs"
mkdir -p "$root/bin" "$root/lib/modules" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
cp "$kdir"/modules/* "$root/lib/modules/"
cp "$here/init" "$root/init" && chmod 755 "$root/init"
(cd "$root" && find . | sort | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1 -n) >"$work/initrd.cpio.gz"

otmp="$work/out" && mkdir -p "$otmp"
ln "$kdir/vmlinux" "$otmp/vmlinux" 2>/dev/null || cp "$kdir/vmlinux" "$otmp/vmlinux"
mv "$work/initrd.cpio.gz" "$otmp/initrd.cpio.gz"
ksha=$(sha256sum "$otmp/vmlinux" | cut -d' ' -f1)
isha=$(sha256sum "$otmp/initrd.cpio.gz" | cut -d' ' -f1)
cat >"$otmp/assets.json" <<JSON
{"kernelPackage":"$pkg","kernelVersion":"$version","initHash":"$key","kernel":{"path":"$out/vmlinux","sha256":"$ksha"},"initrd":{"path":"$out/initrd.cpio.gz","sha256":"$isha"},"modules":"$(tr '\n' ' ' <"$kdir/modules/order" | sed 's/ $//')"}
JSON
mv -T "$otmp" "$out" 2>/dev/null || [ -f "$out/assets.json" ]
echo "$out"
