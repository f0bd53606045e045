#!/usr/bin/env bash
# Usage: packaging/build.sh
#
# Builds the release binaries that packaging/install.sh and packaging/build-deb.sh install, and
# their man pages and shell completions (packaging/generate.sh, into BIN/generated), and prints
# the folder BIN they are in. The flags are the packaging decision, kept in one place:
#
#   --static-swift-stdlib   the Swift runtime, Foundation (with its ICU data) and Dispatch are
#                           linked into each binary: the installed programs need nothing from
#                           /opt/swift, only Debian's libc6, libstdc++6, libgcc-s1, zlib1g,
#                           libjson-c5 and libsystemd0 (see packaging/README.md for why not a
#                           private copy of the runtime)
#   --disable-local-rpath   no RUNPATH=$ORIGIN: nothing is ever loaded from beside the binary
#   -z now                  full RELRO (bind now), as Debian's hardening flags ask; the build
#                           is already PIE with RELRO
#
# Extra arguments for swift build may be given in SWIFT_BUILD_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"

flags=(
    -c release
    --static-swift-stdlib
    --disable-local-rpath
    -Xlinker -z -Xlinker now
)
# shellcheck disable=SC2206 # word splitting of SWIFT_BUILD_FLAGS is intended
flags+=(${SWIFT_BUILD_FLAGS:-})

# One product per call: given --product twice, swift build (6.3) builds only the last one.
for product in toolformerd toolformerctl; do
    swift build "${flags[@]}" --product "$product" >&2
done
bin=$(swift build "${flags[@]}" --show-bin-path)
for program in toolformerd toolformerctl; do
    [[ -x $bin/$program ]] || { echo "build: $bin/$program was not built" >&2; exit 1; }
done

# The man pages and completions, generated here (as the user who builds) so that install.sh, often
# run with sudo, only copies files and never writes into .build as root.
rm -rf "$bin/generated"
packaging/generate.sh "$bin" "$bin/generated" >&2
echo "$bin"
