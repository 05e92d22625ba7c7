/*
 * faulthelper: the workload of intercept/faults_test.go. Each subcommand
 * drives emulated path syscalls into a union while processes are killed,
 * threads exit or exec, signals arrive or ids change, and checks that every
 * emulated call took effect exactly once: it exits with a code of 3 or more
 * (and a message on stderr) when a call it made on a fresh name failed as if
 * it had already run (EEXIST) or had been lost (ENOENT), or a create returned
 * an fd that is not the file it created.
 *
 *   fifo-open r|w FIFO         open FIFO for reading or writing (blocks)
 *   wait-blocked PID           until PID (or its thread) waits in open/openat
 *   no-reader FIFO             after 300 ms: nobody holds FIFO open (ENXIO)
 *   no-writer FIFO             after 300 ms: a non-blocking reader sees EOF
 *   ops DIR CODE               one step in DIR, then exit CODE
 *   check DIR                  the steps under DIR are consistent (see check)
 *   storm DIR WORKERS GENS     workers stepping in DIR, SIGKILLed at random
 *   tstorm DIR THREADS MS CODE threads stepping; exit_group after MS ms
 *   thread-fifo MODE DIR FIFO [FIFO2]
 *                              a thread blocked in a FIFO open, then
 *                              MODE exit: exit_group(42); exec: the process
 *                              execs `ops DIR 43`; thread-exec: the leader
 *                              blocks on FIFO2 too and a third thread execs
 *                              `ops DIR 44`
 *   sigstorm DIR N RESTART     N rounds of mkdir/create/rename/create/unlink
 *                              under SIGALRM (setitimer) and SIGUSR1 (a
 *                              child's kill), handlers with SA_RESTART or not
 *   sig-fifo FIFO              open FIFO for reading under SIGALRM (handler
 *                              without SA_RESTART) while a child opens the
 *                              writing end 300 ms later
 *   forkmany DIR N SCAN        N children (exit codes 1..N), each with two
 *                              threads and an orphaned grandchild; SCAN=1:
 *                              no zombie may stay in this PID namespace
 *   probe ACTION...            identity probes (setuid tests): ids,
 *                              read:P, access:P, eaccess:P, create:P,
 *                              mkdir:P, stat:P, setfsuid:N, dropall
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char self[4096];

static void fail(int code, const char *what, const char *path, int err) {
	fprintf(stderr, "faulthelper[%d]: %s %s: %s\n", (int)getpid(), what, path ? path : "", err ? strerror(err) : "inconsistent");
	_exit(code);
}

static int exists(const char *p) {
	struct stat st;
	for (;;) {
		if (lstat(p, &st) == 0)
			return 1;
		if (errno == ENOENT)
			return 0;
		if (errno != EINTR)
			fail(20, "lstat", p, errno);
	}
}

/* same_file: fd (returned by an emulated create of p) is p, not a stray or missing fd. */
static void same_file(int fd, const char *p) {
	struct stat a, b;
	if (fstat(fd, &a) != 0)
		fail(4, "fstat of the fd returned for", p, errno);
	for (;;) {
		if (lstat(p, &b) == 0)
			break;
		if (errno != EINTR)
			fail(4, "lstat", p, errno);
	}
	if (!S_ISREG(a.st_mode) || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		fail(4, "the fd returned is not the file created:", p, 0);
}

/*
 * step makes DIR/PREFIX_K, creates f in it with O_EXCL, renames f to g and
 * stats g: four emulated calls on fresh names, so EEXIST or ENOENT means an
 * emulation ran twice or was lost.
 */
static void step(const char *dir, const char *prefix, long k) {
	char d[4096], f[4200], g[4200];
	struct stat st;
	snprintf(d, sizeof d, "%s/%s_%ld", dir, prefix, k);
	snprintf(f, sizeof f, "%s/f", d);
	snprintf(g, sizeof g, "%s/g", d);
	if (mkdir(d, 0755) != 0)
		fail(3, "mkdir", d, errno);
	int fd = open(f, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		fail(4, "create", f, errno);
	same_file(fd, f);
	close(fd);
	if (rename(f, g) != 0)
		fail(5, "rename", f, errno);
	if (stat(g, &st) != 0)
		fail(6, "stat", g, errno);
}

/*
 * check_prefix verifies the steps PREFIX_0.. under DIR: every one but the
 * last is complete (g, no f), the last holds at most one of f and g.
 * Returns how many there are.
 */
static long check_prefix(const char *dir, const char *prefix) {
	long n = 0;
	char d[4096], f[4200], g[4200];
	for (;; n++) {
		snprintf(d, sizeof d, "%s/%s_%ld", dir, prefix, n);
		if (!exists(d))
			break;
	}
	for (long k = 0; k < n; k++) {
		snprintf(f, sizeof f, "%s/%s_%ld/f", dir, prefix, k);
		snprintf(g, sizeof g, "%s/%s_%ld/g", dir, prefix, k);
		int hf = exists(f), hg = exists(g);
		if (k < n - 1 && (hf || !hg))
			fail(8, "incomplete step", f, 0);
		if (hf && hg)
			fail(8, "both f and g", f, 0);
	}
	return n;
}

/* check verifies every prefix of the steps in DIR and that no name is out of sequence. */
static int check(const char *dir) {
	enum { MAXP = 1024 };
	static char prefixes[MAXP][64];
	static long counts[MAXP];
	int np = 0;
	long entries = 0, total = 0;
	DIR *dp = opendir(dir);
	if (!dp)
		fail(8, "opendir", dir, errno);
	struct dirent *e;
	while ((e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		char *u = strrchr(e->d_name, '_');
		if (!u || u - e->d_name >= 63)
			fail(8, "unexpected entry", e->d_name, 0);
		entries++;
		int i;
		for (i = 0; i < np; i++)
			if (strlen(prefixes[i]) == (size_t)(u - e->d_name) && !strncmp(prefixes[i], e->d_name, u - e->d_name))
				break;
		if (i == np) {
			if (np == MAXP)
				fail(8, "too many prefixes", dir, 0);
			memcpy(prefixes[np], e->d_name, u - e->d_name);
			prefixes[np][u - e->d_name] = 0;
			np++;
		}
		counts[i]++;
	}
	closedir(dp);
	for (int i = 0; i < np; i++) {
		long n = check_prefix(dir, prefixes[i]);
		if (n != counts[i])
			fail(8, "gap in the sequence of", prefixes[i], 0);
		total += n;
	}
	printf("check ok prefixes=%d steps=%ld\n", np, total);
	return 0;
}

static int wait_blocked(pid_t pid, pid_t tid) {
	char p[128], b[256];
	snprintf(p, sizeof p, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	for (int i = 0; i < 2500; i++) {
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail(9, "open", p, errno);
		ssize_t n = read(fd, b, sizeof b - 1);
		close(fd);
		if (n > 0) {
			b[n] = 0;
			if (!strncmp(b, "257 ", 4) || !strncmp(b, "2 ", 2)) {
				usleep(50000); /* let the supervisor receive it and start its own open */
				return 0;
			}
		}
		usleep(2000);
	}
	fail(9, "never blocked in open:", p, 0);
	return 1;
}

static int fifo_open(const char *mode, const char *fifo) {
	int fd = open(fifo, mode[0] == 'w' ? O_WRONLY : O_RDONLY);
	if (fd < 0)
		fail(10, "fifo open", fifo, errno);
	printf("opened\n");
	return 0;
}

/*
 * no_reader: once the watchdog had time to complete the supervisor's open
 * of a reader that was killed, nobody holds the FIFO open for reading.
 * The probe itself would complete a stuck open, so it is made only once.
 */
static int no_reader(const char *fifo) {
	usleep(300000);
	int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENXIO) {
		printf("no-reader\n");
		return 0;
	}
	if (fd >= 0)
		printf("reader-left\n");
	else
		printf("no-reader probe: %s\n", strerror(errno));
	return 1;
}

/* no_writer: likewise for a killed writer; a writer would make read block (EAGAIN). */
static int no_writer(const char *fifo) {
	char c;
	usleep(300000);
	int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fail(10, "open", fifo, errno);
	ssize_t n = read(fd, &c, 1);
	close(fd);
	if (n == 0) {
		printf("no-writer\n");
		return 0;
	}
	printf("writer-left (%zd %s)\n", n, n < 0 ? strerror(errno) : "");
	return 1;
}

static int ops(const char *dir, int code) {
	char pre[64];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts); /* pids repeat across runs (PID namespaces) */
	snprintf(pre, sizeof pre, "ops%dt%ld%09ld", (int)getpid(), (long)ts.tv_sec, ts.tv_nsec);
	step(dir, pre, 0);
	return code;
}

static int storm(const char *dir, int nw, int gens) {
	volatile long *committed = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (committed == MAP_FAILED || nw > 64)
		fail(2, "setup", dir, errno);
	pid_t parent = getpid();
	srand(parent ^ time(NULL));
	long total = 0;
	int kills = 0;
	for (int gen = 0; gen < gens; gen++) {
		char gd[4096];
		pid_t pids[64];
		snprintf(gd, sizeof gd, "%s/g%d", dir, gen);
		if (mkdir(gd, 0755) != 0)
			fail(3, "mkdir", gd, errno);
		for (int i = 0; i < nw; i++) {
			committed[i] = 0;
			pids[i] = fork();
			if (pids[i] < 0)
				fail(2, "fork", NULL, errno);
			if (pids[i] == 0) {
				char pre[16];
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				if (getppid() != parent)
					_exit(1);
				snprintf(pre, sizeof pre, "w%d", i);
				for (long k = 0;; k++) {
					step(gd, pre, k);
					__atomic_store_n(&committed[i], k + 1, __ATOMIC_SEQ_CST);
				}
			}
		}
		for (int i = 0; i < nw; i++) {
			usleep(1000 + rand() % 6000);
			kill(pids[i], SIGKILL);
		}
		for (int i = 0; i < nw; i++) {
			int st;
			if (waitpid(pids[i], &st, 0) != pids[i])
				fail(2, "waitpid", NULL, errno);
			if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
				fprintf(stderr, "worker %d: status %#x\n", i, st);
				_exit(2);
			}
			kills++;
		}
		for (int i = 0; i < nw; i++) {
			char pre[16];
			snprintf(pre, sizeof pre, "w%d", i);
			long c = __atomic_load_n(&committed[i], __ATOMIC_SEQ_CST);
			long n = check_prefix(gd, pre);
			if (n != c && n != c + 1) {
				fprintf(stderr, "%s/%s: %ld steps found, %ld completed\n", gd, pre, n, c);
				_exit(7);
			}
			total += c;
		}
	}
	printf("storm ok kills=%d steps=%ld\n", kills, total);
	return 0;
}

struct tsarg {
	const char *dir;
	int i;
};

static void *tstorm_thread(void *p) {
	struct tsarg *a = p;
	char pre[16];
	snprintf(pre, sizeof pre, "t%d", a->i);
	for (long k = 0;; k++)
		step(a->dir, pre, k);
	return NULL;
}

static int tstorm(const char *dir, int nt, int ms, int code) {
	static struct tsarg args[64];
	pthread_t th;
	if (nt > 64)
		nt = 64;
	for (int i = 0; i < nt; i++) {
		args[i] = (struct tsarg){dir, i};
		if (pthread_create(&th, NULL, tstorm_thread, &args[i]))
			fail(2, "pthread_create", NULL, 0);
	}
	usleep(ms * 1000);
	_exit(code); /* exit_group while the threads' calls are in flight */
}

static volatile pid_t blocked_tid;
static const char *tf_fifo, *tf_fifo2, *tf_dir;

static void *tf_reader(void *p) {
	(void)p;
	blocked_tid = syscall(SYS_gettid);
	int fd = open(tf_fifo, O_RDONLY);
	fprintf(stderr, "faulthelper: fifo open returned %d (%s)\n", fd, strerror(errno));
	_exit(9);
}

static void *tf_execer(void *p) {
	(void)p;
	while (!blocked_tid)
		usleep(1000);
	wait_blocked(getpid(), blocked_tid);
	wait_blocked(getpid(), getpid()); /* the leader, in its own FIFO open */
	execl(self, "faulthelper", "ops", tf_dir, "44", (char *)NULL);
	fail(9, "exec", self, errno);
	return NULL;
}

static int thread_fifo(const char *mode, const char *dir, const char *fifo, const char *fifo2) {
	pthread_t th;
	tf_fifo = fifo;
	tf_fifo2 = fifo2;
	tf_dir = dir;
	if (pthread_create(&th, NULL, tf_reader, NULL))
		fail(2, "pthread_create", NULL, 0);
	if (!strcmp(mode, "thread-exec")) {
		if (!fifo2 || pthread_create(&th, NULL, tf_execer, NULL))
			fail(2, "thread-exec setup", NULL, 0);
		int fd = open(tf_fifo2, O_RDONLY);
		fprintf(stderr, "faulthelper: leader's fifo open returned %d (%s)\n", fd, strerror(errno));
		_exit(9);
	}
	while (!blocked_tid)
		usleep(1000);
	wait_blocked(getpid(), blocked_tid);
	if (!strcmp(mode, "exit"))
		_exit(42);
	if (!strcmp(mode, "exec")) {
		execl(self, "faulthelper", "ops", dir, "43", (char *)NULL);
		fail(9, "exec", self, errno);
	}
	fail(2, "unknown mode", mode, 0);
	return 2;
}

static volatile sig_atomic_t nsig;
static void on_sig(int s) {
	(void)s;
	nsig++;
}

static void handlers(int restart) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
}

static void itimer(long us) {
	struct itimerval it = {{0, us}, {0, us}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static int restart_mode;
static long eintrs;

/* interrupted: a call returned EINTR; it must have had no effect, and only without SA_RESTART. */
static void interrupted(const char *what, const char *p, int happened) {
	if (restart_mode)
		fail(11, what, p, EINTR); /* SA_RESTART: the kernel restarts it */
	if (happened)
		fail(12, "EINTR but done:", p, 0);
	eintrs++;
}

static int create_excl(const char *p) {
	for (;;) {
		int fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd >= 0) {
			same_file(fd, p);
			return fd;
		}
		if (errno != EINTR)
			fail(4, "create", p, errno);
		interrupted("create", p, exists(p));
	}
}

static int sigstorm(const char *dir, int n, int restart) {
	restart_mode = restart;
	handlers(restart);
	pid_t parent = getpid();
	pid_t pester = fork();
	if (pester == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		while (kill(parent, SIGUSR1) == 0)
			usleep(50);
		_exit(0);
	}
	itimer(150);
	for (int k = 0; k < n; k++) {
		char d[4096], f[4200], g[4200], h[4200];
		snprintf(d, sizeof d, "%s/s_%d", dir, k);
		snprintf(f, sizeof f, "%s/f", d);
		snprintf(g, sizeof g, "%s/g", d);
		snprintf(h, sizeof h, "%s/h", d);
		while (mkdir(d, 0755) != 0) {
			if (errno != EINTR)
				fail(3, "mkdir", d, errno);
			interrupted("mkdir", d, exists(d));
		}
		close(create_excl(f));
		while (rename(f, g) != 0) {
			if (errno != EINTR)
				fail(5, "rename", f, errno);
			interrupted("rename", f, !exists(f) || exists(g));
		}
		close(create_excl(h));
		while (unlink(h) != 0) {
			if (errno != EINTR)
				fail(5, "unlink", h, errno);
			interrupted("unlink", h, !exists(h));
		}
		if (!exists(g) || exists(f) || exists(h))
			fail(6, "state of", d, 0);
	}
	itimer(0);
	kill(pester, SIGKILL);
	while (waitpid(pester, NULL, 0) < 0 && errno == EINTR)
		;
	long got = 0;
	DIR *dp = opendir(dir);
	if (!dp)
		fail(8, "opendir", dir, errno);
	struct dirent *e;
	while ((e = readdir(dp)))
		if (e->d_name[0] != '.')
			got++;
	closedir(dp);
	if (got != n) {
		fprintf(stderr, "%s: %ld entries, want %d\n", dir, got, n);
		return 13;
	}
	printf("sigstorm ok n=%d signals=%d eintr=%ld\n", n, (int)nsig, eintrs);
	return 0;
}

static int sig_fifo(const char *fifo) {
	handlers(0);
	pid_t w = fork();
	if (w == 0) {
		usleep(300000);
		int fd = open(fifo, O_WRONLY);
		if (fd < 0)
			fail(10, "writer open", fifo, errno);
		if (write(fd, "x", 1) != 1)
			fail(10, "write", fifo, errno);
		_exit(0);
	}
	itimer(1000);
	int fd = open(fifo, O_RDONLY);
	int err = errno;
	int during = nsig;
	itimer(0);
	char c = 0;
	if (fd < 0) {
		/* Natively: interrupted. Let the writer's open complete. */
		fd = open(fifo, O_RDONLY | O_NONBLOCK);
		while (waitpid(w, NULL, 0) < 0 && errno == EINTR)
			;
		printf("open %s\n", strerror(err));
		return 0;
	}
	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
	while (waitpid(w, NULL, 0) < 0 && errno == EINTR)
		;
	printf("open ok read %c signals %s\n", c, during > 0 ? "after" : "none");
	return 0;
}

static const char *fm_dir;
static void *fm_thread(void *p) {
	char *pre = p;
	for (int k = 0; k < 3; k++)
		step(fm_dir, pre, k);
	return NULL;
}

static int zombies(void) {
	int z = 0;
	DIR *dp = opendir("/proc");
	struct dirent *e;
	while (dp && (e = readdir(dp))) {
		char p[300], b[512];
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, b, sizeof b - 1);
		close(fd);
		if (n <= 0)
			continue;
		b[n] = 0;
		char *r = strrchr(b, ')');
		if (r && r[1] == ' ' && r[2] == 'Z')
			z++;
	}
	if (dp)
		closedir(dp);
	return z;
}

static int forkmany(const char *dir, int n, int scan) {
	int pfd[2];
	pid_t pids[1024];
	fm_dir = dir;
	if (n > 1024 || pipe2(pfd, O_CLOEXEC))
		fail(2, "setup", NULL, errno);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			fail(2, "fork", NULL, errno);
		if (pids[i] > 0)
			continue;
		/* child i */
		static char pre[3][32];
		pthread_t th[2];
		snprintf(pre[0], 32, "c%dt0", i);
		snprintf(pre[1], 32, "c%dt1", i);
		snprintf(pre[2], 32, "c%dm", i);
		pid_t g = fork();
		if (g == 0) {
			char gp[32];
			snprintf(gp, sizeof gp, "c%do", i);
			usleep(20000); /* outlive the child: an orphan */
			step(dir, gp, 0);
			_exit(200); /* holds pfd[1] until now */
		}
		for (int j = 0; j < 2; j++)
			if (pthread_create(&th[j], NULL, fm_thread, pre[j]))
				fail(2, "pthread_create", NULL, 0);
		fm_thread(pre[2]);
		for (int j = 0; j < 2; j++)
			pthread_join(th[j], NULL);
		_exit(i + 1);
	}
	close(pfd[1]);
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int st;
		if (waitpid(pids[i], &st, 0) != pids[i])
			fail(2, "waitpid", NULL, errno);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != i + 1) {
			fprintf(stderr, "child %d: status %#x, want exit %d\n", i, st, i + 1);
			bad++;
		}
	}
	char c;
	while (read(pfd[0], &c, 1) < 0 && errno == EINTR) /* EOF: every grandchild has exited */
		;
	if (bad)
		return 14;
	if (scan) {
		int z = 0;
		for (int i = 0; i < 200 && (z = zombies()) > 0; i++)
			usleep(10000);
		if (z > 0) {
			fprintf(stderr, "%d zombies left in the PID namespace\n", z);
			return 15;
		}
	}
	printf("forkmany ok children=%d\n", n);
	return 77;
}

static const char *errname(int e) {
	switch (e) {
	case 0:
		return "ok";
	case EACCES:
		return "EACCES";
	case EPERM:
		return "EPERM";
	case ENOENT:
		return "ENOENT";
	case EEXIST:
		return "EEXIST";
	default:
		return strerror(e);
	}
}

static int probe(int argc, char **argv) {
	for (int i = 0; i < argc; i++) {
		char *a = argv[i], *p = strchr(a, ':');
		int e = 0;
		if (p)
			p++;
		if (!strcmp(a, "ids")) {
			uid_t r, eu, s;
			gid_t rg, eg, sg;
			getresuid(&r, &eu, &s);
			getresgid(&rg, &eg, &sg);
			printf("ids uid=%d,%d,%d gid=%d,%d,%d\n", r, eu, s, rg, eg, sg);
			continue;
		} else if (!strcmp(a, "dropall")) {
			uid_t r = getuid();
			gid_t g = getgid();
			if (setresgid(g, g, g) || setresuid(r, r, r))
				e = errno;
		} else if (!strncmp(a, "setfsuid:", 9)) {
			setfsuid(atoi(p));
		} else if (!strncmp(a, "read:", 5)) {
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				e = errno;
			else
				close(fd);
		} else if (!strncmp(a, "access:", 7)) {
			if (access(p, R_OK))
				e = errno;
		} else if (!strncmp(a, "eaccess:", 8)) {
			if (faccessat(AT_FDCWD, p, R_OK, AT_EACCESS))
				e = errno;
		} else if (!strncmp(a, "create:", 7)) {
			int fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0640);
			if (fd < 0)
				e = errno;
			else
				close(fd);
		} else if (!strncmp(a, "mkdir:", 6)) {
			if (mkdir(p, 0750))
				e = errno;
		} else if (!strncmp(a, "stat:", 5)) {
			struct stat st;
			if (lstat(p, &st))
				e = errno;
			else {
				printf("%s %d:%d %o\n", a, st.st_uid, st.st_gid, st.st_mode & 07777);
				continue;
			}
		} else {
			fail(2, "unknown probe", a, 0);
		}
		printf("%s %s\n", a, errname(e));
	}
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0)
		self[n] = 0;
	if (argc < 2)
		return 2;
	const char *c = argv[1];
	if (!strcmp(c, "fifo-open") && argc == 4)
		return fifo_open(argv[2], argv[3]);
	if (!strcmp(c, "wait-blocked") && argc == 3)
		return wait_blocked(atoi(argv[2]), atoi(argv[2]));
	if (!strcmp(c, "no-reader") && argc == 3)
		return no_reader(argv[2]);
	if (!strcmp(c, "no-writer") && argc == 3)
		return no_writer(argv[2]);
	if (!strcmp(c, "ops") && argc == 4)
		return ops(argv[2], atoi(argv[3]));
	if (!strcmp(c, "check") && argc == 3)
		return check(argv[2]);
	if (!strcmp(c, "storm") && argc == 5)
		return storm(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(c, "tstorm") && argc == 6)
		return tstorm(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (!strcmp(c, "thread-fifo") && (argc == 5 || argc == 6))
		return thread_fifo(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
	if (!strcmp(c, "sigstorm") && argc == 5)
		return sigstorm(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(c, "sig-fifo") && argc == 3)
		return sig_fifo(argv[2]);
	if (!strcmp(c, "forkmany") && argc == 5)
		return forkmany(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(c, "probe"))
		return probe(argc - 2, argv + 2);
	fprintf(stderr, "faulthelper: bad arguments\n");
	return 2;
}
