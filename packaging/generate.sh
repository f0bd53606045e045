#!/usr/bin/env bash
# Usage: packaging/generate.sh BIN_DIR OUT_DIR
#
# Writes what is generated rather than kept in the tree, so it cannot drift from the code:
#   OUT_DIR/man/toolformerd.8, toolformerctl.1   from the programs' own help, by swift-argument-
#                                                parser's generate-manual tool
#   OUT_DIR/man/toolformerd.toml.5               from docs/configuration.md, by man/md2man.pl
#   OUT_DIR/completion/bash/toolformerd, toolformerctl
#   OUT_DIR/completion/zsh/_toolformerd, _toolformerctl
#   OUT_DIR/completion/fish/toolformerd.fish, toolformerctl.fish
#                                                from --generate-completion-script
# BIN_DIR holds the built toolformerd and toolformerctl (they are run, so they must run here).
#
# generate-manual is the tool behind the package's `generate-manual` SwiftPM plugin. The plugin
# itself builds every product of the package in its own configuration (a non-static release
# build, benchmark included) and gives every program the same section, so the tool is run
# directly instead: `swift package generate-manual --help` builds it (offline, from the
# checked-out swift-argument-parser) and GENERATE_MANUAL may name an already built one.
#
# Dates in the pages come from SOURCE_DATE_EPOCH, else the last commit, else today.
set -euo pipefail

bin=${1:?usage: $0 BIN_DIR OUT_DIR}
out=${2:?usage: $0 BIN_DIR OUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"

die() { echo "generate: $*" >&2; exit 1; }
for program in toolformerd toolformerctl; do
    [[ -x $bin/$program ]] || die "$bin/$program is not an executable; build first (packaging/build.sh)"
done

version=$(sed -n 's/^ *public static let current = "\([^"]*\)".*/\1/p' "$root/Sources/ToolformerProtocol/Version.swift")
[[ -n $version ]] || die "no ToolformerVersion.current in Sources/ToolformerProtocol/Version.swift"

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)
fi
day=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)

mkdir -p "$out/man" "$out/completion/bash" "$out/completion/zsh" "$out/completion/fish"

# ---- completions
for program in toolformerd toolformerctl; do
    # A bash completion is sourced, never run: no #! line.
    "$bin/$program" --generate-completion-script bash | sed '1{/^#!/d}' >"$out/completion/bash/$program"
    "$bin/$program" --generate-completion-script zsh >"$out/completion/zsh/_$program"
    "$bin/$program" --generate-completion-script fish >"$out/completion/fish/$program.fish"
done

# ---- toolformerd(8), toolformerctl(1)
find_generate_manual() {
    local debug_bin candidate
    debug_bin=$(cd "$root" && swift build --show-bin-path)
    # The plugin's tool is built as generate-manual-tool (SwiftPM 6.3) or generate-manual (other
    # ways of building it); the newer one is the one just built.
    local found=
    for candidate in "$debug_bin/generate-manual-tool" "$debug_bin/generate-manual"; do
        [[ -f $candidate && -x $candidate ]] || continue
        [[ -z $found || $candidate -nt $found ]] && found=$candidate
    done
    [[ -n $found ]] && echo "$found"
}
tool=${GENERATE_MANUAL:-}
if [[ -z $tool ]]; then
    # Builds the tool, or finds it up to date (3 s), and prints its help; nothing else.
    log=$(mktemp)
    (cd "$root" && swift package generate-manual --help) >"$log" 2>&1 \
        || { cat "$log" >&2; rm -f "$log"; die "could not build swift-argument-parser's generate-manual tool"; }
    rm -f "$log"
    tool=$(find_generate_manual) || die "swift package generate-manual built no generate-manual tool"
fi

manual() {   # program section cross-reference...
    local program=$1 section=$2 page="$out/man/$1.$2"
    shift 2
    "$tool" "$bin/$program" --section "$section" --date "$day" --output-directory "$out/man"
    [[ -s $page ]] || die "generate-manual wrote no $page"
    # generate-manual lists a `help` subcommand and a subcommand argument for every command; a
    # program without subcommands (toolformerd) has neither.
    if ! "$bin/$program" --help | grep -q '^SUBCOMMANDS:'; then
        perl -0pi -e 's/^\.Ar subcommand\n//m; s/^\.It Em help\n.*?^\.El\n//ms' "$page"
    fi
    # A help text in paragraphs comes out with blank lines, which mdoc does not allow (groff warns
    # "Empty input line"): a paragraph break there is .Pp.
    perl -pi -e 's/^[ \t]*$/.Pp/' "$page"
    # Its last line has no newline; then the cross-references.
    printf '\n' >>"$page"
    perl -0pi -e 's/\n+\z/\n/' "$page"
    {
        echo '.Sh "SEE ALSO"'
        local first=1 ref
        for ref in "$@"; do
            [[ $ref == "$program($section)" ]] && continue
            ((first)) || echo ' ,'
            first=0
            printf '.Xr %s %s' "${ref%(*}" "$(tr -d ')' <<<"${ref#*(}")"
        done
        echo
    } >>"$page"
}
refs=("toolformerd(8)" "toolformerctl(1)" "toolformerd.toml(5)" "systemd.socket(5)")
manual toolformerd 8 "${refs[@]}"
manual toolformerctl 1 "${refs[@]}"

# ---- toolformerd.toml(5)
perl "$root/packaging/man/md2man.pl" \
    --name toolformerd.toml --section 5 --title TOOLFORMERD.TOML \
    --purpose "configuration of toolformerd" \
    --date "$day" --source "toolformerd $version" --manual "File Formats" \
    --synopsis '`/etc/toolformer/toolformerd.toml`' \
    --synopsis '`/etc/toolformer/tools.d/*.toml`' \
    --see-also 'toolformerd(8)' --see-also 'toolformerctl(1)' --see-also 'systemd.exec(5)' \
    "$root/docs/configuration.md" >"$out/man/toolformerd.toml.5"
