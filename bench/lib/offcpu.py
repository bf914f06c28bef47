#!/usr/bin/env python3
"""Where the time of `glassbox run` goes, per process, from a perf trace.

Reads `perf script -F comm,pid,tid,time,event,trace,ip,sym` of a recording
made with `perf record -g -a -e sched:sched_switch -e sched:sched_process_fork
-e sched:sched_process_exec` around a loop of glassbox commands, and prints,
for each role (the CLI, the shim it starts, the container's processes),
its time on a CPU and its time off a CPU, the latter split by why it
waited: the kernel functions under `schedule()` at the moment it left the
CPU (a grace period in `synchronize_rcu`, an fsync, a lock, a socket read
from the other process...). Times are per run (divided by RUNS).

    perf script ... | offcpu.py DRIVER RUNS [TOP [COMM [LABELS]]]

DRIVER is the pid of the shell that ran the loop: only its descendants
count (perf records the whole machine, other glassbox processes too).
COMM (default glassbox) names the engine's processes; LABELS (default
"cli,shim,container") names its process, its child and what is below.

Roles come from the fork tree: a glassbox process started by the driving
shell is a CLI; a process forked by a CLI is its shim; anything below a
shim is the container. Threads count with their process.
"""
import re
import sys
from collections import defaultdict

driver = int(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
top = int(sys.argv[3]) if len(sys.argv) > 3 else 12
engine = sys.argv[4] if len(sys.argv) > 4 else "glassbox"
labels = (sys.argv[5] if len(sys.argv) > 5 else "cli,shim,container").split(",")

HEADER = re.compile(r"^\s*(.+?)\s+(\d+)/(\d+)\s+(?:\[\d+\]\s+)?([\d.]+):\s+([\w:]+):\s+(.*)$")
SWITCH = re.compile(r"prev_comm=(.*?) prev_pid=(\d+) .*prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)")
FORK = re.compile(r"comm=(.*?) pid=(\d+) child_comm=(.*?) child_pid=(\d+)")
# Frames that say "waiting" without saying for what.
GENERIC = {
    "__schedule", "schedule", "schedule_timeout", "io_schedule", "io_schedule_timeout",
    "wait_for_completion", "wait_for_completion_state", "wait_for_completion_killable",
    "__wait_for_common", "wait_for_common", "schedule_hrtimeout_range",
    "schedule_hrtimeout_range_clock", "schedule_preempt_disabled",
    "preempt_schedule_common", "__cond_resched", "_cond_resched", "__wait_rcu_gp",
    "synchronize_rcu_normal", "rwsem_down_write_slowpath", "rwsem_down_read_slowpath",
    "bit_wait_io", "__wait_on_bit", "out_of_line_wait_on_bit", "folio_wait_bit_common",
    "__mutex_lock", "mutex_lock", "__mutex_lock_slowpath", "__mutex_lock.constprop.0",
    "percpu_rwsem_wait", "__percpu_down_read", "rcu_sync_enter",
    "do_nanosleep", "hrtimer_nanosleep", "common_nsleep",
}


def events(lines):
    cur = None
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if cur:
                yield cur
            cur = None
            continue
        m = None if line.startswith(("\t", " " * 8)) else HEADER.match(line)
        if m:
            if cur:
                yield cur
            cur = {"pid": int(m.group(2)), "tid": int(m.group(3)), "t": float(m.group(4)),
                   "ev": m.group(5), "args": m.group(6), "stack": []}
        elif cur is not None:
            parts = line.split()
            if len(parts) >= 2:
                cur["stack"].append(parts[1])
    if cur:
        yield cur


def reason(stack, state):
    if state.startswith("R"):
        return "preempted: waiting for a CPU"
    frames = [f for f in stack if f not in GENERIC and not f.startswith(("0x", "[unknown]"))]
    # The first three telling frames, innermost first.
    return " < ".join(frames[:3]) if frames else "?"


tgid = {}          # tid -> pid (thread group)
parent = {}        # child tid -> parent tid (from fork events)
comm = {}          # pid -> last comm seen
on = defaultdict(float)
off = defaultdict(lambda: defaultdict(float))
offn = defaultdict(lambda: defaultdict(int))
switched_in = {}   # tid -> time it got a CPU
switched_out = {}  # tid -> (time, reason)

all_events = list(events(sys.stdin))
for e in all_events:
    tgid[e["tid"]] = e["pid"]
    if e["ev"] == "sched:sched_process_fork":
        m = FORK.search(e["args"])
        if m:
            parent[int(m.group(4))] = int(m.group(2))
    elif e["ev"] == "sched:sched_switch":
        m = SWITCH.search(e["args"])
        if not m:
            continue
        prev, state, nxt = int(m.group(2)), m.group(3), int(m.group(5))
        comm[e["pid"]] = m.group(1)
        t = e["t"]
        if prev in switched_in:
            on[prev] += t - switched_in.pop(prev)
        switched_out[prev] = (t, reason(e["stack"], state))
        switched_in[nxt] = t
        if nxt in switched_out:
            t0, why = switched_out.pop(nxt)
            off[nxt][why] += t - t0
            offn[nxt][why] += 1


def pid_of(tid):
    return tgid.get(tid, tid)


def parent_pid(pid):
    p = parent.get(pid)
    return pid_of(p) if p is not None else None


role_cache = {}


def role(pid):
    """cli, shim, container (LABELS) or None (not below DRIVER), from the
    fork tree: the topmost engine process above (or at) pid is the CLI;
    one below it is the shim; further below is the container."""
    if pid not in role_cache:
        chain, p = [pid], parent_pid(pid)
        while p is not None and len(chain) < 64:
            chain.append(p)
            p = parent_pid(p)
        top_gb = None
        if driver not in chain:
            role_cache[pid] = None
            return None
        for i, p in enumerate(chain):
            if comm.get(p, "").startswith(engine):
                top_gb = i
        role_cache[pid] = None if top_gb is None else labels[min(top_gb, 2)]
    return role_cache[pid]


on_role = defaultdict(float)
off_role = defaultdict(lambda: defaultdict(float))
n_role = defaultdict(lambda: defaultdict(int))
pids_role = defaultdict(set)
for tid in set(on) | set(off):
    r = role(pid_of(tid))
    if r is None:
        continue
    pids_role[r].add(pid_of(tid))
    on_role[r] += on[tid]
    for why, v in off[tid].items():
        off_role[r][why] += v
        n_role[r][why] += offn[tid][why]

for r in labels:
    if r not in pids_role:
        continue
    total_off = sum(off_role[r].values())
    print(f"{r}: on a CPU {on_role[r] * 1000 / runs:.1f} ms, off a CPU {total_off * 1000 / runs:.1f} ms per run"
          f" ({len(pids_role[r])} processes in {runs} runs)")
    for why, v in sorted(off_role[r].items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {v * 1000 / runs:7.2f} ms  x{n_role[r][why] / runs:5.1f}  {why}")
