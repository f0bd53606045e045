#!/usr/bin/env bash
# Usage: packaging/ci.sh        (as root, on a Debian 12 machine with Swift at /opt/swift or on PATH)
#
# CI for the install step and the .deb:
#   1. installs the Debian packages it needs (apt-get, only when missing)
#   2. builds the release binaries (packaging/build.sh) and checks that they need nothing from the
#      Swift toolchain (ldd), have no RUNPATH, bind now, and print the project's version
#   3. installs into a DESTDIR, twice over, and checks the layout: every expected file, modes,
#      ExecStart= rewritten (also for PREFIX=/usr/local), man pages without groff warnings, the
#      bash completions parse, and a changed configuration never overwritten
#   4. builds the .deb, lists it (dpkg-deb -c), checks its control fields, runs lintian (errors fail,
#      warnings and info are printed)
#   5. installs it on this machine (dpkg -i): the group, the enabled socket, `toolformerd --version`,
#      `toolformerctl --help`, `systemd-analyze verify` of the installed units, the installed daemon
#      answering a ping on the installed configuration; reinstalls it over a changed conffile
#   6. removes and purges it (dpkg -r, dpkg -P) and checks that nothing of it is left but the group
#
# Idempotent, and it cleans up even when a check fails: the package is purged, its temporary
# files removed, and whatever of ours it found on the machine beforehand (a manual install from
# the README, say) is moved aside first and put back at the end.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"
export LC_ALL=C.UTF-8

started=$SECONDS
step() { echo "== packaging: $* ($((SECONDS - started)) s)"; }
fail() { echo "packaging/ci.sh: FAIL: $*" >&2; exit 1; }
check() { # description command...: runs the command, fails with the description if it fails
    local what=$1
    shift
    "$@" || fail "$what"
}

[[ $(id -u) -eq 0 ]] || fail "run as root: it installs packages and the .deb on this machine"

work=$(mktemp -d /tmp/toolformer-packaging.XXXXXX)
backup="$work/backup"
moved_aside=()
daemon_pid=

# Paths the package owns or its scripts create, outside the files in the .deb itself.
ours=(
    /etc/toolformer
    /etc/systemd/system/toolformerd.service
    /etc/systemd/system/toolformerd.socket
    /etc/systemd/system/sockets.target.wants/toolformerd.socket
    /var/lib/toolformer /var/lib/private/toolformer
    /var/cache/toolformer /var/cache/private/toolformer
    /run/toolformer
)

package_state() { dpkg-query -W -f='${db:Status-Status}' toolformerd 2>/dev/null || true; }

cleanup() {
    local status=$?
    trap - EXIT
    set +e
    [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    if [[ -n $(package_state) && $(package_state) != not-installed ]]; then
        echo "== packaging: cleanup: purging toolformerd"
        dpkg -P toolformerd >/dev/null 2>&1 || echo "packaging/ci.sh: cleanup: dpkg -P toolformerd failed" >&2
    fi
    local path
    for path in "${moved_aside[@]}"; do
        rm -rf "$path"
        mkdir -p "$(dirname "$path")"
        mv "$backup$path" "$path" && echo "== packaging: cleanup: put back $path"
    done
    rm -rf "$work"
    if ((status == 0)); then
        echo "== packaging: all checks passed in $((SECONDS - started)) s"
    else
        echo "== packaging: FAILED (exit $status) after $((SECONDS - started)) s" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
step "1. Debian packages"
packages=(
    pkg-config libsystemd-dev libjson-c-dev zlib1g-dev   # the build (as .ci/install-deps)
    libcurl4-openssl-dev  # FoundationNetworking (the MCP SDK's) links libcurl
    dpkg-dev        # dpkg-shlibdeps, dpkg-deb
    binutils        # strip, readelf
    lintian
    man-db          # man --warnings for the generated pages
    systemd         # systemd-analyze, systemd-sysusers, systemd-tmpfiles
    adduser         # the fallback for systemd-sysusers in postinst
    init-system-helpers   # deb-systemd-helper, deb-systemd-invoke
    gzip xz-utils
)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || fail "no swift on PATH (expected /opt/swift/usr/bin)"

version=$(sed -n 's/^ *public static let current = "\([^"]*\)".*/\1/p' Sources/ToolformerProtocol/Version.swift)
[[ -n $version ]] || fail "no ToolformerVersion.current in Sources/ToolformerProtocol/Version.swift"
echo "version: $version"

# A package left by an interrupted run goes first (anything else of ours on the machine is moved
# aside in step 5, so that the checks see only what the package does).
if [[ -n $(package_state) && $(package_state) != not-installed ]]; then
    echo "purging a toolformerd package left on this machine"
    dpkg -P toolformerd >/dev/null
fi
# ---------------------------------------------------------------------------------------------
step "2. release build"
build_log="$work/build.log"
if ! bin=$(packaging/build.sh 2>"$build_log"); then
    cat "$build_log" >&2
    fail "packaging/build.sh failed"
fi
tail -n 2 "$build_log"
for program in toolformerd toolformerctl; do
    libraries=$(env -u LD_LIBRARY_PATH ldd "$bin/$program")
    echo "ldd $program:"
    sed 's/^/    /' <<<"$libraries"
    grep -q "not found" <<<"$libraries" && fail "$program: a library is not found"
    grep -q "/opt/swift\|libswift\|libFoundation\|libdispatch" <<<"$libraries" \
        && fail "$program needs the Swift runtime at run time; it must be linked statically"
    # (Output in a variable, not a pipe into grep -q: with pipefail an early grep exit could hide a match.)
    dynamic=$(readelf -dW "$bin/$program")
    grep -q "RPATH\|RUNPATH" <<<"$dynamic" && fail "$program has an RPATH/RUNPATH"
    grep -q "BIND_NOW" <<<"$dynamic" || fail "$program is not linked with -z now"
done
[[ $("$bin/toolformerd" --version) == "$version" ]] || fail "toolformerd --version is not $version"
[[ $("$bin/toolformerctl" --version) == "$version" ]] || fail "toolformerctl --version is not $version"

# ---------------------------------------------------------------------------------------------
step "3. install into a DESTDIR"
dest="$work/destdir"
install_log="$work/install.log"
run_install() { # NAME=VALUE...
    BUILD_DIR="$bin" packaging/install.sh "$@" >"$install_log" 2>&1 || { cat "$install_log" >&2; fail "install.sh $* failed"; }
}
run_install DESTDIR="$dest" PREFIX=/usr

expected=(
    "755 /usr/bin/toolformerd"
    "755 /usr/bin/toolformerctl"
    "644 /usr/lib/systemd/system/toolformerd.service"
    "644 /usr/lib/systemd/system/toolformerd.socket"
    "644 /usr/lib/sysusers.d/toolformer.conf"
    "644 /usr/lib/tmpfiles.d/toolformer.conf"
    "644 /etc/toolformer/toolformerd.toml"
    "755 /etc/toolformer/tools.d"
    "644 /etc/toolformer/tools.d/README"
    "644 /usr/share/toolformerd/toolformerd.toml"
    "644 /usr/share/bash-completion/completions/toolformerd"
    "644 /usr/share/bash-completion/completions/toolformerctl"
    "644 /usr/share/zsh/vendor-completions/_toolformerd"
    "644 /usr/share/zsh/vendor-completions/_toolformerctl"
    "644 /usr/share/fish/vendor_completions.d/toolformerd.fish"
    "644 /usr/share/fish/vendor_completions.d/toolformerctl.fish"
    "644 /usr/share/man/man8/toolformerd.8.gz"
    "644 /usr/share/man/man1/toolformerctl.1.gz"
    "644 /usr/share/man/man5/toolformerd.toml.5.gz"
    "644 /usr/share/doc/toolformerd/configuration.md"
)
check_layout() { # root expected...
    local top=$1 entry mode path actual
    shift
    for entry in "$@"; do
        mode=${entry%% *}
        path=${entry#* }
        [[ -e $top$path ]] || fail "install: $path is missing"
        actual=$(stat -c %a "$top$path")
        [[ $actual == "$mode" ]] || fail "install: $path has mode $actual, not $mode"
    done
}
check_layout "$dest" "${expected[@]}"
# Every folder 0755, nothing writable by group or others, nothing but files and folders.
bad=$(find "$dest" \( -type d ! -perm 0755 \) -o \( -type f -perm /022 \) -o \( ! -type f ! -type d \))
[[ -z $bad ]] || fail "install: wrong modes or types: $bad"
grep -qx "ExecStart=/usr/bin/toolformerd --config /etc/toolformer/toolformerd.toml" \
    "$dest/usr/lib/systemd/system/toolformerd.service" || fail "install: ExecStart= is not /usr/bin/toolformerd"
cmp -s etc/toolformer/toolformerd.toml "$dest/etc/toolformer/toolformerd.toml" || fail "install: the configuration differs from etc/"

echo "man pages:"
for page in man8/toolformerd.8 man1/toolformerctl.1 man5/toolformerd.toml.5; do
    warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$dest/usr/share/man/$page.gz" 2>&1 >"$work/page.txt") \
        || fail "man cannot format $page"
    [[ -z $warnings ]] || fail "$page: groff warnings: $warnings"
    [[ $(wc -l <"$work/page.txt") -gt 10 ]] || fail "$page is nearly empty"
    echo "    $page: $(wc -l <"$work/page.txt") lines"
done
grep -q -- "--config" < <(MANWIDTH=80 man -l "$dest/usr/share/man/man8/toolformerd.8.gz") \
    || fail "toolformerd(8) does not document --config"
grep -q "max_connections" < <(MANWIDTH=80 man -l "$dest/usr/share/man/man5/toolformerd.toml.5.gz") \
    || fail "toolformerd.toml(5) does not document server.max_connections"
for program in toolformerd toolformerctl; do
    bash -n "$dest/usr/share/bash-completion/completions/$program" || fail "the bash completion of $program does not parse"
done

echo "configuration never overwritten:"
config="$dest/etc/toolformer/toolformerd.toml"
pristine="$dest/usr/share/toolformerd/toolformerd.toml"
# (a) changed here, same default: kept, nothing beside it
echo "# changed by the admin" >>"$config"
cp "$config" "$work/changed.toml"
run_install DESTDIR="$dest" PREFIX=/usr
cmp -s "$config" "$work/changed.toml" || fail "install: a changed configuration was overwritten"
[[ ! -e $config.new ]] || fail "install: $config.new written although the default did not change"
echo "    changed here, same default: kept"
# (b) changed here and a new default: kept, the new default beside it as .new
echo "# the previous release's default" >>"$pristine"
run_install DESTDIR="$dest" PREFIX=/usr
cmp -s "$config" "$work/changed.toml" || fail "install: a changed configuration was overwritten by a new default"
cmp -s "$config.new" etc/toolformer/toolformerd.toml || fail "install: the new default is not in $config.new"
grep -q "kept /etc/toolformer/toolformerd.toml" "$install_log" || fail "install: no message about $config.new"
echo "    changed here, new default: kept, new default in toolformerd.toml.new"
# (c) not changed here and a new default: updated
rm "$config.new"
echo "# the previous release's default" >>"$pristine"
cp "$pristine" "$config"
run_install DESTDIR="$dest" PREFIX=/usr
cmp -s "$config" etc/toolformer/toolformerd.toml || fail "install: an unchanged configuration was not updated"
[[ ! -e $config.new ]] || fail "install: $config.new written for an unchanged configuration"
echo "    not changed here, new default: updated"
# And a second install over the first leaves the same tree.
check_layout "$dest" "${expected[@]}"

dest_local="$work/destdir-local"
run_install DESTDIR="$dest_local" PREFIX=/usr/local
check_layout "$dest_local" \
    "755 /usr/local/bin/toolformerd" "644 /usr/local/lib/systemd/system/toolformerd.service" \
    "644 /usr/local/lib/sysusers.d/toolformer.conf" "644 /usr/local/share/man/man8/toolformerd.8.gz" \
    "644 /usr/local/share/zsh/site-functions/_toolformerctl" "644 /etc/toolformer/toolformerd.toml"
grep -qx "ExecStart=/usr/local/bin/toolformerd --config /etc/toolformer/toolformerd.toml" \
    "$dest_local/usr/local/lib/systemd/system/toolformerd.service" || fail "install: ExecStart= not rewritten for PREFIX=/usr/local"
[[ ! -e $dest_local/usr/bin ]] || fail "install: PREFIX=/usr/local wrote into /usr/bin"
echo "PREFIX=/usr/local: ExecStart=/usr/local/bin/toolformerd"

# ---------------------------------------------------------------------------------------------
step "4. the .deb"
deb=$(BUILD_DIR="$bin" packaging/build-deb.sh --no-build --output "$work/deb" 2>"$work/deb.log") \
    || { cat "$work/deb.log" >&2; fail "build-deb.sh failed"; }
echo "$deb ($(du -h "$deb" | cut -f1))"
dpkg-deb -I "$deb"
dpkg-deb -c "$deb" | tee "$work/contents"
[[ $(basename "$deb") == "toolformerd_${version}-1_$(dpkg --print-architecture).deb" ]] || fail "unexpected name $deb"
[[ $(dpkg-deb -f "$deb" Package) == toolformerd ]] || fail "Package: is not toolformerd"
depends=$(dpkg-deb -f "$deb" Depends)
for needed in libc6 libjson-c5 libsystemd0 zlib1g; do
    grep -qE "(^|, )$needed( |,|$)" <<<"$depends" || fail "Depends: lacks $needed: $depends"
done
grep -q "swift" <<<"$depends" && fail "Depends: names a Swift package: $depends"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$work/conffiles"
grep -qx /etc/toolformer/toolformerd.toml "$work/conffiles" || fail "/etc/toolformer/toolformerd.toml is not a conffile"
owners=$(awk '{print $2}' "$work/contents" | sort -u)
[[ $owners == root/root ]] || fail "files in the .deb not owned by root/root: $owners"
paths=$(awk '{print $6}' "$work/contents")
for path in ./usr/bin/toolformerd ./usr/lib/systemd/system/toolformerd.service ./usr/lib/sysusers.d/toolformer.conf \
    ./usr/share/man/man5/toolformerd.toml.5.gz ./usr/share/doc/toolformerd/copyright ./etc/toolformer/tools.d/; do
    grep -qx "$path" <<<"$paths" || fail "the .deb lacks $path"
done

step "4b. lintian"
# Tags that packaging/debian/lintian-overrides overrides are not shown; packaging/README.md
# explains them and the info tags that remain.
lintian_status=0
lintian --display-info --fail-on error "$deb" >"$work/lintian.log" 2>&1 || lintian_status=$?
grep -v "running with root privileges is not recommended" "$work/lintian.log" || true
((lintian_status == 0)) || fail "lintian reported errors (exit $lintian_status)"
grep -q "^E:" "$work/lintian.log" && fail "lintian reported errors"
echo "lintian: no errors ($(grep -c "^W:" "$work/lintian.log" || true) warnings, $(grep -c "^I:" "$work/lintian.log" || true) info)"

# ---------------------------------------------------------------------------------------------
step "5. dpkg -i on this machine"
mapfile -t deb_files < <(awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6}' "$work/contents")
for path in "${ours[@]}" "${deb_files[@]}"; do
    if [[ -e $path || -L $path ]]; then
        mkdir -p "$(dirname "$backup$path")"
        mv "$path" "$backup$path"
        moved_aside+=("$path")
        echo "moved aside until the end: $path"
    fi
done
dpkg -i "$deb"
[[ $(package_state) == installed ]] || fail "toolformerd is not installed after dpkg -i"
getent group toolformer >/dev/null || fail "postinst did not create the group toolformer"
[[ -L /etc/systemd/system/sockets.target.wants/toolformerd.socket ]] || fail "postinst did not enable toolformerd.socket"
installed_version=$(env -i PATH=/usr/bin:/bin toolformerd --version) || fail "the installed toolformerd --version failed"
[[ $installed_version == "$version" ]] || fail "the installed toolformerd --version printed '$installed_version'"
echo "toolformerd --version: $installed_version"
env -i PATH=/usr/bin:/bin toolformerctl --help >"$work/help.txt" || fail "the installed toolformerctl --help failed"
head -n 1 "$work/help.txt"
libraries=$(env -u LD_LIBRARY_PATH ldd /usr/bin/toolformerd /usr/bin/toolformerctl)
grep -q "/opt/swift\|not found" <<<"$libraries" && fail "the installed binaries need libraries from outside Debian"

echo "systemd-analyze verify:"
verify_status=0
verify_output=$(systemd-analyze verify /usr/lib/systemd/system/toolformerd.service \
    /usr/lib/systemd/system/toolformerd.socket 2>&1) || verify_status=$?
[[ -n $verify_output ]] && sed 's/^/    /' <<<"$verify_output"
# verify also reports problems in unrelated units it loads along the way; only ours count.
grep -qi toolformer <<<"$verify_output" && fail "systemd-analyze verify reported problems in the installed units"
((verify_status == 0)) || echo "    (exit $verify_status, about other units only)"

echo "the installed daemon on the installed configuration:"
socket="$work/toolformerd.sock"
env -i PATH=/usr/bin:/bin /usr/bin/toolformerd --config /etc/toolformer/toolformerd.toml --socket "$socket" \
    --log stderr >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [[ -S $socket ]] && break; sleep 0.1; done
env -i PATH=/usr/bin:/bin toolformerctl ping --socket "$socket" --timeout 10 \
    || { cat "$work/daemon.log" >&2; fail "the installed daemon did not answer a ping"; }
kill -TERM "$daemon_pid"
wait "$daemon_pid" || { cat "$work/daemon.log" >&2; fail "the installed daemon did not exit 0 on SIGTERM"; }
daemon_pid=

echo "reinstall over a changed conffile:"
echo "# changed by the admin" >>/etc/toolformer/toolformerd.toml
cp /etc/toolformer/toolformerd.toml "$work/changed.toml"
dpkg -i "$deb" >/dev/null
cmp -s /etc/toolformer/toolformerd.toml "$work/changed.toml" || fail "dpkg -i overwrote a changed conffile"
echo "    kept"

# ---------------------------------------------------------------------------------------------
step "6. dpkg -r, dpkg -P"
# What the service would have made: state and cache folders, the socket.
mkdir -p /var/lib/private/toolformer /var/cache/private/toolformer /run/toolformer
ln -sfn private/toolformer /var/lib/toolformer
ln -sfn private/toolformer /var/cache/toolformer
: >/run/toolformer/toolformerd.sock
dpkg -r toolformerd
[[ $(package_state) == config-files ]] || fail "toolformerd is not in state config-files after dpkg -r"
[[ ! -e /usr/bin/toolformerd ]] || fail "dpkg -r left /usr/bin/toolformerd"
[[ -e /etc/toolformer/toolformerd.toml ]] || fail "dpkg -r removed the conffile"
dpkg -P toolformerd
[[ $(package_state) == not-installed || -z $(package_state) ]] || fail "toolformerd is still known to dpkg after dpkg -P"
left=()
for path in "${deb_files[@]}" "${ours[@]}"; do
    [[ -e $path || -L $path ]] && left+=("$path")
done
while IFS= read -r path; do left+=("$path"); done < <(find /etc/systemd /var/lib/systemd -name '*toolformerd*' 2>/dev/null)
((${#left[@]} == 0)) || fail "left after dpkg -P: ${left[*]}"
getent group toolformer >/dev/null || fail "the group toolformer was removed (it is meant to stay)"
echo "nothing left but the group toolformer"
