# bench/lib/engines.sh: what bench/container-run.sh and bench/run-profile.sh
# share: a private mount namespace, a glassbox state root laid out like
# the default one, the busybox image, and memory read from /proc.
# Sourced (bash), after lib/docker.sh.
#
#   engines_enter_mntns "$@"     # first line: re-runs the script in a private mount ns
#   docker_enter_netns "$@"      # (lib/docker.sh) then in a network ns of its own
#   engines_root "$WORK"         # sets GB_ROOT: data on disk, run/ on a tmpfs
#   engines_image "$GB" TAG DIR  # busybox image in glassbox, its rootfs in DIR/rootfs
#
# Why a mount namespace of our own: glassbox's overlay and netns-pin mounts,
# the tmpfs of the state root's run/ and runc's mounts then never show on
# the host, and vanish with the script even if it is killed. Propagation is
# private, so nothing made here reaches the host's mount table.

# Re-run the calling script in a private mount namespace, unless done.
engines_enter_mntns() {
    if [[ -z "${GB_BENCH_MNTNS:-}" ]]; then
        exec env GB_BENCH_MNTNS=1 unshare --mount --propagation private -- "$0" "$@"
    fi
}

# A glassbox state root under $1 laid out as the default one is: data on
# the disk (/var/lib/glassbox), runtime files on a tmpfs (/run/glassbox).
# The tmpfs lives in our mount namespace only. Sets GB_ROOT.
engines_root() {
    GB_ROOT="$1/gb"
    mkdir -p "$GB_ROOT/run"
    mount -t tmpfs -o mode=0700 gbbench-run "$GB_ROOT/run"
}

# The image every engine runs: `glassbox image from-host /bin/busybox`,
# tagged TAG in GB_ROOT, and the same content as a directory DIR/rootfs
# (for runc bundles and `docker import`): `glassbox image save`, then each
# layer of the archive's manifest.json unpacked in order.
engines_image() {
    local gb=$1 tag=$2 dir=$3 layer
    "$gb" --root "$GB_ROOT" image from-host /bin/busybox --tag "$tag" >/dev/null
    "$gb" --root "$GB_ROOT" image save -o "$dir/image.tar" "$tag"
    mkdir -p "$dir/rootfs"
    for layer in $(tar -xOf "$dir/image.tar" manifest.json | jq -r '.[0].Layers[]'); do
        tar -xOf "$dir/image.tar" "$layer" | tar -C "$dir/rootfs" -x
    done
    rm -f "$dir/image.tar"
}

# The containers' resolv.conf: a documentation address (RFC 5737) that no
# benchmark container ever queries (they run `true` and `sleep`), so no
# real DNS server is ever handed to a container.
engines_resolv_conf() {
    printf 'nameserver 192.0.2.53\n' >"$1"
    export GLASSBOX_RESOLV_CONF="$1"
}

# Kernel memory that processes cannot give back, in kB, from /proc/meminfo:
# unreclaimable slab (namespaces, mounts, netdevs, cgroup structures),
# kernel stacks, page tables and per-CPU allocations (cgroups' counters).
# Whole-machine counters: other work on the machine moves them too.
kernel_kb() {
    awk '/^(SUnreclaim|KernelStack|PageTables|Percpu):/ { s += $2 } END { print s }' /proc/meminfo
}

# Sum of one smaps_rollup field (Pss, Rss, Pss_Anon, Pss_File) over pids, in kB.
smaps_kb() {
    local field=$1; shift
    local p s=0 v
    for p in "$@"; do
        v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
        s=$(( s + ${v:-0} ))
    done
    echo "$s"
}

# Pids of the glassbox shims of state root $1 (their command line is
# `glassbox [--root R] [-v..] shim ID`), optionally only of container $2.
glassbox_shims() {
    local root=$1 id=${2:-} p cmd
    for p in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
        [[ "$cmd" == *"--root $root "*"shim "* ]] || continue
        [[ -n "$id" && "$cmd" != *"shim $id "* ]] && continue
        echo "${p#/proc/}"
    done
}

# Children of the given pids (the containers' init processes under shims).
children_of() {
    local p
    for p in "$@"; do
        cat "/proc/$p/task/$p/children" 2>/dev/null
    done | tr ' ' '\n' | grep . || true
}
