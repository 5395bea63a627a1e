// SPDX-License-Identifier: GPL-2.0
/*
 * hbx seccomp learn: the workload runs in a cgroup of its own, and a CO-RE
 * program on raw_syscalls:sys_enter (bpf/syscalls.bpf.c) counts the
 * syscalls of that cgroup's tasks only, and of the cgroups the workload
 * makes below it.  The cgroup, not a pid list, is what catches every
 * child and thread, however the workload forks.
 *
 * The program is attached before the child exists; the child then moves
 * itself into the cgroup and execs.  The write that moves it entered the
 * kernel from the old cgroup, so the first syscall recorded is the execve
 * of the workload: nothing of hbx's own ends up in the profile.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "seccomp_filter.h"
#include "seccomp_learn.h"
#include "syscalls.skel.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* libbpf's own messages only with HBX_DEBUG set; failures reach the user
 * as our sentences. */
static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_WARN && getenv("HBX_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

#define CG_PATH_MAX	4000	/* a cgroup directory */
#define CG_FILE_MAX	4100	/* a file in it */

/* Where cgroup v2 is mounted: /sys/fs/cgroup, or .../unified (hybrid). */
static int cgroup2_root(char *buf, size_t len)
{
	static const char *const candidates[] = {
		"/sys/fs/cgroup", "/sys/fs/cgroup/unified",
	};
	char line[4096], dev[256], dir[3900], type[64];
	struct statfs sfs;
	FILE *f;

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (!statfs(candidates[i], &sfs) &&
		    sfs.f_type == CGROUP2_SUPER_MAGIC) {
			snprintf(buf, len, "%s", candidates[i]);
			return 0;
		}
	}
	f = fopen("/proc/self/mounts", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %3899s %63s", dev, dir, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

/* The id bpf_get_current_cgroup_id() returns: the kernfs node id. */
static uint64_t cgroup_id(const char *path)
{
	union {
		struct file_handle	fh;
		char			buf[sizeof(struct file_handle) + 8];
	} h;
	struct stat st;
	uint64_t id;
	int mount_id;

	h.fh.handle_bytes = sizeof(id);
	if (!name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) &&
	    h.fh.handle_bytes == sizeof(id)) {
		memcpy(&id, h.fh.f_handle, sizeof(id));
		return id;
	}
	/* On 64-bit kernels the inode number is the same id. */
	return stat(path, &st) ? 0 : st.st_ino;
}

static int make_cgroup(char *path, size_t len, char *err, size_t errlen)
{
	char root[3900];

	if (cgroup2_root(root, sizeof(root))) {
		snprintf(err, errlen, "cgroup v2 is not mounted (mount -t cgroup2 none /sys/fs/cgroup)");
		return -1;
	}
	for (int i = 0; i < 100; i++) {
		if (i)
			snprintf(path, len, "%s/hbx-seccomp-%d-%d", root,
				 (int)getpid(), i);
		else
			snprintf(path, len, "%s/hbx-seccomp-%d", root,
				 (int)getpid());
		if (!mkdir(path, 0755))
			return 0;
		if (errno != EEXIST)
			break;
	}
	snprintf(err, errlen, "cannot create a cgroup under %s: %s", root,
		 strerror(errno));
	return -1;
}

static int write_file(const char *dir, const char *file, const char *val)
{
	char path[CG_FILE_MAX];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The workload may have made cgroups below ours and moved tasks there:
 * count and kill in every one of them, and remove them deepest first.
 */
static size_t leftovers_found;
static bool leftovers_kill;

static int leftovers_in(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	char procs[CG_FILE_MAX], line[32];
	FILE *f;

	if (type != FTW_D)
		return 0;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	f = fopen(procs, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		leftovers_found++;
		if (leftovers_kill)
			kill((pid_t)atoi(line), SIGKILL);
	}
	fclose(f);
	return 0;
}

/* Kill what the workload left behind so the cgroup can go. */
static size_t kill_leftovers(const char *cg)
{
	leftovers_found = 0;
	leftovers_kill = false;
	nftw(cg, leftovers_in, 16, FTW_PHYS);
	/* cgroup.kill takes the whole subtree; before 5.14: one at a time. */
	if (leftovers_found && write_file(cg, "cgroup.kill", "1")) {
		size_t n = leftovers_found;

		leftovers_kill = true;
		nftw(cg, leftovers_in, 16, FTW_PHYS);
		leftovers_found = n;
	}
	return leftovers_found;
}

static int rmdir_one(const char *path, const struct stat *st, int type,
		     struct FTW *ftw)
{
	if (type == FTW_DP)
		rmdir(path);
	return 0;
}

static void remove_cgroup(const char *cg)
{
	/* Killed tasks leave the cgroup asynchronously. */
	for (int i = 0; i < 200; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nftw(cg, rmdir_one, 16, FTW_DEPTH | FTW_PHYS);
		if (access(cg, F_OK))
			return;
		nanosleep(&ts, NULL);
	}
}

static const char *bpf_hint(int e)
{
	switch (e) {
	case EPERM:
	case EACCES:
		return " (needs CAP_BPF and CAP_PERFMON, or root)";
	case ENOSYS:
		return " (the kernel has no BPF: CONFIG_BPF_SYSCALL)";
	default:
		return "";
	}
}

static int load_tracer(struct syscalls_bpf **out, uint64_t cgid,
		       const char *cg, uint32_t abi_mask, char *err,
		       size_t errlen)
{
	struct syscalls_bpf *skel;
	uint32_t zero = 0;
	int e, cg_fd;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, errlen, "the kernel has no BTF (/sys/kernel/btf/vmlinux): the CO-RE tracer needs CONFIG_DEBUG_INFO_BTF");
		return -1;
	}
	libbpf_set_print(libbpf_quiet);
	skel = syscalls_bpf__open();
	if (!skel) {
		e = errno;
		snprintf(err, errlen, "cannot open the BPF program: %s%s",
			 strerror(e), bpf_hint(e));
		return -1;
	}
	skel->rodata->target_cgid = cgid;
	skel->rodata->abi_mask = abi_mask;
	e = syscalls_bpf__load(skel);
	if (e) {
		e = e < 0 ? -e : e;
		snprintf(err, errlen, "cannot load the BPF program: %s%s",
			 strerror(e), bpf_hint(e));
		goto fail;
	}
	/* The cgroup's subtree too: see target_cg in syscalls.bpf.c. */
	cg_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e = cg_fd < 0 ? errno :
	    bpf_map_update_elem(bpf_map__fd(skel->maps.target_cg), &zero,
				&cg_fd, BPF_ANY) ? errno : 0;
	if (cg_fd >= 0)
		close(cg_fd);
	if (e) {
		snprintf(err, errlen, "cannot give the tracer the cgroup %s: %s%s",
			 cg, strerror(e), bpf_hint(e));
		goto fail;
	}
	e = syscalls_bpf__attach(skel);
	if (e) {
		e = e < 0 ? -e : e;
		snprintf(err, errlen, "cannot attach to the raw_syscalls:sys_enter tracepoint: %s%s",
			 strerror(e),
			 e == ENOENT ? " (is tracefs mounted on /sys/kernel/tracing?)" :
			 bpf_hint(e));
		goto fail;
	}
	*out = skel;
	return 0;
fail:
	syscalls_bpf__destroy(skel);
	return -1;
}

static int collect(struct syscalls_bpf *skel, struct hbx_sc_trace *t)
{
	int fd = bpf_map__fd(skel->maps.args);
	struct hbx_sc_arg_key key, next, *prev = NULL;
	size_t cap = 0;
	uint64_t hits;

	memcpy(t->counts, skel->bss->counts, sizeof(t->counts));
	t->args_dropped = skel->bss->args_dropped;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &hits))
			continue;
		if (t->nargs == cap) {
			struct hbx_sc_argval *v;

			cap = cap ? 2 * cap : 64;
			v = realloc(t->args, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			t->args = v;
		}
		t->args[t->nargs++] = (struct hbx_sc_argval){
			.kind = key.kind, .abi = key.abi,
			.value = key.value, .hits = hits,
		};
	}
	return 0;
}

/* Why the child did not get to run the command. */
enum { FAILED_FILTER = 1, FAILED_CGROUP, FAILED_EXEC };
struct child_report {
	int	what, err;
};

/*
 * In the child: load the filter, join the cgroup, exec; on failure tell
 * the parent why.  The filter goes first: loading it allocates, and the
 * allocations must not be traced as the workload's.
 */
static void __attribute__((noreturn))
child(const struct hbx_sc_learn *l, int procs_fd, int report_fd)
{
	struct child_report r = { 0, 0 };
	char msg[HBX_SC_ERR_MAX];

	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	if (l->filter && hbx_sc_filter_load(l->filter, msg, sizeof(msg))) {
		r = (struct child_report){ FAILED_FILTER, errno };
	} else if (write(procs_fd, "0", 1) < 0) {
		r = (struct child_report){ FAILED_CGROUP, errno };
	} else {
		execv(l->path, l->argv);
		r = (struct child_report){ FAILED_EXEC, errno };
	}
	if (write(report_fd, &r, sizeof(r)) < 0)
		_exit(126);
	_exit(127);
}

int hbx_sc_learn_run(struct hbx_sc_learn *l, struct hbx_sc_trace *t,
		     int *wstatus, char *err, size_t errlen)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	struct syscalls_bpf *skel = NULL;
	struct child_report r = { 0, 0 };
	char cg[CG_PATH_MAX], procs[CG_FILE_MAX];
	int report[2] = { -1, -1 }, procs_fd = -1, ret = -1;
	uint64_t cgid;
	ssize_t n;
	pid_t pid;

	memset(t, 0, sizeof(*t));
	t->abi_mask = l->abi_mask;
	l->leftovers = 0;
	l->exec_errno = 0;
	if (make_cgroup(cg, sizeof(cg), err, errlen))
		return -1;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
	cgid = cgroup_id(cg);
	if (procs_fd < 0 || !cgid) {
		snprintf(err, errlen, "cannot use the cgroup %s: %s", cg,
			 strerror(errno));
		goto out;
	}
	if (load_tracer(&skel, cgid, cg, l->abi_mask, err, errlen))
		goto out;
	if (pipe2(report, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}

	/* Like system(3): ^C is for the workload; we clean up after it. */
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto restore;
	}
	if (pid == 0)
		child(l, procs_fd, report[1]);
	close(report[1]);
	report[1] = -1;
	/* EOF: the exec succeeded (the pipe is close-on-exec). */
	do {
		n = read(report[0], &r, sizeof(r));
	} while (n < 0 && errno == EINTR);
	while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR)
		;
	l->leftovers = kill_leftovers(cg);
	syscalls_bpf__detach(skel);
	if (n == sizeof(r)) {
		if (r.what == FAILED_FILTER)
			snprintf(err, errlen, "cannot load the seccomp filter: %s",
				 strerror(r.err));
		else if (r.what == FAILED_CGROUP)
			snprintf(err, errlen, "cannot move the command into %s: %s",
				 cg, strerror(r.err));
		else
			snprintf(err, errlen, "cannot run '%s': %s", l->path,
				 strerror(r.err));
		if (r.what == FAILED_EXEC)
			l->exec_errno = r.err;
		goto restore;
	}
	if (collect(skel, t)) {
		snprintf(err, errlen, "out of memory");
		goto restore;
	}
	ret = 0;
restore:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
out:
	if (ret) {
		free(t->args);
		t->args = NULL;
		t->nargs = 0;
	}
	syscalls_bpf__destroy(skel);
	for (int i = 0; i < 2; i++)
		if (report[i] >= 0)
			close(report[i]);
	if (procs_fd >= 0)
		close(procs_fd);
	remove_cgroup(cg);
	return ret;
}
