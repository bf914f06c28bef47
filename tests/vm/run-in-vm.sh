#!/usr/bin/env bash
# Run a command inside a throwaway VM whose cgroups are pure v2.
#
#   tests/vm/run-in-vm.sh [--snapshots-rw] -- CMD [ARGS...]
#   tests/vm/run-in-vm.sh --script FILE
#
# The VM boots Debian's kernel (/boot/vmlinuz-*, package linux-image-amd64)
# under qemu with TCG (KVM hangs on these machines), from an initramfs made
# here: a static busybox (package busybox-static) and the virtio/9p/overlay
# modules of that kernel. It mounts the host's / read-only over 9p at /host,
# puts tmpfs over /host/tmp, /host/run, /host/var/tmp (and a tmpfs overlay
# over /host/var/lib, where glassbox keeps its default state), mounts
# cgroup2 with every controller at /sys/fs/cgroup, binds /proc, /dev and
# /sys into /host, chroots there and runs CMD from the current directory
# (which must exist on the host). A current directory under one of the
# tmpfs-covered paths (a checkout cloned into /tmp, say) is shared with the
# VM on its own (read-only, over 9p) and mounted at the same path, so the
# VM stage works from any checkout. The exit status is CMD's; a VM that
# does not boot or does not report fails (status 2).
#
# --snapshots-rw shares ./tests/snapshots writable, so that
# INSTA_UPDATE=always can write new snapshot files from inside the VM.
# Environment passed through: RUST_BACKTRACE, RUST_TEST_THREADS, CI,
# INSTA_UPDATE, INSTA_FORCE_PASS, GLASSBOX_*. VM_MEM (MiB, default 2048),
# VM_CPUS (default 2), VM_TIMEOUT (seconds, default 900), VM_KERNEL, VM_APPEND
# (extra kernel command line).
set -euo pipefail

snap_rw=0
script=
while [ $# -gt 0 ]; do
    case "$1" in
    --snapshots-rw) snap_rw=1; shift ;;
    --script) script=$(realpath "$2"); shift 2 ;;
    --) shift; break ;;
    *) break ;;
    esac
done
if [ -z "$script" ] && [ $# -eq 0 ]; then
    echo "usage: $0 [--snapshots-rw] -- CMD [ARGS...] | --script FILE" >&2
    exit 2
fi

kernel=${VM_KERNEL:-$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n1)}
[ -n "$kernel" ] && [ -r "$kernel" ] || { echo "run-in-vm: no kernel in /boot (apt-get install linux-image-amd64)" >&2; exit 2; }
kver=${kernel#/boot/vmlinuz-}
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || busybox=/bin/busybox
[ -x "$busybox" ] || { echo "run-in-vm: no static busybox (apt-get install busybox-static)" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "run-in-vm: no qemu (apt-get install qemu-system-x86)" >&2; exit 2; }

work=$(mktemp -d /tmp/gbvm.XXXXXX)
trap 'rm -rf "$work"' EXIT
cwd=$(pwd -P)
# The VM lays tmpfs over these: a checkout below one of them needs a share
# of its own.
share_cwd=0
case "$cwd/" in /tmp/* | /run/* | /var/tmp/*) share_cwd=1 ;; esac

# --- initramfs ---------------------------------------------------------
ird=$work/initrd
mkdir -p "$ird"/{bin,proc,sys,dev,host,modules,snaps}
cp "$busybox" "$ird/bin/busybox"
: > "$ird/modules.list"
for m in virtio_pci 9p 9pnet_virtio overlay; do
    modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
    base=$(basename "$ko")
    case "$ko" in
    *.ko) cp "$ko" "$ird/modules/$base" ;;
    *.ko.xz) xz -dc "$ko" > "$ird/modules/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$ko" > "$ird/modules/${base%.zst}"; base=${base%.zst} ;;
    esac
    echo "$base" >> "$ird/modules.list"
done

# The command, run in the chroot.
{
    echo "#!/bin/sh"
    for v in RUST_BACKTRACE RUST_TEST_THREADS CI INSTA_UPDATE INSTA_FORCE_PASS $(compgen -e | grep '^GLASSBOX_' || true); do
        if [ -n "${!v+x}" ]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
    done
    echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp"
    printf 'cd %q || exit 3\n' "$cwd"
    if [ -n "$script" ]; then
        cat "$script"
    else
        printf '%q ' "$@"; echo
    fi
} > "$ird/cmd"
chmod +x "$ird/cmd"
cp "$ird/cmd" "$work/cmd-copy"

cat > "$ird/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in \$(cat /modules.list); do insmod /modules/\$m || echo "GLASSBOX-VM: insmod \$m failed"; done
fail() { echo "GLASSBOX-VM: \$*"; echo "GLASSBOX-VM-RESULT 2"; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host || fail "cannot mount the host root over 9p"
mount -t cgroup2 none /sys/fs/cgroup || fail "cannot mount cgroup2"
for t in tmp run var/tmp; do mount -t tmpfs -o mode=1777 tmpfs /host/\$t || fail "tmpfs on /host/\$t"; done
# /var/lib (glassbox's default state) made writable: an overlay, a tmpfs over the host's files.
mkdir -p /ovl && mount -t tmpfs tmpfs /ovl && mkdir -p /ovl/u /ovl/w
mount -t overlay -o lowerdir=/host/var/lib,upperdir=/ovl/u,workdir=/ovl/w overlay /host/var/lib || fail "overlay on /host/var/lib"
mount --bind /proc /host/proc
mount --bind /dev /host/dev
mount --rbind /sys /host/sys
if [ $share_cwd = 1 ]; then
    mkdir -p "/host$cwd" && mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose checkout "/host$cwd" || fail "cannot mount the checkout share at $cwd"
fi
if [ $snap_rw = 1 ]; then
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 snaps /host$cwd/tests/snapshots || fail "cannot mount the snapshots share"
fi
cp /cmd /host/tmp/.gbvm-cmd
echo "GLASSBOX-VM: cgroup2 controllers: \$(cat /sys/fs/cgroup/cgroup.controllers)"
chroot /host /bin/sh /tmp/.gbvm-cmd
echo "GLASSBOX-VM-RESULT \$?"
sync
poweroff -f
INIT
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

# --- boot --------------------------------------------------------------
extra=()
if [ "$share_cwd" = 1 ]; then
    extra+=(-virtfs "local,path=$cwd,mount_tag=checkout,security_model=none,readonly=on,multidevs=remap")
fi
if [ "$snap_rw" = 1 ]; then
    mkdir -p "$cwd/tests/snapshots"
    extra+=(-virtfs "local,path=$cwd/tests/snapshots,mount_tag=snaps,security_model=none,multidevs=remap")
fi
log=$work/console.log
set +e
timeout "${VM_TIMEOUT:-900}" qemu-system-x86_64 \
    -accel tcg -m "${VM_MEM:-2048}" -smp "${VM_CPUS:-2}" -nographic -no-reboot \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet loglevel=1 ${VM_APPEND:-}" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    "${extra[@]}" </dev/null 2>&1 | tee "$log" | grep -v '^GLASSBOX-VM-RESULT'
qemu_rc=${PIPESTATUS[0]}
set -e
rc=$(tr -d '\r' < "$log" | sed -n 's/^GLASSBOX-VM-RESULT \([0-9]*\)$/\1/p' | tail -n1)
if [ -z "$rc" ]; then
    echo "run-in-vm: the VM did not report a result (qemu exit $qemu_rc): it failed to boot or timed out" >&2
    exit 2
fi
echo "run-in-vm: exit status $rc inside the VM" >&2
exit "$rc"
