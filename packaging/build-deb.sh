#!/usr/bin/env bash
# Usage: packaging/build-deb.sh [--no-build] [--output DIR]
#
# Builds toolformerd_VERSION-REVISION_ARCH.deb with Debian's own tools: packaging/build.sh (unless
# --no-build: then BUILD_DIR or .build/release must hold the binaries), packaging/install.sh into
# a staging tree (PREFIX=/usr), the stripped binaries' dependencies from dpkg-shlibdeps, the
# maintainer scripts in packaging/debian/, and dpkg-deb --build. Prints the .deb's path.
#
#   --output DIR     where the .deb goes (default: .build-deb/, ignored by git)
#   DEB_REVISION     the Debian revision (default: 1)
#   DEB_MAINTAINER   the Maintainer field (default: a placeholder address under .invalid)
#   SOURCE_DATE_EPOCH  timestamps (default: the last commit's), for a reproducible .deb
#
# Needs dpkg-dev (dpkg-shlibdeps), binutils (strip), and what install.sh needs; packaging/ci.sh
# installs them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "build-deb: $*" >&2; exit 1; }

build=yes
out="$root/.build-deb"
while (($#)); do
    case $1 in
    --no-build) build=no ;;
    --output) out=${2:?--output needs a folder}; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1'" ;;
    esac
    shift
done

version=$(sed -n 's/^ *public static let current = "\([^"]*\)".*/\1/p' "$root/Sources/ToolformerProtocol/Version.swift")
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "no usable ToolformerVersion.current in Sources/ToolformerProtocol/Version.swift (got '$version')"
revision=${DEB_REVISION:-1}
deb_version="$version-$revision"
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-toolformerd maintainers <maintainers@toolformerd.invalid>}
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
commit=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || true)

if [[ $build == yes ]]; then
    BUILD_DIR=$("$root/packaging/build.sh")
fi
BUILD_DIR=${BUILD_DIR:-$root/.build/release}
export BUILD_DIR

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/toolformerd"
umask 022

# ---- the files, as install.sh lays them out; units under /usr/lib whatever pkg-config says
DESTDIR="$stage" PREFIX=/usr SYSTEMDSYSTEMUNITDIR=/usr/lib/systemd/system \
    SYSUSERSDIR=/usr/lib/sysusers.d TMPFILESDIR=/usr/lib/tmpfiles.d \
    BASHCOMPLETIONDIR=/usr/share/bash-completion/completions \
    ZSHCOMPLETIONDIR=/usr/share/zsh/vendor-completions \
    FISHCOMPLETIONDIR=/usr/share/fish/vendor_completions.d \
    STRIP=yes "$root/packaging/install.sh" >"$work/install.log" \
    || { cat "$work/install.log" >&2; die "install.sh failed"; }
"$stage/usr/bin/toolformerd" --version | grep -qx "$version" \
    || die "toolformerd --version does not print $version"

# install.sh keeps pristine copies of the configuration in /usr/share/toolformerd/ for its own
# never-overwrite-a-changed-file bookkeeping; in the .deb, dpkg keeps that for its conffiles.
rm -rf "$stage/usr/share/toolformerd"

install -d -m 0755 "$stage/usr/share/lintian/overrides"
install -m 0644 "$root/packaging/debian/lintian-overrides" "$stage/usr/share/lintian/overrides/toolformerd"

doc="$stage/usr/share/doc/toolformerd"
install -m 0644 "$root/packaging/debian/copyright" "$doc/copyright"
# Documentation over 4 KiB is compressed, as dh_compress does.
find "$doc" -type f -size +4k ! -name copyright -exec gzip -9n {} +
{
    echo "toolformerd ($deb_version) unstable; urgency=medium"
    echo
    echo "  * Built from the toolformerd source tree${commit:+ at commit $commit}."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"

# ---- DEBIAN/
install -d -m 0755 "$stage/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$root/packaging/debian/$script" "$stage/DEBIAN/$script"
done
(cd "$stage" && find etc -type f | sort | sed 's|^|/|') >"$stage/DEBIAN/conffiles"
chmod 0644 "$stage/DEBIAN/conffiles"

# dpkg-shlibdeps wants to run beside a debian/control; it resolves the binaries' libraries to the
# packages that ship them, with the versions their symbols need.
mkdir -p "$work/shlibs/debian"
printf 'Source: toolformerd\n\nPackage: toolformerd\nArchitecture: any\n' >"$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O -e"$stage/usr/bin/toolformerd" -e"$stage/usr/bin/toolformerctl" 2>"$work/shlibdeps.err") \
    || { cat "$work/shlibdeps.err" >&2; die "dpkg-shlibdeps failed"; }
shlibs=${shlibs#shlibs:Depends=}
for needed in libc6 libjson-c5 libsystemd0 zlib1g; do
    [[ ", $shlibs" == *", $needed "* || ", $shlibs," == *", $needed,"* ]] \
        || die "dpkg-shlibdeps found no dependency on $needed: $shlibs"
done

installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@VERSION@|$deb_version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
    -e "s|@INSTALLED_SIZE@|$installed_size|" -e "s|@SHLIBS_DEPENDS@|$shlibs|" \
    "$root/packaging/debian/control.in" >"$stage/DEBIAN/control"

(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

# Every file's time is the commit's, for a reproducible .deb.
find "$stage" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$out"
deb="$out/toolformerd_${deb_version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >&2
echo "$deb"
