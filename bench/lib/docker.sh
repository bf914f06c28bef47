# bench/lib/docker.sh: start and stop a Docker engine that cannot touch
# the host. Sourced by the benchmarks (bash):
#
#   source "$(dirname "$0")/lib/docker.sh"
#   docker_enter_netns "$@"     # first line: re-runs the script in a new netns
#   if docker_start; then ...; docker ...; fi   # engine up, DOCKER_HOST set
#   docker_stop                 # (also from the EXIT trap; idempotent)
#
# Isolation:
# - network: the whole script runs in a network namespace of its own
#   (`unshare --net`, made by docker_enter_netns), so the iptables/nft
#   rules dockerd writes (FORWARD DROP, DOCKER chains), its bridge
#   docker0, its ip_forward and the registry it pulls from all live and die
#   in that namespace. docker_start refuses to run in the host's netns.
# - mounts: dockerd runs in its own mount namespace (`unshare -m
#   --propagation private`): its overlay2 and netns bind mounts never
#   appear on the host and vanish with it. /etc/docker (dockerd writes
#   key.json there) and /run (/run/docker/plugins, containerd's shim
#   sockets in /run/containerd/s) are each a fresh tmpfs there.
# - files: data root, exec root, socket, pid file and log under one
#   mktemp dir, removed by docker_stop; the CLI config too (DOCKER_CONFIG).
# - cgroups: a cgroup parent of our own (gbpeer-docker-PID), removed from
#   every hierarchy by docker_stop.
# Processes: docker_stop kills only processes in dockerd's own mount
# namespace (containerd, shims, docker-proxy it started), by pid.
#
# Needs: the Debian package docker.io (dockerd, containerd, runc,
# docker-proxy), util-linux (unshare). The CLI is /usr/bin/docker (the
# same version as the engine) unless DOCKER_CLI says otherwise.

DOCKER_WORK=""
DOCKER_PID=""
DOCKER_MNTNS=""
DOCKER_CGROUP=""
DOCKER_CLI=${DOCKER_CLI:-$(command -v /usr/bin/docker || command -v docker || true)}

# Re-run the calling script inside a fresh network namespace, unless that
# is already done. Loopback is brought up there.
docker_enter_netns() {
    if [[ -z "${GB_BENCH_NETNS:-}" ]]; then
        exec env GB_BENCH_NETNS=1 unshare --net -- "$0" "$@"
    fi
    ip link set lo up
}

docker() { "$DOCKER_CLI" "$@"; }

# docker_start: start dockerd; returns non-zero (and says why on stderr)
# when no engine can run here. Sets DOCKER_HOST and DOCKER_CONFIG.
docker_start() {
    if [[ "$(readlink /proc/self/ns/net)" == "$(readlink /proc/1/ns/net)" ]]; then
        echo "docker: refusing to start dockerd in the host's network namespace" >&2
        return 1
    fi
    if ! command -v dockerd >/dev/null || [[ -z "$DOCKER_CLI" ]]; then
        echo "docker: no dockerd/docker here (apt-get install -y docker.io)" >&2
        return 1
    fi
    DOCKER_WORK=$(mktemp -d /tmp/gbpeer-docker.XXXXXX)
    DOCKER_CGROUP="gbpeer-docker-$$"
    mkdir -p "$DOCKER_WORK/data" "$DOCKER_WORK/exec" "$DOCKER_WORK/cli"
    export DOCKER_HOST="unix://$DOCKER_WORK/docker.sock"
    export DOCKER_CONFIG="$DOCKER_WORK/cli"
    unshare -m --propagation private -- bash -c '
        mount -t tmpfs -o mode=0755 gbpeer-etc-docker /etc/docker || exit 1
        mount -t tmpfs -o mode=0755 gbpeer-run /run || exit 1
        exec "$@"' dockerd \
        dockerd --data-root "$DOCKER_WORK/data" --exec-root "$DOCKER_WORK/exec" \
        -H "$DOCKER_HOST" --pidfile "$DOCKER_WORK/dockerd.pid" \
        --cgroup-parent "/$DOCKER_CGROUP" --exec-opt native.cgroupdriver=cgroupfs \
        --storage-driver overlay2 --log-level warn \
        >"$DOCKER_WORK/dockerd.log" 2>&1 &
    DOCKER_PID=$!
    local i
    for i in $(seq 300); do
        if ! kill -0 "$DOCKER_PID" 2>/dev/null; then break; fi
        [[ -z "$DOCKER_MNTNS" ]] && DOCKER_MNTNS=$(readlink "/proc/$DOCKER_PID/ns/mnt" 2>/dev/null || true)
        if docker info >/dev/null 2>&1; then
            DOCKER_MNTNS=$(readlink "/proc/$DOCKER_PID/ns/mnt")
            return 0
        fi
        sleep 0.1
    done
    echo "docker: dockerd did not answer within 30 s; its log:" >&2
    tail -n 20 "$DOCKER_WORK/dockerd.log" >&2
    docker_stop
    return 1
}

# docker_stop: remove containers, stop dockerd and what it started, drop
# its cgroups and files. Safe to call twice or without docker_start.
docker_stop() {
    [[ -z "$DOCKER_WORK" ]] && return 0
    if [[ -n "$DOCKER_PID" ]] && kill -0 "$DOCKER_PID" 2>/dev/null; then
        local ids
        ids=$(docker ps -aq 2>/dev/null || true)
        # shellcheck disable=SC2086
        [[ -n "$ids" ]] && docker rm -f $ids >/dev/null 2>&1
        kill -TERM "$DOCKER_PID" 2>/dev/null || true
        local i
        for i in $(seq 200); do kill -0 "$DOCKER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DOCKER_PID" 2>/dev/null || true
        wait "$DOCKER_PID" 2>/dev/null || true
    fi
    # Whatever still lives in dockerd's mount namespace was started by it.
    if [[ -n "$DOCKER_MNTNS" ]]; then
        local p
        for p in /proc/[0-9]*; do
            if [[ "$(readlink "$p/ns/mnt" 2>/dev/null)" == "$DOCKER_MNTNS" ]]; then
                kill -KILL "${p#/proc/}" 2>/dev/null || true
            fi
        done
        sleep 0.2
    fi
    if [[ -n "$DOCKER_CGROUP" ]]; then
        # Container processes (their own mount namespaces) are in our
        # cgroup parent: any still there after dockerd died are ours.
        local c d
        for c in /proc/[0-9]*/cgroup; do
            if grep -q ":/$DOCKER_CGROUP/" "$c" 2>/dev/null; then
                c=${c#/proc/}; kill -KILL "${c%/cgroup}" 2>/dev/null || true
            fi
        done
        sleep 0.2
        for d in /sys/fs/cgroup/*/"$DOCKER_CGROUP" /sys/fs/cgroup/"$DOCKER_CGROUP"; do
            [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
    fi
    rm -rf "$DOCKER_WORK"
    DOCKER_WORK=""; DOCKER_PID=""; DOCKER_MNTNS=""
    unset DOCKER_HOST DOCKER_CONFIG
}
