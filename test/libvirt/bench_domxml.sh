#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# How long virt-df takes over many guests: N domain XML files, each guest
# one raw ext4 disk (all the same image file), read with --domxml at
# -P 1 and at -P JOBS, timed by hyperfine. Not part of the test suite.
# Usage: bench_domxml.sh VIRT_DF IMAGE [N [JOBS]]
set -euo pipefail
virt_df=$(realpath "$1")
image=$(realpath "$2")
count=${3:-200}
jobs=${4:-2}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
args=()
for i in $(seq -w 1 "$count"); do
    cat > "$dir/guest$i.xml" <<XML
<domain type='kvm'>
  <name>guest$i</name>
  <uuid>00000000-0000-4000-8000-000000000$i</uuid>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$image'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML
    args+=(--domxml "$dir/guest$i.xml")
done
printf '%s\n' "${args[@]}" > "$dir/args"

# Same output whatever the parallelism.
"$virt_df" -P 1 "${args[@]}" > "$dir/out1"
"$virt_df" -P "$jobs" "${args[@]}" > "$dir/outN"
cmp "$dir/out1" "$dir/outN"
echo "$(($(wc -l < "$dir/out1") - 1)) rows from $count guests, identical at -P 1 and -P $jobs"

hyperfine --warmup 3 --shell=none --command-name "P=1" --command-name "P=$jobs" \
    "$virt_df -P 1 $(tr '\n' ' ' < "$dir/args")" \
    "$virt_df -P $jobs $(tr '\n' ' ' < "$dir/args")"
