/* escape: one escape attempt per subcommand, run inside a container by the
 * escape tests (tests/common/escape.rs builds it and adds it to the test
 * image). Each prints one line, "ok ..." when the attempt worked or
 * "denied NAME (errno N: text)" when the kernel refused it, and exits 0
 * or 1 accordingly (2 for bad usage). Read seccomp(2), capabilities(7).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int result(const char *what, long r) {
    if (r < 0) {
        int e = errno;
        printf("denied %s (errno %d: %s)\n", what, e, strerror(e));
        return 1;
    }
    printf("ok %s\n", what);
    return 0;
}

static int ns_flag(const char *name) {
    static const struct { const char *n; int f; } t[] = {
        {"mnt", CLONE_NEWNS}, {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC},
        {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"user", CLONE_NEWUSER},
        {"cgroup", CLONE_NEWCGROUP},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(t[i].n, name)) return t[i].f;
    return -1;
}

/* The double-chroot escape: chroot into a subdirectory while keeping the
 * working directory outside it, walk up with "..", chroot("."), and see
 * whether PATH (a file only the host has) is now reachable. */
static int chroot_escape(const char *path) {
    mkdir("escape-dir", 0755);
    if (chroot("escape-dir") < 0) return result("chroot", -1);
    for (int i = 0; i < 64; i++) if (chdir("..") < 0) break;
    if (chroot(".") < 0) return result("chroot .", -1);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) { printf("ok escaped: %s is readable\n", path); return 0; }
    printf("denied escape (errno %d: %s)\n", errno, strerror(errno));
    return 1;
}

/* Every descriptor above 2 and what it points at. */
static int fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return result("opendir /proc/self/fd", -1);
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd <= 2 || fd == dfd) continue;
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = 0;
        printf("fd %d %s\n", fd, target);
    }
    closedir(d);
    printf("ok fds\n");
    return 0;
}

/* For SECONDS, look at every other process's /proc/PID/exe: print each one
 * that can be opened (a joining `exec` that is dumpable would show the
 * host's binary here: CVE-2019-5736). */
static int watch_exe(int seconds) {
    time_t end = time(NULL) + seconds;
    int seen = 0;
    while (time(NULL) < end) {
        DIR *d = opendir("/proc");
        if (!d) return result("opendir /proc", -1);
        struct dirent *e;
        while ((e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 1 || pid == getpid()) continue;
            char link[64], target[PATH_MAX];
            snprintf(link, sizeof link, "/proc/%d/exe", pid);
            int fd = open(link, O_PATH);
            if (fd < 0) continue;
            char fdl[64];
            snprintf(fdl, sizeof fdl, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(fdl, target, sizeof target - 1);
            target[n < 0 ? 0 : n] = 0;
            printf("exe %d %s\n", pid, target);
            fflush(stdout);
            close(fd);
            seen++;
        }
        closedir(d);
        usleep(2000);
    }
    printf("ok watched, %d opened\n", seen);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: escape keyctl|bpf|perf|clone3|unshare NS|mount DIR|"
                "handle|ptrace PID|settime|module|chroot PATH|fds|watch-exe SECONDS|"
                "mknod-open PATH MAJOR MINOR|sethostname NAME|kill PID\n");
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "keyctl"))
        return result("keyctl", syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, 0));
    if (!strcmp(c, "bpf")) {
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.map_type = BPF_MAP_TYPE_ARRAY;
        a.key_size = 4;
        a.value_size = 4;
        a.max_entries = 1;
        return result("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a));
    }
    if (!strcmp(c, "perf")) {
        struct perf_event_attr a;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        a.type = PERF_TYPE_SOFTWARE;
        a.config = PERF_COUNT_SW_CPU_CLOCK;
        a.exclude_kernel = 1;
        return result("perf_event_open", syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
    }
    if (!strcmp(c, "clone3")) {
        uint64_t args[11];
        memset(args, 0, sizeof args);
        args[4] = SIGCHLD; /* exit_signal */
        long pid = syscall(SYS_clone3, args, 88);
        if (pid == 0) _exit(0);
        if (pid > 0) waitpid(pid, NULL, 0);
        return result("clone3", pid);
    }
    if (!strcmp(c, "unshare") && argc > 2) {
        int f = ns_flag(argv[2]);
        if (f < 0) return 2;
        return result("unshare", unshare(f));
    }
    if (!strcmp(c, "mount") && argc > 2)
        return result("mount", mount("none", argv[2], "tmpfs", 0, ""));
    if (!strcmp(c, "handle")) {
        /* the shocker escape: a handle for the root, then open it */
        struct { struct file_handle h; unsigned char b[128]; } fh;
        int mnt;
        fh.h.handle_bytes = 128;
        if (name_to_handle_at(AT_FDCWD, "/", &fh.h, &mnt, 0) < 0)
            return result("name_to_handle_at", -1);
        return result("open_by_handle_at", open_by_handle_at(AT_FDCWD, &fh.h, O_RDONLY));
    }
    if (!strcmp(c, "ptrace") && argc > 2)
        return result("ptrace", ptrace(PTRACE_ATTACH, atoi(argv[2]), 0, 0));
    if (!strcmp(c, "kill") && argc > 2)
        return result("kill", kill(atoi(argv[2]), 0));
    if (!strcmp(c, "settime")) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        return result("clock_settime", clock_settime(CLOCK_REALTIME, &t));
    }
    if (!strcmp(c, "module"))
        return result("init_module", syscall(SYS_init_module, "", 0, ""));
    if (!strcmp(c, "chroot") && argc > 2)
        return chroot_escape(argv[2]);
    if (!strcmp(c, "fds"))
        return fds();
    if (!strcmp(c, "watch-exe") && argc > 2)
        return watch_exe(atoi(argv[2]));
    if (!strcmp(c, "sethostname") && argc > 2)
        return result("sethostname", sethostname(argv[2], strlen(argv[2])));
    if (!strcmp(c, "mknod-open") && argc > 4) {
        dev_t dev = makedev(atoi(argv[3]), atoi(argv[4]));
        if (mknod(argv[2], S_IFBLK | 0600, dev) < 0) return result("mknod", -1);
        printf("ok mknod\n");
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) return result("open", -1);
        char buf[512];
        return result("read", read(fd, buf, sizeof buf));
    }
    fprintf(stderr, "escape: unknown attempt %s\n", c);
    return 2;
}
