#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs what building and testing virt-df needs, from Debian 12 packages.
# Run as root (or it uses sudo).
set -e
packages="g++ meson ninja-build pkg-config xz-utils
  libboost-program-options-dev libboost-dev libspdlog-dev libfmt-dev catch2
  zlib1g-dev libzstd-dev libseccomp-dev libvirt-dev libxml2-dev
  e2fsprogs xfsprogs btrfs-progs dosfstools mtools exfatprogs ntfs-3g fdisk gdisk util-linux mount python3
  qemu-utils f2fs-tools xorriso makefs cryptsetup-bin strace
  clang libclang-rt-14-dev"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
# Skip the package index refresh when everything is already installed.
if dpkg-query -W -f='${Status}\n' $packages 2>/dev/null | grep -qv 'install ok installed' ||
   [ "$(dpkg-query -W -f='${Status}\n' $packages 2>/dev/null | wc -l)" -lt "$(echo $packages | wc -w)" ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi
