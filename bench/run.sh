#!/usr/bin/env bash
# Builds what the benchmark needs in release and runs it (docs/benchmarks.md).
#
#   bench/run.sh [toolformer-bench arguments]      e.g. bench/run.sh all --json > results.json
#   bench/run.sh profile SCENARIO [arguments]      the release daemon under callgrind while
#                                                  toolformer-bench drives SCENARIO at it
#
# `swift run -c release toolformer-bench` builds only the benchmark; it starts the toolformerd and
# toolformer-echo-reference binaries beside it, so those must be built (and current) too.
set -euo pipefail
cd "$(dirname "$0")/.."

build() {
    for product in toolformerd toolformer-echo-reference toolformer-bench; do
        swift build -c release --product "$product" >&2
    done
}

summarize() {
    # callgrind_annotate 3.19 mislabels these files (everything under `clone`); this reads them directly.
    python3 - "$1" <<'PY'
import collections, re, subprocess, sys
names, self_cost, callee_cost, by_object = {}, collections.Counter(), collections.Counter(), collections.Counter()
function = obj = function_obj = None
after_calls = False
total = 0
def name(token, kind):
    match = re.match(r'\((\d+)\)(?: (.*))?', token)
    if not match:
        return token
    if match.group(2) is not None:
        names[kind + match.group(1)] = match.group(2)
    return names.get(kind + match.group(1), token)
for line in open(sys.argv[1]):
    line = line.rstrip('\n')
    if line.startswith('ob='):
        obj = name(line[3:], 'o')
    elif line.startswith('cob='):
        name(line[4:], 'o')
    elif line.startswith('fn='):
        function, function_obj, after_calls = name(line[3:], 'f'), obj, False
    elif line.startswith('cfn='):
        name(line[4:], 'f')
    elif line.startswith('calls='):
        after_calls = True
    elif line[:1].isdigit() or line[:1] in '+-*':
        fields = line.split()
        if len(fields) < 2:
            continue
        cost = int(fields[1])
        if after_calls:
            callee_cost[function] += cost
            after_calls = False
        else:
            self_cost[function] += cost
            by_object[function_obj] += cost
            total += cost
def demangle(symbols):
    out = subprocess.run(['swift', 'demangle', '--simplified'], input='\n'.join(symbols), capture_output=True, text=True)
    return out.stdout.split('\n')
print(f'instructions: {total:,}\n\nby library (exclusive)')
for obj, cost in by_object.most_common(8):
    print(f'{cost / total * 100:6.2f}%  {obj}')
print('\ntop functions (exclusive)')
top = self_cost.most_common(30)
for (symbol, cost), readable in zip(top, demangle([s for s, _ in top])):
    print(f'{cost / total * 100:6.2f}%  {readable[:150]}')
print("\nthe daemon's own functions (inclusive; recursive entries, marked '2, double count)")
inclusive = collections.Counter({f: self_cost[f] + callee_cost[f] for f in set(self_cost) | set(callee_cost)})
ours = [(s, c) for s, c in inclusive.most_common() if re.search(r'Toolformer|JSON', s) and not s.endswith("'2")][:30]
for (symbol, cost), readable in zip(ours, demangle([s for s, _ in ours])):
    print(f'{cost / total * 100:6.2f}%  {readable[:150]}')
PY
}

profile() {
    local scenario=${1:?usage: bench/run.sh profile SCENARIO [toolformer-bench arguments]}
    shift
    [[ $scenario == startup || $scenario == all ]] && { echo "profile one scenario that loads a running daemon, not $scenario" >&2; exit 2; }
    local arguments=("$@")
    [[ ${#arguments[@]} -eq 0 ]] && arguments=(--duration 3 --runs 1)
    build
    local bin work pid
    bin=$(swift build -c release --show-bin-path)
    work=$(mktemp -d /tmp/toolformer-profile-XXXXXX)
    # valgrind 3.19 cannot read the DWARF 5 the Swift toolchain writes; the symbol table is enough.
    objcopy --strip-debug "$bin/toolformerd" "$work/toolformerd"
    # libdispatch's dispatch_main calls sigsuspend with a mask in read-only memory, which valgrind
    # 3.19 writes to and crashes on: hand it a copy.
    cc -O2 -shared -fPIC -x c -o "$work/sigsuspend.so" - <<'C'
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return (int)syscall(SYS_rt_sigsuspend, &copy, 8); }
C
    "$bin/toolformer-bench" --print-config > "$work/toolformerd.toml"
    LD_PRELOAD="$work/sigsuspend.so" valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out.%p" \
        "$work/toolformerd" --config "$work/toolformerd.toml" --socket "$work/d.sock" --log stderr 2> "$work/valgrind.log" &
    pid=$!
    for _ in $(seq 1 240); do [[ -S $work/d.sock ]] && break; sleep 0.5; done
    [[ -S $work/d.sock ]] || { cat "$work/valgrind.log" >&2; exit 1; }
    echo "warming up (not counted)..." >&2
    "$bin/toolformer-bench" --socket "$work/d.sock" "$scenario" --quick > /dev/null 2>&1 || true
    callgrind_control -z "$pid" > /dev/null
    "$bin/toolformer-bench" --socket "$work/d.sock" "$scenario" "${arguments[@]}" >&2
    callgrind_control -d "$pid" > /dev/null
    kill -TERM "$pid"
    wait "$pid" || true
    local dump
    dump=$(ls "$work"/callgrind.out.*.1)
    echo "callgrind data: $dump" >&2
    summarize "$dump"
}

if [[ ${1:-} == profile ]]; then
    shift
    profile "$@"
else
    build
    exec "$(swift build -c release --show-bin-path)/toolformer-bench" "$@"
fi
