#!/usr/bin/env bash
# Usage: .ci/check-units.sh /path/to/toolformerd
#
# Verifies systemd/toolformerd.{service,socket} and prints their exposure score. The shipped
# ExecStart= names /usr/bin/toolformerd, which need not exist on a build machine, and
# `systemd-analyze verify` refuses a missing ExecStart=: so copies of the units are checked with
# ExecStart= pointing at the binary given.
set -euo pipefail

binary=${1:?usage: $0 /path/to/toolformerd}
threshold=20   # systemd-analyze's 0-100 scale: 20 means an exposure of 2.0
root=$(cd "$(dirname "$0")/.." && pwd)

[[ -x $binary ]] || { echo "check-units: $binary is not an executable" >&2; exit 2; }
binary=$(realpath "$binary")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for unit in toolformerd.service toolformerd.socket; do
    sed "s|^ExecStart=/usr/bin/toolformerd |ExecStart=$binary |" "$root/systemd/$unit" >"$work/$unit"
done
grep -q "^ExecStart=$binary " "$work/toolformerd.service" \
    || { echo "check-units: ExecStart= in toolformerd.service no longer starts with /usr/bin/toolformerd" >&2; exit 1; }

status=0

echo "== systemd-analyze verify"
# --man=no: the units point at no man page to check. verify also reports problems in unrelated
# units it loads along the way; only lines about ours count.
verify_output=$(cd "$work" && systemd-analyze verify --man=no toolformerd.socket toolformerd.service 2>&1) \
    || verify_status=$?
printf '%s\n' "$verify_output" | sed '/^$/d'
ours=$(printf '%s\n' "$verify_output" | grep -i toolformer || true)
if [[ -n $ours ]]; then
    echo "check-units: verify reported problems in the toolformer units" >&2
    status=1
elif [[ ${verify_status:-0} -ne 0 ]]; then
    echo "check-units: verify exited ${verify_status} (only unrelated units mentioned; not failing)"
fi

echo "== systemd-analyze security --offline=true --threshold=$threshold"
security_status=0
security_output=$(cd "$work" && systemd-analyze security --no-pager --offline=true \
    --threshold="$threshold" toolformerd.service 2>&1) || security_status=$?
exposure=$(printf '%s\n' "$security_output" \
    | grep -o 'Overall exposure level for toolformerd.service: [0-9.]*' | grep -o '[0-9.]*$' || true)
printf '%s\n' "$security_output" | grep '✗' || true
if [[ -z $exposure ]]; then
    printf '%s\n' "$security_output" >&2
    echo "check-units: no exposure score in the output" >&2
    status=1
else
    echo "exposure: $exposure (threshold $(awk "BEGIN { print $threshold / 10 }"))"
    if [[ $security_status -ne 0 ]]; then
        echo "check-units: exposure $exposure is above the threshold" >&2
        status=1
    fi
fi

exit "$status"
