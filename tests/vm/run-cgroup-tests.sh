#!/usr/bin/env bash
# Run the cgroup integration tests inside a cgroup-v2 VM (tests/vm/run-in-vm.sh).
#
#   tests/vm/run-cgroup-tests.sh            build the test binaries, then run them in the VM
#   GLASSBOX_VM_TEST_BINS="BIN..." tests/vm/run-cgroup-tests.sh
#                                           run these already built binaries instead
#   INSTA_UPDATE=always tests/vm/run-cgroup-tests.sh --snapshots-rw
#                                           (re)write the v2 snapshots from inside the VM
#
# These are the very binaries `cargo test --test cgroup_cli --test
# cgroup_limits --test cgroup_cpu --test container_limits --test
# container_trace --test container_stats` builds and runs on the host:
# inside the VM they find cgroup v2 and test it (container_trace: the -v
# trace of a whole run; container_stats: stats read from v2 files). cgroup_cpu
# and container_limits (the limits through `run`, with a CPU ratio) run
# last, alone, with --test-threads=1. Do not run this beside other tests
# (the CPU ratios).
# container_pause (the freezer) and container_update (live limits) run too.
# Exit status: 0 when every test passed inside the VM, non-zero otherwise
# (2 when the VM did not boot or did not report).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

rw=()
[ "${1:-}" = "--snapshots-rw" ] && rw=(--snapshots-rw)

bins=${GLASSBOX_VM_TEST_BINS:-}
if [ -z "$bins" ]; then
    bins=$(cargo test --no-run --message-format=json \
            --test cgroup_cli --test cgroup_limits --test cgroup_cpu \
            --test container_pause --test container_update \
            --test container_limits --test container_trace --test container_stats 2>/dev/null |
        jq -r 'select(.reason == "compiler-artifact" and .profile.test == true and .executable != null) | .executable')
fi
[ -n "$bins" ] || { echo "run-cgroup-tests: no test binary built" >&2; exit 2; }

script=$(mktemp /tmp/gbvm-script.XXXXXX)
trap 'rm -f "$script"' EXIT
{
    echo 'status=0'
    # the CPU tests last and alone
    for b in $bins; do
        case "$(basename "$b")" in cgroup_cpu-* | container_limits-*) ;; *)
            printf 'echo "=== %s"; %q || status=1\n' "$(basename "$b")" "$b" ;;
        esac
    done
    for b in $bins; do
        case "$(basename "$b")" in cgroup_cpu-* | container_limits-*)
            printf 'echo "=== %s (alone)"; %q --test-threads=1 --nocapture || status=1\n' "$(basename "$b")" "$b" ;;
        esac
    done
    echo 'exit $status'
} > "$script"
rc=0
"$here/run-in-vm.sh" "${rw[@]}" --script "$script" || rc=$?

exit $rc
