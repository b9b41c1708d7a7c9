#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Read-only, provably: runs virt-df under strace on every fixture image and
# fails if any file is opened for writing (O_WRONLY, O_RDWR, O_CREAT,
# O_TRUNC), if anything is written to a descriptor other than stdout and
# stderr, or if any call that changes the filesystem is made at all.
set -uo pipefail

fixtures=${VIRT_DF_FIXTURES:?}
virt_df=${VIRT_DF:?}

if ! command -v strace >/dev/null; then
    echo "skipped: strace is not installed"
    exit 77
fi
# strace needs ptrace; some sandboxes forbid it.
if ! strace -f -o /dev/null true 2>/dev/null; then
    echo "skipped: strace cannot trace here (ptrace not permitted)"
    exit 77
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failures=0

# Every image file in the fixture directory, whatever it holds: images the
# tool cannot read are as interesting as those it can.
mapfile -t images < <(cd "$fixtures" && find . -maxdepth 1 -type f \
    \( -name '*.img' -o -name '*.qcow2' -o -name '*.hds' -o -name '*.iso' -o -name '*.raw' \) \
    -printf '%f\n' | sort)
# And any ploop directories.
mapfile -t -O "${#images[@]}" images < <(cd "$fixtures" && find . -maxdepth 1 -type d -name '*.hdd' -printf '%f\n' | sort)

for image in "${images[@]}"; do
    (cd "$fixtures" && strace -f -qq -y -o "$log" \
        -e trace=open,openat,openat2,creat,write,writev,pwrite64,pwritev,pwritev2,truncate,ftruncate,fallocate,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,rmdir,link,linkat,symlink,symlinkat,chmod,fchmod,fchmodat,chown,fchown,fchownat,utimensat,setxattr,fsetxattr,removexattr \
        "$virt_df" -a "$image" >/dev/null 2>&1)
    # Opens for writing, anywhere.
    bad_opens=$(grep -E '(open|openat|openat2|creat)\(' "$log" | grep -E 'O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|creat\(' || true)
    # Writes to anything but descriptors 1 and 2 (-y shows what each
    # descriptor is). The sanitizers' runtime probes whether memory is
    # readable by writing it into a pipe of its own: in the hostile gate's
    # sanitized build (VIRT_DF_SANITIZED=1) writes to pipes are its.
    bad_writes=$(grep -E '^[0-9]+ +(write|writev|pwrite64|pwritev2?)\(' "$log" | grep -vE '(write|writev)\((1|2)(<[^>]*>)?,' || true)
    if [[ ${VIRT_DF_SANITIZED:-0} == 1 ]]; then
        bad_writes=$(grep -vE '\([0-9]+<pipe:\[[0-9]+\]>,' <<< "$bad_writes" || true)
    fi
    # Any call that changes the filesystem (none were expected at all).
    bad_changes=$(grep -E '^[0-9]+ +(truncate|ftruncate|fallocate|rename|renameat2?|unlink|unlinkat|mkdir|mkdirat|rmdir|link|linkat|symlink|symlinkat|chmod|fchmod|fchmodat|chown|fchown|fchownat|utimensat|setxattr|fsetxattr|removexattr)\(' "$log" || true)
    if [[ -n $bad_opens$bad_writes$bad_changes ]]; then
        echo "FAIL: $image"
        printf '%s\n' "$bad_opens" "$bad_writes" "$bad_changes" | sed '/^$/d; s/^/    /'
        failures=$((failures + 1))
    else
        # The image itself must have been opened, read-only.
        if grep -qE "open(at)?\(.*\"[^\"]*${image//./\\.}[^\"]*\", O_RDONLY" "$log"; then
            echo "ok: $image"
        else
            echo "FAIL: $image was not seen being opened read-only"
            failures=$((failures + 1))
        fi
    fi
done
echo "$(( ${#images[@]} - failures )) of ${#images[@]} images read without a write"
[[ $failures -eq 0 ]]
