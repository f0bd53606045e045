#!/usr/bin/env bash
# Usage: packaging/install.sh [NAME=VALUE ...]
#
# Installs the built toolformerd (packaging/build.sh first) with its units, sysusers.d and
# tmpfiles.d snippets, default configuration, shell completions and man pages. Settings come
# from the environment or from NAME=VALUE arguments, as with make:
#
#   DESTDIR      staging root, prepended to every path below (default: none)
#   PREFIX       /usr
#   BINDIR       $PREFIX/bin
#   SYSCONFDIR   /etc (also for other prefixes: the units read $SYSCONFDIR/toolformer)
#   DATADIR      $PREFIX/share
#   MANDIR       $DATADIR/man
#   DOCDIR       $DATADIR/doc/toolformerd
#   SYSTEMDSYSTEMUNITDIR  pkg-config's systemdsystemunitdir when PREFIX is /usr, spelled
#                /usr/lib/systemd/system where /lib is /usr/lib (Debian 12's pkg-config says
#                /lib/systemd/system), else $PREFIX/lib/systemd/system
#                (/usr/local/lib/systemd/system is on systemd's search path)
#   SYSUSERSDIR  pkg-config's sysusersdir (/usr/lib/sysusers.d), else $PREFIX/lib/sysusers.d
#   TMPFILESDIR  pkg-config's tmpfilesdir (/usr/lib/tmpfiles.d), else $PREFIX/lib/tmpfiles.d
#   BASHCOMPLETIONDIR  pkg-config's bash-completion completionsdir, else
#                $DATADIR/bash-completion/completions
#   ZSHCOMPLETIONDIR   $DATADIR/zsh/vendor-completions on Debian with PREFIX=/usr, else
#                $DATADIR/zsh/site-functions
#   FISHCOMPLETIONDIR  $DATADIR/fish/vendor_completions.d
#   BUILD_DIR    where the built binaries are (default: .build/release)
#   STRIP        yes: strip the installed binaries (default: no)
#
# The units' ExecStart= is rewritten to $BINDIR/toolformerd (and --config to $SYSCONFDIR).
#
# Configuration files are never overwritten once changed, as dpkg treats conffiles:
# $SYSCONFDIR/toolformer/toolformerd.toml and tools.d/README are compared with the pristine copy
# the previous install left in $DATADIR/toolformerd/. Not changed since then, they are updated to
# the new default. Changed, they are kept; if the default changed too, it is put beside them as
# FILE.new (as dpkg's .dpkg-dist), with a message on stderr. With no pristine copy to compare
# with, a file that differs from the default counts as changed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "install: $*" >&2; exit 1; }

for arg in "$@"; do
    case $arg in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    [A-Z]*=*) export "${arg?}" ;;
    *) die "unknown argument '$arg' (settings are NAME=VALUE; see --help)" ;;
    esac
done

pkgconfig_var() {   # package variable: pkg-config's answer, or nothing
    if command -v pkg-config >/dev/null 2>&1; then
        pkg-config --variable="$2" "$1" 2>/dev/null || true
    fi
}

PREFIX=${PREFIX:-/usr}
PREFIX=${PREFIX%/}
DESTDIR=${DESTDIR:-}
BINDIR=${BINDIR:-$PREFIX/bin}
SYSCONFDIR=${SYSCONFDIR:-/etc}
DATADIR=${DATADIR:-$PREFIX/share}
MANDIR=${MANDIR:-$DATADIR/man}
DOCDIR=${DOCDIR:-$DATADIR/doc/toolformerd}
# Debian 12's pkg-config says /lib/systemd/system; where /lib is /usr/lib (merged /usr, as every
# Debian 12 is) the /usr spelling is used, as packages do from Debian 13 on, so that a later
# upgrade never moves the files between the two names (dpkg cannot tell they are the same).
usr_spelling() {
    if [[ $1 == /lib/* && /lib -ef /usr/lib ]]; then echo "/usr$1"; else echo "$1"; fi
}
if [[ $PREFIX == /usr ]]; then
    SYSTEMDSYSTEMUNITDIR=${SYSTEMDSYSTEMUNITDIR:-$(usr_spelling "$(pkgconfig_var systemd systemdsystemunitdir)")}
    SYSUSERSDIR=${SYSUSERSDIR:-$(pkgconfig_var systemd sysusersdir)}
    TMPFILESDIR=${TMPFILESDIR:-$(pkgconfig_var systemd tmpfilesdir)}
    BASHCOMPLETIONDIR=${BASHCOMPLETIONDIR:-$(pkgconfig_var bash-completion completionsdir)}
    [[ -e /etc/debian_version ]] && ZSHCOMPLETIONDIR=${ZSHCOMPLETIONDIR:-$DATADIR/zsh/vendor-completions}
fi
SYSTEMDSYSTEMUNITDIR=${SYSTEMDSYSTEMUNITDIR:-$PREFIX/lib/systemd/system}
SYSUSERSDIR=${SYSUSERSDIR:-$PREFIX/lib/sysusers.d}
TMPFILESDIR=${TMPFILESDIR:-$PREFIX/lib/tmpfiles.d}
BASHCOMPLETIONDIR=${BASHCOMPLETIONDIR:-$DATADIR/bash-completion/completions}
ZSHCOMPLETIONDIR=${ZSHCOMPLETIONDIR:-$DATADIR/zsh/site-functions}
FISHCOMPLETIONDIR=${FISHCOMPLETIONDIR:-$DATADIR/fish/vendor_completions.d}
BUILD_DIR=${BUILD_DIR:-$root/.build/release}
STRIP=${STRIP:-no}

for var in PREFIX BINDIR SYSCONFDIR DATADIR MANDIR DOCDIR SYSTEMDSYSTEMUNITDIR SYSUSERSDIR TMPFILESDIR \
    BASHCOMPLETIONDIR ZSHCOMPLETIONDIR FISHCOMPLETIONDIR; do
    [[ ${!var} == /* ]] || die "$var must be an absolute path, not '${!var}'"
done
for program in toolformerd toolformerctl; do
    [[ -x $BUILD_DIR/$program ]] || die "no $BUILD_DIR/$program: run packaging/build.sh first, or set BUILD_DIR"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022

dir() { install -d -m 0755 "$DESTDIR$1"; }
file() {   # mode source destination
    install -d -m 0755 "$(dirname "$DESTDIR$3")"
    install -m "$1" "$2" "$DESTDIR$3"
    echo "  $3"
}

echo "install: into ${DESTDIR:-/} with PREFIX=$PREFIX"

# ---- programs
for program in toolformerd toolformerctl; do
    file 0755 "$BUILD_DIR/$program" "$BINDIR/$program"
    if [[ $STRIP == yes ]]; then
        strip --remove-section=.comment --remove-section=.note "$DESTDIR$BINDIR/$program"
    fi
done

# ---- units, sysusers.d, tmpfiles.d
config="$SYSCONFDIR/toolformer/toolformerd.toml"
for unit in toolformerd.service toolformerd.socket; do
    sed -e "s|^ExecStart=/usr/bin/toolformerd\\b|ExecStart=$BINDIR/toolformerd|" \
        -e "/^ExecStart=/s| --config /etc/toolformer/toolformerd.toml\\b| --config $config|" \
        "$root/systemd/$unit" >"$work/$unit"
done
grep -q "^ExecStart=$BINDIR/toolformerd --config $config\$" "$work/toolformerd.service" \
    || die "systemd/toolformerd.service: ExecStart= is no longer '/usr/bin/toolformerd --config /etc/toolformer/toolformerd.toml ...'; update the rewrite here"
file 0644 "$work/toolformerd.service" "$SYSTEMDSYSTEMUNITDIR/toolformerd.service"
file 0644 "$work/toolformerd.socket" "$SYSTEMDSYSTEMUNITDIR/toolformerd.socket"
file 0644 "$root/systemd/toolformer.sysusers" "$SYSUSERSDIR/toolformer.conf"
file 0644 "$root/systemd/toolformer.tmpfiles" "$TMPFILESDIR/toolformer.conf"

# ---- configuration: never overwrite a changed file
config_file() {   # source destination pristine-copy
    local source=$1 target="$DESTDIR$2" pristine="$DESTDIR$3"
    if [[ ! -e $target ]]; then
        file 0644 "$source" "$2"
    elif cmp -s "$source" "$target"; then
        echo "  $2 (unchanged)"
    elif [[ -f $pristine ]] && cmp -s "$pristine" "$target"; then
        file 0644 "$source" "$2"   # as the previous install left it: take the new default
    elif [[ -f $pristine ]] && cmp -s "$pristine" "$source"; then
        echo "  $2 (changed here, and the default did not change: kept)"
    else
        file 0644 "$source" "$2.new"
        echo "install: kept $2, which was changed; the new default is $2.new" >&2
    fi
    file 0644 "$source" "$3"
}
dir "$SYSCONFDIR/toolformer"
dir "$SYSCONFDIR/toolformer/tools.d"
config_file "$root/etc/toolformer/toolformerd.toml" "$config" "$DATADIR/toolformerd/toolformerd.toml"
config_file "$root/etc/toolformer/tools.d/README" "$SYSCONFDIR/toolformer/tools.d/README" \
    "$DATADIR/toolformerd/tools.d/README"

# ---- completions and man pages, generated from the programs and docs/configuration.md by
# packaging/build.sh; generated here if that is missing or older than what it comes from
generated="$BUILD_DIR/generated"
for source in "$BUILD_DIR/toolformerd" "$BUILD_DIR/toolformerctl" "$root/docs/configuration.md" \
    "$root/packaging/generate.sh" "$root/packaging/man/md2man.pl"; do
    if [[ ! -e $generated/man/toolformerd.toml.5 || $source -nt $generated/man/toolformerd.toml.5 ]]; then
        generated="$work/generated"
        "$root/packaging/generate.sh" "$BUILD_DIR" "$generated"
        break
    fi
done
for program in toolformerd toolformerctl; do
    file 0644 "$generated/completion/bash/$program" "$BASHCOMPLETIONDIR/$program"
    file 0644 "$generated/completion/zsh/_$program" "$ZSHCOMPLETIONDIR/_$program"
    file 0644 "$generated/completion/fish/$program.fish" "$FISHCOMPLETIONDIR/$program.fish"
done
for page in toolformerd.8 toolformerctl.1 toolformerd.toml.5; do
    gzip -9n <"$generated/man/$page" >"$work/$page.gz"
    file 0644 "$work/$page.gz" "$MANDIR/man${page##*.}/$page.gz"
done

# ---- documentation
file 0644 "$root/README.md" "$DOCDIR/README.md"
file 0644 "$root/docs/configuration.md" "$DOCDIR/configuration.md"
file 0644 "$root/docs/protocol.md" "$DOCDIR/protocol.md"

if [[ -z $DESTDIR && $(id -u) -eq 0 ]]; then
    cat <<EOF
install: done. To create the group and runtime folder and start listening:
  systemd-sysusers toolformer.conf && systemd-tmpfiles --create toolformer.conf
  systemctl daemon-reload && systemctl enable --now toolformerd.socket
EOF
fi
