// rtt.c: the floor of one seccomp user-notification round trip, with a C
// target and a C supervisor and nothing else in the way. mfs bench compiles
// it (cc -O2, embedded in the mfs binary) and runs it once per bench; the
// `run` mode's figures are compared against trapped calls × these round
// trips (bench/doc.go, "C-probe"). It is the probe of INTERCEPT.md §4 kept
// in the repository.
//
//	usage: rtt N FILE [MISS]   FILE: an existing regular file on the branches' file system;
//	                           MISS: a path that does not exist
//	       rtt --loops N FILE [OUTSIDE]   the target's loops only (see loops())
//
// Three processes: the parent waits; the target times N calls of each kind
// natively, installs a filter that traps newfstatat and openat with
// SECCOMP_FILTER_FLAG_NEW_LISTENER, hands the listener to the supervisor
// over a socketpair and times N calls of each kind again; the supervisor
// answers them on one thread with blocking ioctls:
//
//	continue       newfstatat(FILE, flags 0): CONTINUE, the path not even read
//	path-continue  newfstatat(FILE, AT_NO_AUTOMOUNT): path read, CONTINUE (what a
//	               union supervisor pays for a call it finds outside its unions;
//	               no ID_VALID: a CONTINUE acts on nothing the supervisor read)
//	stat           newfstatat(FILE, AT_SYMLINK_NOFOLLOW): path read (process_vm_readv),
//	               NOTIF_ID_VALID, fstatat by the supervisor, struct stat written
//	               back (process_vm_writev)
//	open           openat(FILE, O_RDONLY) + close: path read, ID_VALID, open by the
//	               supervisor, injected with ADDFD|SEND, the supervisor's copy closed
//
// With MISS, stat-miss and open-miss repeat stat and open with one more
// lookup by the supervisor first, fstatat(MISS) failing with ENOENT: the
// least a union supervisor does for a file found on its second branch (the
// first branch searched and missed), and the average over a file spread
// evenly across three branches searched first-found.
//
// Output: one "name nanoseconds-per-call" line each for native-stat,
// native-open (openat+close), continue, path-continue, stat, open (open =
// openat+close), with MISS stat-miss and open-miss, then "sync-wake-up 0|1"
// (whether SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 6.6+, was on). Pin the whole
// thing with taskset to measure one CPU.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

static void die(const char *what) {
	fprintf(stderr, "rtt: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long do_stat(const char *path, int flags) {
	struct stat st;
	return syscall(SYS_newfstatat, AT_FDCWD, path, &st, flags);
}

static long do_open_close(const char *path, int extra) {
	long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | extra);
	if (fd < 0)
		return fd;
	close((int)fd);
	return 0;
}

// The kinds of call the target times. The flags that tell them apart
// change nothing natively (AT_NO_AUTOMOUNT on a regular file, O_NOCTTY on
// one); the supervisor picks its answer by them.
enum { K_STAT, K_LSTAT, K_OPEN, K_PATH_CONTINUE, K_STAT_MISS, K_OPEN_MISS };

static long call(int k, const char *path) {
	switch (k) {
	case K_STAT:
		return do_stat(path, 0);
	case K_LSTAT:
		return do_stat(path, AT_SYMLINK_NOFOLLOW);
	case K_OPEN:
		return do_open_close(path, 0);
	case K_PATH_CONTINUE:
		return do_stat(path, AT_NO_AUTOMOUNT);
	case K_STAT_MISS:
		return do_stat(path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT);
	default:
		return do_open_close(path, O_NOCTTY);
	}
}

// timed returns nanoseconds per call of kind k over n calls.
static double timed(int k, const char *path, long n) {
	for (long i = 0; i < n / 20 + 1; i++) { // warm-up
		if (call(k, path) != 0)
			die("warm-up call");
	}
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (call(k, path) != 0)
			die("timed call");
	}
	return (now_ns() - t0) / n;
}

static void send_fd(int sock, int fd) {
	char dummy = 'L';
	struct iovec iov = {.iov_base = &dummy, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (sendmsg(sock, &msg, 0) != 1)
		die("sendmsg");
}

static int recv_fd(int sock) {
	char dummy;
	struct iovec iov = {.iov_base = &dummy, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	if (recvmsg(sock, &msg, 0) != 1)
		die("recvmsg");
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_type != SCM_RIGHTS)
		die("no listener received");
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

static void target(int sock, const char *path, int miss, long n) {
	double nstat = timed(K_STAT, path, n), nopen = timed(K_OPEN, path, n);
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_newfstatat, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die("no_new_privs");
	int lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (lfd < 0)
		die("seccomp(NEW_LISTENER)");
	send_fd(sock, lfd);
	close(lfd);
	char ack;
	if (read(sock, &ack, 1) != 1) // the supervisor is ready (read is not trapped)
		die("waiting for the supervisor");
	double cont = timed(K_STAT, path, n), pcont = timed(K_PATH_CONTINUE, path, n);
	double st = timed(K_LSTAT, path, n), op = timed(K_OPEN, path, n);
	char out[512];
	int len = snprintf(out, sizeof out, "native-stat %.1f\nnative-open %.1f\ncontinue %.1f\npath-continue %.1f\nstat %.1f\nopen %.1f\n",
			   nstat, nopen, cont, pcont, st, op);
	if (miss)
		len += snprintf(out + len, sizeof out - len, "stat-miss %.1f\nopen-miss %.1f\n",
				timed(K_STAT_MISS, path, n), timed(K_OPEN_MISS, path, n));
	len += snprintf(out + len, sizeof out - len, "sync-wake-up %c\n", ack);
	if (write(1, out, len) != len)
		die("write");
	exit(0);
}

// readpath copies the task's path at addr (up to the end of its page, as
// mfs does page by page) into buf.
static int readpath(pid_t pid, uint64_t addr, char *buf, size_t size) {
	size_t len = 4096 - (addr & 4095);
	if (len > size - 1)
		len = size - 1;
	struct iovec l = {.iov_base = buf, .iov_len = len}, r = {.iov_base = (void *)addr, .iov_len = len};
	ssize_t got = process_vm_readv(pid, &l, 1, &r, 1, 0);
	if (got <= 0)
		return -1;
	buf[got] = 0;
	return strnlen(buf, got) < (size_t)got ? 0 : -1;
}

// missed looks up the supervisor's MISS path, which must not exist.
static void missed(const char *miss) {
	struct stat st;
	if (fstatat(AT_FDCWD, miss, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		die("MISS exists or cannot be looked up");
}

static void supervisor(int sock, const char *miss) {
	int lfd = recv_fd(sock);
	char ack = '1';
	__u64 flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
	if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags) != 0)
		ack = '0';
	struct seccomp_notif_sizes sz;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) != 0)
		die("GET_NOTIF_SIZES");
	struct seccomp_notif *req = calloc(1, sz.seccomp_notif > sizeof *req ? sz.seccomp_notif : sizeof *req);
	struct seccomp_notif_resp *resp = calloc(1, sz.seccomp_notif_resp > sizeof *resp ? sz.seccomp_notif_resp : sizeof *resp);
	if (write(sock, &ack, 1) != 1)
		die("ack");
	char path[4096];
	for (;;) {
		memset(req, 0, sz.seccomp_notif);
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			exit(0); // the target is gone
		}
		memset(resp, 0, sz.seccomp_notif_resp);
		resp->id = req->id;
		int nr = req->data.nr;
		int statf = (int)req->data.args[3];
		if (nr == SYS_newfstatat && statf == AT_NO_AUTOMOUNT) {
			if (readpath(req->pid, req->data.args[1], path, sizeof path) != 0)
				continue;
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		} else if (nr == SYS_newfstatat && (statf & AT_SYMLINK_NOFOLLOW)) {
			struct stat st;
			if (readpath(req->pid, req->data.args[1], path, sizeof path) != 0 ||
			    ioctl(lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0)
				continue;
			if (statf & AT_NO_AUTOMOUNT)
				missed(miss);
			if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
				resp->error = -errno;
			} else {
				struct iovec l = {.iov_base = &st, .iov_len = sizeof st}, r = {.iov_base = (void *)req->data.args[2], .iov_len = sizeof st};
				if (process_vm_writev(req->pid, &l, 1, &r, 1, 0) != sizeof st)
					resp->error = -EFAULT;
			}
		} else if (nr == SYS_openat && req->data.args[0] == (__u64)(unsigned)AT_FDCWD) {
			if (readpath(req->pid, req->data.args[1], path, sizeof path) != 0 ||
			    ioctl(lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0)
				continue;
			int oflags = (int)req->data.args[2];
			if (oflags & O_NOCTTY)
				missed(miss);
			int fd = openat(AT_FDCWD, path, oflags & ~O_CLOEXEC, (mode_t)req->data.args[3]);
			if (fd < 0) {
				resp->error = -errno;
			} else {
				struct seccomp_notif_addfd a = {
					.id = req->id,
					.flags = SECCOMP_ADDFD_FLAG_SEND,
					.srcfd = fd,
					.newfd_flags = oflags & O_CLOEXEC,
				};
				int r = ioctl(lfd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
				close(fd);
				if (r >= 0)
					continue; // ADDFD|SEND answered the call
				resp->error = -errno;
			}
		} else {
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		}
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0 && errno != ENOENT)
			die("NOTIF_SEND");
	}
}

// loops: `rtt --loops N FILE [OUTSIDE]` times the target's calls and
// nothing else (no filter of its own): run under `mfs run` with FILE in a
// union, it measures mfs's supervisor with this same C target, for a like-
// for-like ratio to the C supervisor. OUTSIDE (a file outside every union)
// adds "outside-stat": path read + CONTINUE.
static int loops(long n, const char *path, const char *outside) {
	printf("stat %.1f\nlstat %.1f\nopen %.1f\n", timed(0, path, n), timed(1, path, n), timed(2, path, n));
	if (outside)
		printf("outside-stat %.1f\n", timed(0, outside, n));
	return 0;
}

int main(int argc, char **argv) {
	if (argc >= 4 && strcmp(argv[1], "--loops") == 0 && atol(argv[2]) > 0)
		return loops(atol(argv[2]), argv[3], argc > 4 ? argv[4] : NULL);
	if (argc < 3 || argc > 4 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: rtt N FILE [MISS] | rtt --loops N FILE [OUTSIDE]\n");
		return 2;
	}
	long n = atol(argv[1]);
	const char *path = argv[2], *miss = argc > 3 ? argv[3] : NULL;
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		die(path);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
		die("socketpair");
	pid_t sup = fork();
	if (sup < 0)
		die("fork");
	if (sup == 0) {
		close(sp[0]);
		supervisor(sp[1], miss);
		return 0;
	}
	pid_t tgt = fork();
	if (tgt < 0)
		die("fork");
	if (tgt == 0) {
		close(sp[1]);
		target(sp[0], path, miss != NULL, n);
	}
	close(sp[0]);
	close(sp[1]);
	int ws;
	if (waitpid(tgt, &ws, 0) < 0)
		die("waitpid");
	kill(sup, SIGKILL);
	waitpid(sup, NULL, 0);
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		fprintf(stderr, "rtt: the target failed (status 0x%x)\n", ws);
		return 1;
	}
	return 0;
}
