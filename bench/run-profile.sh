#!/usr/bin/env bash
# Where the time of `glassbox run --rm IMAGE true` goes (issue 12's
# benchmark: the analysis behind bench/container-run.sh's numbers).
#
#   bench/run-profile.sh [GLASSBOX_BINARY] [RUNS]
#
# For the default bridge and for --network none, in the same isolated
# setting as container-run.sh (own mount and network namespaces, a state
# root with data on the disk and run/ on a tmpfs):
# 1. wall time, hyperfine median of RUNS runs (default 20);
# 2. glassbox's own steps (`--trace-json`): the time of each step, by
#    process (cli, shim, container init), summed per run, median over RUNS
#    runs: what the trace says the time went to;
# 3. (perf) each process's time on a CPU and off it, the latter by the
#    kernel functions it waited in (lib/offcpu.py): what the trace cannot
#    see (a grace period inside a write to cgroup.procs, an fsync waiting
#    for the disk);
# 4. (strace) the system calls of one run, counted: how many fsyncs, how
#    many reads of /proc/self/mountinfo.
#
# IDLE=N first starts N idle containers (`run -d IMAGE sleep`) and
# profiles with them up: how the cost of a run grows with the number of
# containers. STATE_ON_TMPFS=1: the state root on a tmpfs (no disk flushes).
#
# Needs root, hyperfine, jq, python3; perf (linux-perf) and strace for
# parts 3 and 4 (left out when missing).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/docker.sh
source "$HERE/lib/docker.sh"
# shellcheck source=lib/engines.sh
source "$HERE/lib/engines.sh"
engines_enter_mntns "$@"
docker_enter_netns "$@"

GB=$(realpath "${1:-$HERE/../target/release/glassbox}")
RUNS=${2:-20}
IDLE=${IDLE:-0}
if [[ -n "${STATE_ON_TMPFS:-}" ]]; then
    mount -t tmpfs -o mode=1777 gbbench-vartmp /var/tmp
fi
WORK=$(mktemp -d /var/tmp/gb-bench-profile.XXXXXX)
engines_root "$WORK"
engines_resolv_conf "$WORK/resolv.conf"
G=("$GB" --root "$GB_ROOT")
cleanup() {
    set +e
    local ids
    ids=$("${G[@]}" ps -aq 2>/dev/null)
    # shellcheck disable=SC2086
    [[ -n "$ids" ]] && "${G[@]}" rm -f $ids >/dev/null
    "${G[@]}" system prune --all -f >/dev/null 2>&1 || "${G[@]}" system prune --all </dev/null >/dev/null
    umount "$GB_ROOT/run" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

IMG=gbbench/busybox:1
engines_image "$GB" "$IMG" "$WORK"
# The first run makes the default network (bridge, nft table): not measured.
"${G[@]}" run --rm "$IMG" true

for _ in $(seq "$IDLE"); do "${G[@]}" run -d "$IMG" sleep 100000 >/dev/null; done
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r);" \
    "state on $(df --output=fstype /var/tmp | tail -1); $IDLE idle containers up" \
    "(ledger $(stat -c %s "$GB_ROOT/run/resources.json" 2>/dev/null || echo 0) bytes, $(wc -l </proc/self/mountinfo) mounts)"
for mode in bridge none; do
    run=("${G[@]}" run --rm --network "$mode" "$IMG" true)
    echo
    echo "## --network $mode"
    hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/wall.json" "${run[*]}" >/dev/null
    echo "wall: median $(jq '.results[0].median * 10000 | round / 10' "$WORK/wall.json") ms of $RUNS runs"

    # Steps from --trace-json, one file per run. In a file, the first pid
    # is the CLI's; pid 1 is the container's init (in its pid namespace);
    # any other is the shim.
    for i in $(seq "$RUNS"); do
        "${GB}" --root "$GB_ROOT" --trace-json "$WORK/steps-$i.jsonl" run --rm --network "$mode" "$IMG" true
    done
    echo
    echo "glassbox's steps, by process: median over $RUNS runs of the time per run (top 14)"
    for i in $(seq "$RUNS"); do
        jq -c --arg root "$GB_ROOT" --argjson run "$i" --slurp '
          (.[0].pid) as $cli
          | map({role: (if .pid == $cli then "cli" elif .pid == 1 then "init" else "shim" end),
                 step: (.mechanism + " " + (.summary
                          | gsub($root; "ROOT") | gsub("[0-9a-f]{12,64}"; "ID")
                          | gsub("glassbox-[0-9a-f]+"; "glassbox-X") | gsub("gb[0-9a-f]{6}[vp][0-9a-f]+"; "VETH")
                          | gsub("[0-9]+"; "N") | gsub("/sys/fs/cgroup/[a-z_,]+/"; "/sys/fs/cgroup/*/"))),
                 us: .duration_us})
          | group_by([.role, .step])
          | map({run: $run, role: .[0].role, step: .[0].step, n: length, us: (map(.us) | add)})
          | .[]' "$WORK/steps-$i.jsonl"
    done | jq -rs --argjson runs "$RUNS" '
        def median: sort | .[(length / 2 | floor)];
        def pad: . + [range(0; $runs - length) | 0];
        (group_by(.role) | map("  \(.[0].role): traced steps \(group_by(.run) | map(map(.us) | add) | pad | median / 100 | round / 10) ms per run")[]),
        (group_by([.role, .step])
         | map({role: .[0].role, step: .[0].step, n: .[0].n, ms: (map(.us) | pad | median / 1000)})
         | sort_by(-.ms) | .[0:14][]
         | "  \(.ms * 100 | round / 100 | tostring | (" " * (7 - length)) + .) ms  \(.role)  x\(.n)  \(.step[0:110])")'

    if command -v perf >/dev/null; then
        echo
        echo "on and off a CPU, by process (perf sched_switch, $RUNS runs; lib/offcpu.py)"
        cat >"$WORK/loop.sh" <<EOF
echo \$\$ >"$WORK/driver.pid"
for i in \$(seq $RUNS); do ${run[*]}; done
EOF
        perf record -q -a -g -o "$WORK/perf.data" -e sched:sched_switch -e sched:sched_process_fork \
            -- bash "$WORK/loop.sh" >/dev/null 2>&1
        perf script -i "$WORK/perf.data" -F comm,pid,tid,time,event,trace,ip,sym 2>/dev/null \
            | python3 "$HERE/lib/offcpu.py" "$(cat "$WORK/driver.pid")" "$RUNS" 10 | sed 's/^/  /'
    fi
    if command -v strace >/dev/null; then
        strace -f -qq -o "$WORK/strace.txt" "${run[@]}"
        echo
        echo "system calls of one run (strace -f): $(grep -c . "$WORK/strace.txt") in all;" \
            "fsync: $(grep -cE '^[0-9]+ +f(data)?sync\(' "$WORK/strace.txt");" \
            "opens of /proc/self/mountinfo: $(grep -c 'mountinfo' "$WORK/strace.txt");" \
            "mkdir: $(grep -cE '^[0-9]+ +mkdir(at)?\(' "$WORK/strace.txt");" \
            "rename: $(grep -cE '^[0-9]+ +rename(at2?)?\(' "$WORK/strace.txt");" \
            "execve: $(grep -cE '^[0-9]+ +execve\(' "$WORK/strace.txt")"
    fi
    rm -f "$WORK"/steps-*.jsonl "$WORK/perf.data" "$WORK/strace.txt"
done
