#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# libvirt and libxml2 are loaded at run time, only by the runs that need
# them (src/guests/dynlib.hpp): -a must not load either, --domxml loads
# libxml2 only, -d loads both. The dynamic loader says what it loads
# (glibc's LD_DEBUG=files); the tool must not be linked against them.
set -uo pipefail

fixtures=${VIRT_DF_FIXTURES:?}
virt_df=${VIRT_DF:?}
features=" ${VIRT_DF_FEATURES:-} "
failures=0

# (grep reads all: with -q it could quit early, and the loader's SIGPIPE
# would fail the pipeline under pipefail.)
if ! LD_DEBUG=files /bin/true 2>&1 | grep 'file=' >/dev/null; then
    echo "skipped: the dynamic loader does not report with LD_DEBUG=files (not glibc?)"
    exit 77
fi

# The libraries one run loads, by soname, sorted; stdout and the tool's
# own messages are dropped.
loaded() {
    (cd "$fixtures" && LD_DEBUG=files "$virt_df" "$@" 2>&1 >/dev/null) |
        sed -n 's/.*file=\(lib[^ ]*\.so[^ ]*\) .*/\1/p' | sort -u
}

# check DESCRIPTION WANT_LIBVIRT WANT_LIBXML2 ARGS...
check() {
    local what=$1 want_virt=$2 want_xml=$3
    shift 3
    local libs virt=no xml=no
    libs=$(loaded "$@")
    grep -qx 'libvirt\.so\.0' <<<"$libs" && virt=yes
    grep -qx 'libxml2\.so\.2' <<<"$libs" && xml=yes
    if [[ $virt == "$want_virt" && $xml == "$want_xml" ]]; then
        echo "ok: $what (libvirt $virt, libxml2 $xml)"
    else
        echo "FAIL: $what: libvirt loaded: $virt (want $want_virt), libxml2 loaded: $xml (want $want_xml)"
        failures=$((failures + 1))
    fi
}

needed=$(readelf -d "$virt_df" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
if [[ -z $needed ]]; then
    echo "skipped: readelf cannot list the tool's libraries"
elif grep -E '^lib(virt|xml2)\.so' <<<"$needed"; then
    echo "FAIL: virt-df is linked against the libraries above"
    failures=$((failures + 1))
else
    echo "ok: virt-df is linked against neither libvirt nor libxml2"
fi

check "-a" no no -a ext4-1k.img
check "-a, --csv -h -i" no no --csv -h -i -a ext4-1k.img
check "-V" no no -V
if [[ $features == *" libvirt "* ]]; then
    check "--domxml" no yes --domxml libvirt/web.xml
    check "-d" yes yes -d web
    check "all guests" yes yes
fi

[[ $failures -eq 0 ]]
