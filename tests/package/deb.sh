#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cpack -G DEB: three packages with their Depends, unpacked with dpkg -x into a
# scratch root, where the CLI runs and consumers build (tests/package/lib.sh).
source "$(dirname "$0")/lib.sh" "$@"
command -v dpkg-shlibdeps >/dev/null 2>&1 || fail "dpkg-shlibdeps missing: bash scripts/install-deps.sh --test"

cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$T/debs" >"$T/cpack.log" 2>&1 ||
    { cat "$T/cpack.log" >&2; fail "cpack -G DEB"; }
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$BUILD/CPackConfig.cmake")
[ -n "$version" ] || fail "no CPACK_PACKAGE_VERSION in CPackConfig.cmake"

# deb_field PACKAGE FIELD
deb_field() { dpkg-deb -f "$T/debs/$1_${version}_"*.deb "$2"; }
# deb_has PACKAGE PATH-PATTERN: the package holds a matching path.
deb_has() {
    dpkg-deb -c "$T/debs/$1_${version}_"*.deb | awk '{print $6}' | grep -qE -- "$2" ||
        fail "package $1 has no $2"
}
for p in libnatsbridge0 libnatsbridge-dev natsbridge; do
    ls "$T/debs/${p}_${version}_"*.deb >/dev/null 2>&1 || fail "no $p package: $(ls "$T/debs")"
done

# Depends on the Debian libraries (from dpkg-shlibdeps) and on each other.
lib_deps=$(deb_field libnatsbridge0 Depends)
for d in libc6 libnats3.4 libcjson1 libcurl4 libmicrohttpd12 libssl3 libuuid1; do
    [[ ", $lib_deps" == *", $d "* ]] || fail "libnatsbridge0 does not depend on $d: $lib_deps"
done
[[ $(deb_field natsbridge Depends) == *"libnatsbridge0 (= $version)"* ]] ||
    fail "natsbridge does not depend on libnatsbridge0 (= $version): $(deb_field natsbridge Depends)"
dev_deps=$(deb_field libnatsbridge-dev Depends)
for d in "libnatsbridge0 (= $version)" libnats-dev libcjson-dev libmicrohttpd-dev libssl-dev uuid-dev; do
    [[ $dev_deps == *"$d"* ]] || fail "libnatsbridge-dev does not depend on $d: $dev_deps"
done

deb_has libnatsbridge0 '/libnatsbridge\.so\.0\.'
deb_has libnatsbridge-dev '/include/natsbridge\.h$'
deb_has libnatsbridge-dev '/libnatsbridge\.a$'
deb_has libnatsbridge-dev '/libnatsbridge\.so$'
deb_has libnatsbridge-dev '/pkgconfig/natsbridge\.pc$'
deb_has libnatsbridge-dev '/cmake/natsbridge/natsbridgeConfig\.cmake$'
deb_has libnatsbridge-dev '/man3/libnatsbridge\.3'
deb_has natsbridge '^\./usr/bin/natsbridge$'
deb_has natsbridge '/man1/natsbridge\.1'
deb_has natsbridge '/bash-completion/completions/natsbridge$'
deb_has natsbridge 'natsbridge-fileserver\.service$'
# Nothing but the library in the runtime package, so that two versions' -dev
# and CLI never clash with another soname's library package.
dpkg-deb -c "$T/debs/libnatsbridge0_${version}_"*.deb | awk '{print $6}' | grep -vE '/$|libnatsbridge\.so\.0' &&
    fail "libnatsbridge0 holds more than the shared library"

for deb in "$T"/debs/*.deb; do
    dpkg -x "$deb" "$T/root" || fail "dpkg -x $deb"
done
check_install "$T/root" /usr
echo PASS
