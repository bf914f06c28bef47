#!/usr/bin/env bash
# Benchmark (issue 12): starting and holding containers. glassbox against
# Docker, runc and conmon, side by side in one run, reported as ratios.
#
#   bench/container-run.sh [GLASSBOX_BINARY] [RUNS]
#
# 1. `run --rm IMAGE true`: glassbox with the default bridge and with
#    `--network none`, `docker run --rm` (bridge, and none), and `runc run`
#    of the same rootfs as a bundle (`runc spec`: a new network namespace
#    with only lo, no network set up). hyperfine in ROUNDS rounds (default
#    3, each with 2 warm-ups per command) of RUNS/ROUNDS runs of every
#    command, so that every command meets the same changes of load; the
#    median and the minimum of all RUNS runs (default 30).
# 2. The shim of an idle container (`run -d IMAGE sleep 1000`): Pss from
#    /proc/PID/smaps_rollup, against conmon started with the arguments
#    Podman gives it (see conmon_start below).
# 3. IDLE idle containers at once (default 100): memory per container (the
#    shims' Pss, the engine's own growth, kernel memory from
#    /proc/meminfo), the time to start them, `ps` latency, and `run --rm`
#    with them all up; glassbox against Docker.
#
# The image is the same everywhere: `glassbox image from-host
# /bin/busybox`, exported to a directory for runc and conmon and given to
# Docker with `docker import`.
#
# Needs root, hyperfine, jq, runc, conmon (Debian packages); docker.io for
# the Docker rows (NO_DOCKER=1 leaves them out). IDLE=0 skips part 3.
# STATE_ON_TMPFS=1 puts every engine's state and every rootfs on a tmpfs
# (a tmpfs over /tmp and /var/tmp in the script's mount namespace): the
# same run without the disk's flushes and discards, to see their share.
# Build glassbox with `cargo build --release` first.
#
# Isolation: the script runs in a mount namespace and a network namespace
# of its own (lib/engines.sh, lib/docker.sh): glassbox's bridge and nft
# table, Docker's iptables and every mount live and die there. The glassbox
# state root is a fresh directory on the disk with a tmpfs run/ (as
# /var/lib/glassbox and /run/glassbox are); runc's state is a directory of
# its own; cgroups are removed at the end (glassbox's by `rm -f`, runc's and
# conmon's by name, Docker's by lib/docker.sh).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/docker.sh
source "$HERE/lib/docker.sh"
# shellcheck source=lib/engines.sh
source "$HERE/lib/engines.sh"
engines_enter_mntns "$@"
docker_enter_netns "$@"

GB=$(realpath "${1:-$HERE/../target/release/glassbox}")
RUNS=${2:-30}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-100}
STORAGE="state on $(df --output=fstype /var/tmp | tail -1) ($(findmnt -no OPTIONS -T /var/tmp))"
if [[ -n "${STATE_ON_TMPFS:-}" ]]; then
    mount -t tmpfs -o mode=1777 gbbench-tmp /tmp
    mount -t tmpfs -o mode=1777 gbbench-vartmp /var/tmp
    STORAGE="state on tmpfs (STATE_ON_TMPFS=1)"
fi
for tool in hyperfine jq runc conmon; do
    command -v "$tool" >/dev/null || { echo "need $tool (apt-get install -y $tool)" >&2; exit 2; }
done

avail=$(df --output=avail -k /var/tmp | tail -1)
if (( avail < 1048576 )); then
    echo "warning: only $(( avail / 1024 )) MiB free on /var/tmp; glassbox's state writes fail on a full disk" >&2
fi
WORK=$(mktemp -d /var/tmp/gb-bench-run.XXXXXX)
CG="gbbench-$$"                    # cgroup parent of the runc and conmon containers
RUNC_ROOT="$WORK/runc-state"
CONMON_PID=""
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
    for c in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do
        runc --root "$RUNC_ROOT" delete -f "$c" >/dev/null 2>&1
    done
    [[ -n "$CONMON_PID" ]] && kill -KILL "$CONMON_PID" 2>/dev/null
    # Shims of this root still alive (a failed rm): by pid. Then the
    # cgroups of its containers, should an rm have failed half-way (a full
    # disk did that once): glassbox names them glassbox-TAG, TAG the first
    # six hex digits of the sha256 of the root's path (src/state/paths.rs).
    for p in $(glassbox_shims "$GB_ROOT"); do kill -KILL "$p"; done
    local tag
    tag=$(printf '%s' "$GB_ROOT" | sha256sum | cut -c1-6)
    for d in /sys/fs/cgroup/*/"glassbox-$tag" /sys/fs/cgroup/"glassbox-$tag"; do
        [[ -d "$d" ]] || continue
        find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        sleep 0.2
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    local d
    for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
        [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    docker_stop
    umount "$GB_ROOT/run" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }
ms() { jq -r --arg n "$2" --arg f "${3:-median}" '.results[] | select(.command == $n) | .[$f] * 10000 | round / 10' "$1"; }
ratio() { jq -rn --argjson a "$1" --argjson b "$2" '$a / $b * 100 | round / 100'; }
mib() { jq -rn --argjson k "$1" '$k / 1024 * 100 | round / 100'; }

echo "== machine: $(nproc) CPUs, load $(load), $(uname -r); glassbox $GB" >&2
IMG=gbbench/busybox:1
engines_image "$GB" "$IMG" "$WORK"

# runc bundle: `runc spec` as it comes (namespaces pid, net, ipc, uts,
# mount; runc brings lo up in the new netns), without a terminal, running
# `true`, the rootfs by absolute path, its cgroup under our parent.
mkdir -p "$WORK/bundle"
(cd "$WORK/bundle" && runc spec)
jq --arg r "$WORK/rootfs" --arg cg "/$CG/runc" \
    '.root.path = $r | .process.terminal = false | .process.args = ["true"] | .linux.cgroupsPath = $cg' \
    "$WORK/bundle/config.json" >"$WORK/bundle/c.json"
mv "$WORK/bundle/c.json" "$WORK/bundle/config.json"

DOCKER_ROW="docker: not measured (NO_DOCKER=1)"
HAVE_DOCKER=""
if [[ -z "${NO_DOCKER:-}" ]]; then
    if docker_start; then
        HAVE_DOCKER=1
        DIMG=gbbench/busybox-import:1
        tar -C "$WORK/rootfs" -c . | docker import - "$DIMG" >/dev/null
        DOCKER_ROW="docker: engine $(docker version --format '{{.Server.Version}}'), isolated (bench/lib/docker.sh), $(docker info --format '{{.Driver}}'), runtime $(docker info --format '{{.DefaultRuntime}}')"
    else
        DOCKER_ROW="docker: no Docker engine could be started here: no docker rows"
    fi
fi

# ---------------------------------------------------------------- part 1
echo "== 1. run --rm IMAGE true ($RUNS runs each in $ROUNDS rounds, load $(load))" >&2
cmds=(
    -n "glassbox bridge" "$GB --root $GB_ROOT run --rm $IMG true"
    -n "glassbox none" "$GB --root $GB_ROOT run --rm --network none $IMG true"
    -n "runc" "runc --root $RUNC_ROOT run --bundle $WORK/bundle gbbench-runc"
)
if [[ -n "$HAVE_DOCKER" ]]; then
    cmds+=(-n "docker bridge" "$DOCKER_CLI run --rm $DIMG true"
        -n "docker none" "$DOCKER_CLI run --rm --network none $DIMG true")
fi
load1() { cut -d' ' -f1 /proc/loadavg; }
LOADS=("$(load1)")
for r in $(seq "$ROUNDS"); do
    hyperfine -N --warmup 2 --runs $(( (RUNS + ROUNDS - 1) / ROUNDS )) \
        --export-json "$WORK/startup-$r.json" "${cmds[@]}" >&2
    LOADS+=("$(load1)")
done
# All rounds together: every run's time, the median and the minimum.
S="$WORK/startup.json"
jq -s '{results: (map(.results | to_entries[]) | group_by(.value.command)
         | map({i: .[0].key, command: .[0].value.command, times: map(.value.times[])})
         | sort_by(.i)
         | map(. + {n: (.times | length), min: (.times | min),
                    median: (.times | sort | if length % 2 == 1 then .[length / 2 | floor]
                             else (.[length / 2 - 1] + .[length / 2]) / 2 end)}))}' \
    "$WORK"/startup-[0-9]*.json >"$S"
gb_b=$(ms "$S" "glassbox bridge"); gb_n=$(ms "$S" "glassbox none"); rc=$(ms "$S" runc)
gb_b_min=$(ms "$S" "glassbox bridge" min); gb_n_min=$(ms "$S" "glassbox none" min); rc_min=$(ms "$S" runc min)
LOAD1="${LOADS[*]}"

# ---------------------------------------------------------------- part 2
echo "== 2. the shim of one idle container (load $(load))" >&2
# conmon as Podman 4 starts it (libpod/oci_conmon_common.go,
# sharedConmonArgs and createOCIContainer): the same flags, with the
# k8s-file log driver, runc's JSON log, a conmon pid file, a persist dir
# and full-length attach socket paths. Podman then waits on conmon's sync
# pipe for the container's pid and runs `runc start`; without Podman we
# wait for the container pid file and run `runc start` ourselves. Podman's
# --exit-command (`podman container cleanup`) is left out: it only runs at
# exit. conmon double-forks and lives on alone, as with Podman.
conmon_start() {
    local b="$WORK/conmon" i
    mkdir -p "$b/bundle" "$b/exits" "$b/persist" "$b/sock"
    jq --arg cg "/$CG/conmon" '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = $cg' \
        "$WORK/bundle/config.json" >"$b/bundle/config.json"
    conmon --api-version 1 -c gbbench-conmon -u gbbench-conmon -r "$(command -v runc)" \
        -b "$b/bundle" -p "$b/bundle/pidfile" -n gbbench-conmon --exit-dir "$b/exits" \
        --full-attach -l "k8s-file:$b/bundle/ctr.log" --log-level warning \
        --runtime-arg --log-format=json --runtime-arg --log --runtime-arg="$b/bundle/oci-log" \
        --runtime-arg --root="$RUNC_ROOT" --conmon-pidfile "$b/conmon.pid" \
        --persist-dir "$b/persist" --socket-dir-path "$b/sock" </dev/null >/dev/null 2>&1
    for i in $(seq 100); do [[ -s "$b/bundle/pidfile" ]] && break; sleep 0.1; done
    runc --root "$RUNC_ROOT" start gbbench-conmon
    CONMON_PID=$(cat "$b/conmon.pid")
}

id=$("${G[@]}" run -d --name gbbench-idle "$IMG" sleep 1000)
conmon_start
# Both idle: glassbox's shim gives back the pages only the start needed
# after a quiet second (src/container/slim.rs).
sleep 2
shim=$(glassbox_shims "$GB_ROOT" "$id")
printf '%-22s %9s %9s %9s %9s\n' "process (kB)" Rss Pss Pss_Anon Pss_File >&2
row() { printf '%-22s %9s %9s %9s %9s\n' "$1" "$(smaps_kb Rss "$2")" "$(smaps_kb Pss "$2")" "$(smaps_kb Pss_Anon "$2")" "$(smaps_kb Pss_File "$2")" >&2; }
row "glassbox shim" "$shim"
row "conmon" "$CONMON_PID"
shim_pss=$(smaps_kb Pss "$shim"); shim_anon=$(smaps_kb Pss_Anon "$shim"); shim_rss=$(smaps_kb Rss "$shim")
conmon_pss=$(smaps_kb Pss "$CONMON_PID"); conmon_anon=$(smaps_kb Pss_Anon "$CONMON_PID"); conmon_rss=$(smaps_kb Rss "$CONMON_PID")
"${G[@]}" rm -f gbbench-idle >/dev/null
runc --root "$RUNC_ROOT" delete -f gbbench-conmon
for _ in $(seq 50); do kill -0 "$CONMON_PID" 2>/dev/null || break; sleep 0.1; done
CONMON_PID=""

# ---------------------------------------------------------------- part 3
IDLE_ROWS=()
if (( IDLE > 0 )); then
    echo "== 3. $IDLE idle containers (load $(load))" >&2
    k0=$(kernel_kb)
    t0=$(date +%s.%N)
    for i in $(seq "$IDLE"); do "${G[@]}" run -d "$IMG" sleep 100000 >/dev/null; done
    t1=$(date +%s.%N)
    sleep 2
    k1=$(kernel_kb)
    mapfile -t shims < <(glassbox_shims "$GB_ROOT")
    mapfile -t inits < <(children_of "${shims[@]}")
    gb_start_s=$(jq -rn "($t1 - $t0) * 10 | round / 10")
    gb_shims_pss=$(smaps_kb Pss "${shims[@]}")
    gb_shims_anon=$(smaps_kb Pss_Anon "${shims[@]}")
    gb_inits_pss=$(smaps_kb Pss "${inits[@]}")
    gb_kernel=$(( k1 - k0 ))
    echo "glassbox: ${#shims[@]} shims, ${#inits[@]} container inits" >&2
    hyperfine -N --warmup 3 --runs 20 --export-json "$WORK/ps-gb.json" \
        -n "glassbox ps" "$GB --root $GB_ROOT ps" \
        -n "glassbox run (idle up)" "$GB --root $GB_ROOT run --rm --network none $IMG true" >&2
    gb_ps=$(ms "$WORK/ps-gb.json" "glassbox ps")
    gb_run_busy=$(ms "$WORK/ps-gb.json" "glassbox run (idle up)")
    "${G[@]}" ps -q | xargs -r "${G[@]}" rm -f >/dev/null
    IDLE_ROWS+=("| glassbox | ${#shims[@]} | $gb_start_s s | $(( gb_shims_pss / IDLE )) kB (shim; $(( gb_shims_anon / IDLE )) kB anonymous) | $(( gb_kernel / IDLE )) kB | $(( gb_inits_pss / IDLE )) kB | $gb_ps ms | $gb_run_busy ms (none) |")

    if [[ -n "$HAVE_DOCKER" ]]; then
        engine_pids() {
            local p
            for p in /proc/[0-9]*; do
                [[ "$(readlink "$p/ns/mnt" 2>/dev/null)" == "$DOCKER_MNTNS" ]] || continue
                case "$(cat "$p/comm" 2>/dev/null)" in dockerd|containerd) echo "${p#/proc/}" ;; esac
            done
        }
        docker_shims() {
            local p
            for p in /proc/[0-9]*; do
                [[ "$(readlink "$p/ns/mnt" 2>/dev/null)" == "$DOCKER_MNTNS" ]] || continue
                [[ "$(cat "$p/comm" 2>/dev/null)" == containerd-shim* ]] && echo "${p#/proc/}"
            done
        }
        mapfile -t eng < <(engine_pids)
        e0=$(smaps_kb Pss "${eng[@]}")
        k0=$(kernel_kb)
        t0=$(date +%s.%N)
        for i in $(seq "$IDLE"); do docker run -d "$DIMG" sleep 100000 >/dev/null; done
        t1=$(date +%s.%N)
        sleep 2
        k1=$(kernel_kb)
        e1=$(smaps_kb Pss "${eng[@]}")
        mapfile -t dshims < <(docker_shims)
        mapfile -t dinits < <(children_of "${dshims[@]}")
        d_start_s=$(jq -rn "($t1 - $t0) * 10 | round / 10")
        d_shims_pss=$(smaps_kb Pss "${dshims[@]}")
        d_shims_anon=$(smaps_kb Pss_Anon "${dshims[@]}")
        d_inits_pss=$(smaps_kb Pss "${dinits[@]}")
        d_kernel=$(( k1 - k0 ))
        echo "docker: ${#dshims[@]} shims, ${#dinits[@]} container inits; dockerd+containerd Pss $e0 -> $e1 kB" >&2
        hyperfine -N --warmup 3 --runs 20 --export-json "$WORK/ps-docker.json" \
            -n "docker ps" "$DOCKER_CLI ps" \
            -n "docker run (idle up)" "$DOCKER_CLI run --rm --network none $DIMG true" >&2
        d_ps=$(ms "$WORK/ps-docker.json" "docker ps")
        d_run_busy=$(ms "$WORK/ps-docker.json" "docker run (idle up)")
        IDLE_ROWS+=("| docker | ${#dshims[@]} | $d_start_s s | $(( d_shims_pss / IDLE )) kB (shim; $(( d_shims_anon / IDLE )) kB anonymous) + $(( (e1 - e0) / IDLE )) kB (dockerd, containerd) | $(( d_kernel / IDLE )) kB | $(( d_inits_pss / IDLE )) kB | $d_ps ms | $d_run_busy ms (none) |")
        docker ps -q | xargs -r "$DOCKER_CLI" rm -f >/dev/null
    fi
fi

# ---------------------------------------------------------------- report
echo
echo "## run --rm IMAGE true ($(nproc) CPUs; $STORAGE; 1-minute load before and after each round: $LOAD1)"
echo
echo "| command | median | min | runs |"
echo "| --- | --- | --- | --- |"
jq -r '.results[] | "| \(.command) | \(.median * 10000 | round / 10) ms | \(.min * 10000 | round / 10) ms | \(.n) |"' "$S"
echo
echo "- glassbox none / runc: **$(ratio "$gb_n" "$rc")x** (target <= 0.5x; of the minimums: $(ratio "$gb_n_min" "$rc_min")x)"
echo "- glassbox bridge / runc (runc sets up no network): $(ratio "$gb_b" "$rc")x"
if [[ -n "$HAVE_DOCKER" ]]; then
    d_b=$(ms "$S" "docker bridge"); d_n=$(ms "$S" "docker none"); d_b_min=$(ms "$S" "docker bridge" min)
    echo "- glassbox bridge / docker bridge: **$(ratio "$gb_b" "$d_b")x** (target <= 0.10x; of the minimums: $(ratio "$gb_b_min" "$d_b_min")x)"
    echo "- glassbox none / docker none: $(ratio "$gb_n" "$d_n")x"
fi
echo
echo "## the shim of one idle container (smaps_rollup)"
echo
echo "| process | Rss | Pss | of which anonymous |"
echo "| --- | --- | --- | --- |"
echo "| glassbox shim | $shim_rss kB | **$shim_pss kB** ($(mib "$shim_pss") MiB) | $shim_anon kB |"
echo "| conmon $(conmon --version | head -1 | awk '{print $3}') | $conmon_rss kB | **$conmon_pss kB** ($(mib "$conmon_pss") MiB) | $conmon_anon kB |"
echo
echo "- glassbox shim / conmon (Pss): $(ratio "$shim_pss" "$conmon_pss")x (target: <= 2 MiB and below conmon)"
if (( IDLE > 0 )); then
    echo
    echo "## $IDLE idle containers (\`run -d IMAGE sleep\`), per container"
    echo
    echo "| engine | running | start all | engine memory | kernel | container's process | ps | run --rm with all up |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${IDLE_ROWS[@]}"
    echo
    echo "engine memory: Pss of the shims (and the daemons' growth), summed and divided by $IDLE;"
    echo "kernel: growth of SUnreclaim+KernelStack+PageTables+Percpu in /proc/meminfo, divided by $IDLE (whole machine: noisy)."
    if [[ -n "$HAVE_DOCKER" ]]; then
        echo "- glassbox ps / docker ps: **$(ratio "$gb_ps" "$d_ps")x**"
    fi
fi
echo
echo "$DOCKER_ROW"
echo "runc: $(runc --version | head -1); conmon: $(conmon --version | head -1); load at the end: $(load)"
