#!/bin/sh
# tests/package.sh BUILD - the Debian package (issue 21): `cpack -G DEB` on
# the existing build into a scratch folder, then, with dpkg-deb only (the
# package is never installed here): its file list (programs, library,
# every plugin the build made, headers, sequences, docs, the
# /etc/kgd-station config as a conffile; nothing of the build tree's own),
# and its Depends: the packages the issue names, and the package of every
# library any packaged program or plugin links - so a library added to the
# build must appear here without anyone editing a list. Run by ctest as
# test_package.
set -eu
BUILD=$(cd "$1" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/kgd-package.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$T" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$T/out") \
	>"$T/cpack.log" 2>&1 || fail "cpack: $(cat "$T/cpack.log")"
set -- "$T"/out/*.deb
[ $# -eq 1 ] && [ -f "$1" ] || fail "not one .deb: $*"
DEB=$1
case "$(basename "$DEB")" in kgd-station_*_*.deb) ;; *) fail "named $DEB" ;; esac

dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$T/files"
have() { grep -qx "$1" "$T/files" || fail "not in the package: $1"; }
have /usr/bin/station
have /usr/bin/kgd-vstation
have /usr/include/kgd/driver.h
have /usr/share/kgd-station/sequences/elsfp-module.yaml
have /usr/share/kgd-station/sequences/limits/elsfp-8-std.yaml
have /usr/share/kgd-station/station.yaml.example
have /usr/share/doc/kgd-station/README.md
have /etc/kgd-station/station.yaml
grep -q '^/usr/lib/.*libkgd_instruments\.so\.1$' "$T/files" ||
	fail "no libkgd_instruments.so.1"
for so in "$BUILD"/plugins/*.so; do
	have "/usr/lib/kgd-station/plugins/$(basename "$so")"
done
# The build tree's test and bench plugins, and nothing under /usr/etc or
# the build folder.
grep -E 'test-plugins|bench|abi-|null-pm|/usr/etc|_CPack|'"$BUILD" "$T/files" &&
	fail "files that do not belong in the package"
# Owned by root, nothing writable by group or others (plugin trust).
dpkg-deb -c "$DEB" | awk '$2 != "root/root" ||
	($1 !~ /^l/ && $1 ~ /^.....w|^........w/)' \
	>"$T/bad-perms"
[ -s "$T/bad-perms" ] && fail "ownership or mode: $(cat "$T/bad-perms")"

dpkg-deb -I "$DEB" conffiles >"$T/conffiles" 2>&1 || fail "no conffiles"
grep -qx /etc/kgd-station/station.yaml "$T/conffiles" || fail "conffiles: $(cat "$T/conffiles")"
[ "$(dpkg-deb -f "$DEB" Package)" = kgd-station ] || fail "Package"
ver=$(sed -n 's/^const char kgd_version_number\[\] = "\(.*\)";/\1/p' "$BUILD/kgd_version.c")
[ "$(dpkg-deb -f "$DEB" Version)" = "$ver" ] || fail "Version is not $ver"

deps=$(dpkg-deb -f "$DEB" Depends)
echo "Depends: $deps"
dep_names=$(echo "$deps" | tr ',' '\n' | sed 's/^ *//; s/[ (].*//')
# Every library any packaged ELF file needs, whichever issue added it,
# and the ones the issue names (libssl's libcrypto is what is linked).
dpkg-deb -x "$DEB" "$T/root"
find "$T/root" -type f -exec file {} + | sed -n 's/: *ELF.*//p' >"$T/elves"
[ -s "$T/elves" ] || fail "no ELF file in the package"
{
	xargs readelf -d <"$T/elves" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
	printf '%s\n' libusb-1.0.so.0 libserialport.so.0 libsqlite3.so.0 \
		libcsv.so.3 libyaml-0.so.2 libcrypto.so.3
} | sort -u >"$T/needed"
: >"$T/paths"
while read -r lib; do
	# Ours, in the package itself.
	[ -n "$(find "$T/root" -name "$lib")" ] && continue
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
	[ -n "$path" ] || fail "$lib not found on this system"
	readlink -f "$path" >>"$T/paths"
done <"$T/needed"
# One dpkg -S for all, by file name ("package[:arch]: path" per match):
# dpkg may know the file under /lib, the merged /usr/lib, or a symlink.
sed 's|.*/||' "$T/paths" | xargs dpkg -S >"$T/owners" 2>"$T/owners.err" ||
	fail "dpkg -S: $(cat "$T/owners.err")"
while read -r path; do
	pkg=
	while read -r owner file; do
		[ "$(readlink -f "$file")" = "$path" ] || continue
		pkg=${owner%%[:,]*}
		break
	done <"$T/owners"
	[ -n "$pkg" ] || fail "no package owns $path: $(cat "$T/owners")"
	echo "$dep_names" | grep -qx "$pkg" ||
		fail "Depends lacks $pkg (for $path): $deps"
done <"$T/paths"
echo "package $(basename "$DEB"): $(wc -l <"$T/files") entries, ok"
