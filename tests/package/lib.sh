# SPDX-License-Identifier: MIT
# lib.sh - sourced by the package tests: `source lib.sh BUILD_DIR SOURCE_DIR CC [CFLAGS]`.
# Gives a temp dir ($T, removed on exit), fail, and check_install, which runs an
# installed natsbridge the way a user would.
set -u
BUILD=${1:?usage: $0 BUILD_DIR SOURCE_DIR CC [CFLAGS]}
SRC=${2:?source dir}
CC=${3:?C compiler}
# The consumer of an ASan build must be built with the same sanitizers.
EXTRA_CFLAGS=${4:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/nbpkg-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# has FILE TEXT: FILE holds TEXT, or the test fails showing FILE.
has() {
    grep -qF -- "$2" "$1" || { echo "---- $1" >&2; head -c 3000 "$1" >&2; fail "$(basename "$1") lacks '$2'"; }
}

# resolves_into EXE DIR: the dynamic linker finds libnatsbridge.so.0 for EXE under DIR.
resolves_into() {
    local lib
    lib=$(ldd "$1" | awk '/libnatsbridge\.so/ {print $3}')
    [ -n "$lib" ] || fail "ldd $1 finds no libnatsbridge.so.0: $(ldd "$1" | grep natsbridge)"
    case $(readlink -f "$lib") in
    "$(readlink -f "$2")"/*) ;;
    *) fail "$1 loads $lib, not the one under $2" ;;
    esac
}

# check_install ROOT PREFIX: natsbridge installed under ROOT (a scratch root as
# `dpkg -x` or DESTDIR make it; "" for a plain --prefix install) with PREFIX as
# its prefix. The CLI runs without LD_LIBRARY_PATH; a consumer builds and runs
# with pkg-config and with find_package(natsbridge); the man pages and the
# completion are where man and bash-completion look.
check_install() {
    local root=$1 prefix=$2 top="$1$2" w="$T/check$RANDOM"
    mkdir -p "$w"
    local nb="$top/bin/natsbridge"
    [ -x "$nb" ] || fail "no CLI at $nb"
    env -u LD_LIBRARY_PATH "$nb" --version >"$w/version" 2>&1 || fail "$nb --version: $(cat "$w/version")"
    grep -qE '^natsbridge [0-9]+\.[0-9]+\.[0-9]+ \(libnatsbridge [0-9.]+\)$' "$w/version" ||
        fail "bad --version: $(cat "$w/version")"
    env -u LD_LIBRARY_PATH "$nb" --help >"$w/help" 2>&1 || fail "$nb --help failed"
    has "$w/help" "Usage: natsbridge COMMAND"
    env -u LD_LIBRARY_PATH "$nb" send --help >"$w/send-help" 2>&1 || fail "$nb send --help failed"
    has "$w/send-help" "Usage: natsbridge send"
    # RPATH: the library next to the CLI, not the build tree's.
    LD_LIBRARY_PATH= resolves_into "$nb" "$top"

    # pkg-config: the .pc names the prefix it was installed for; with a scratch
    # root, PKG_CONFIG_SYSROOT_DIR puts the root in front, as for any sysroot.
    local pc
    pc=$(find "$top" -name natsbridge.pc -path '*/pkgconfig/*' | head -1)
    [ -n "$pc" ] || fail "no natsbridge.pc under $top"
    has "$pc" "prefix=$prefix"
    local pcdir libdir
    pcdir=$(dirname "$pc")
    libdir=$(dirname "$pcdir")
    local -a pcenv=(env "PKG_CONFIG_PATH=$pcdir")
    [ -n "$root" ] && pcenv+=("PKG_CONFIG_SYSROOT_DIR=$root")
    "${pcenv[@]}" pkg-config --cflags natsbridge >"$w/cflags" || fail "pkg-config --cflags natsbridge"
    "${pcenv[@]}" pkg-config --libs natsbridge >"$w/libs" || fail "pkg-config --libs natsbridge"
    has "$w/cflags" "-I$top/include"
    has "$w/libs" "-L$libdir"
    has "$w/libs" "-lnatsbridge"
    # shellcheck disable=SC2046
    "$CC" $EXTRA_CFLAGS -o "$w/consumer-pc" "$SRC/tests/package/consumer/consumer.c" \
        $(cat "$w/cflags" "$w/libs") 2>"$w/cc.err" || { cat "$w/cc.err" >&2; fail "consumer does not build with pkg-config"; }
    LD_LIBRARY_PATH="$libdir" resolves_into "$w/consumer-pc" "$top"
    LD_LIBRARY_PATH="$libdir" "$w/consumer-pc" >"$w/pc.out" 2>&1 || fail "consumer (pkg-config) failed: $(cat "$w/pc.out")"
    has "$w/pc.out" "greeting=hello from an installed natsbridge"

    # find_package(natsbridge) from the installed CMake package.
    cmake -S "$SRC/tests/package/consumer" -B "$w/cmake" -DCMAKE_PREFIX_PATH="$top" \
        -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$EXTRA_CFLAGS" -DCMAKE_BUILD_TYPE=Debug \
        >"$w/cmake.log" 2>&1 || { cat "$w/cmake.log" >&2; fail "find_package(natsbridge) failed"; }
    has "$w/cmake/CMakeCache.txt" "natsbridge_DIR:PATH=$libdir/cmake/natsbridge"
    cmake --build "$w/cmake" >"$w/build.log" 2>&1 || { cat "$w/build.log" >&2; fail "CMake consumer does not build"; }
    LD_LIBRARY_PATH="$libdir" "$w/cmake/consumer" >"$w/cm.out" 2>&1 || fail "consumer (CMake) failed: $(cat "$w/cm.out")"
    has "$w/cm.out" "greeting=hello from an installed natsbridge"

    # man natsbridge / man 3 libnatsbridge, and the completion script.
    [ -f "$top/share/man/man1/natsbridge.1" ] || fail "no natsbridge.1 under $top/share/man"
    [ -f "$top/share/man/man3/libnatsbridge.3" ] || fail "no libnatsbridge.3 under $top/share/man"
    if command -v man >/dev/null 2>&1; then
        MANPATH="$top/share/man" MANPAGER=cat MANWIDTH=80 man natsbridge >"$w/man1" 2>/dev/null ||
            fail "man natsbridge (MANPATH=$top/share/man) failed"
        has "$w/man1" "NATSBRIDGE(1)"
        MANPATH="$top/share/man" MANPAGER=cat MANWIDTH=80 man 3 libnatsbridge >"$w/man3" 2>/dev/null ||
            fail "man 3 libnatsbridge failed"
        has "$w/man3" "LIBNATSBRIDGE(3)"
    fi
    local comp="$top/share/bash-completion/completions/natsbridge"
    [ -f "$comp" ] || fail "no bash completion at $comp"
    bash -n "$comp" || fail "$comp is not valid bash"
    echo "ok: $top (CLI, pkg-config, find_package, man, completion)"
}
