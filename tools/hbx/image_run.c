// SPDX-License-Identifier: GPL-2.0
/*
 * hbx image mount|umount|bundle: an image's layers attached and overlaid
 * (rootfs.c does the stacking), and an OCI runtime bundle around them whose
 * config.json comes from the image's OCI config, as crun and runc run it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include "hbx.h"
#include "image.h"
#include "layer.h"
#include "rootfs.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Where each layer of img comes from: its image in the store, or, for a
 * pulled image, the remote layer this store's pull attached (attached[i]).
 */
static int find_layers(struct hbx_nl *nl, struct hbx_store *s, const char *what,
		       const struct hbx_image *img, struct hbx_rootfs_layer *layers,
		       struct hbx_layer_info *attached)
{
	unsigned int i;

	for (i = 0; i < img->nr_layers; i++) {
		const struct hbx_image_layer *il = &img->layers[i];

		layers[i].manifest = il->manifest;
		layers[i].digest = il->digest;
		if (!access(il->image, F_OK))
			layers[i].image = il->image;
		else if (hbx_store_attached_get(s, nl, il->digest, &attached[i])) {
			hbx_err("layer %u (%s) of %s is neither stored here nor attached: pull the image again (hbx image pull --remote)",
				i, il->digest, what);
			return -1;
		}
	}
	return 0;
}

static int mount_image(struct hbx_nl *nl, struct hbx_store *s, const char *what,
		       const char *upper, const char *work, const char *dir,
		       struct hbx_image *img)
{
	char digest[OCI_DIGEST_LEN + 1];
	struct hbx_rootfs_layer *layers;
	struct hbx_layer_info l, *attached;
	int ret = -1;

	if (hbx_store_resolve(s, what, digest) || hbx_image_load(s, digest, img))
		return -1;
	layers = calloc(img->nr_layers, sizeof(*layers));
	attached = calloc(img->nr_layers, sizeof(*attached));
	if (!layers || !attached)
		hbx_err("out of memory");
	else if (find_layers(nl, s, what, img, layers, attached))
		;
	/* overlayfs wants two lower layers when it has no upper one. */
	else if (img->nr_layers == 1 && !upper && layers[0].image)
		ret = hbx_layer_mount(nl, layers[0].image, layers[0].manifest,
				      layers[0].digest, dir, &l);
	else if (img->nr_layers == 1 && !upper)
		ret = hbx_mount_held(&attached[0], dir);
	else
		ret = hbx_rootfs_mount_attached(nl, layers, attached, img->nr_layers,
						upper, work, dir);
	free(layers);
	free(attached);
	if (ret)
		hbx_image_free(img);
	return ret;
}

static int umount_image(struct hbx_nl *nl, const char *dir)
{
	struct statfs sfs;

	if (statfs(dir, &sfs)) {
		hbx_err("cannot stat %s: %s", dir, strerror(errno));
		return -1;
	}
	if (sfs.f_type == OVERLAYFS_SUPER_MAGIC)
		return hbx_rootfs_umount(nl, dir);
	return hbx_rootfs_put_layer(nl, dir);
}

int image_umount_main(int argc, char **argv)
{
	return hbx_dir_main(argc, argv, "image umount DIR", umount_image);
}

int image_mount_main(int argc, char **argv)
{
	static const char usage[] =
		"image mount NAME|DIGEST DIR [--upper DIR --work DIR] [--store DIR]";
	static const struct option opts[] = {
		{ "upper", required_argument, NULL, 'u' },
		{ "work", required_argument, NULL, 'w' },
		{ "store", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	const char *upper = NULL, *work = NULL, *store = NULL;
	struct hbx_image img;
	struct hbx_store s;
	struct hbx_nl *nl;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "u:w:s:", opts, NULL)) != -1) {
		switch (c) {
		case 'u': upper = optarg; break;
		case 'w': work = optarg; break;
		case 's': store = optarg; break;
		default: return hbx_usage(usage);
		}
	}
	if (optind != argc - 2 || !upper != !work)
		return hbx_usage(usage);
	if (hbx_store_open(&s, store, false))
		return 1;
	nl = hbx_connect();
	if (nl && !mount_image(nl, &s, argv[optind], upper, work, argv[optind + 1], &img)) {
		hbx_image_free(&img);
		ret = 0;
	}
	hbx_nl_close(nl);
	hbx_store_close(&s);
	return ret;
}

/* --- config.json ------------------------------------------------------ */

/* path inside root, resolved as if root were / (symlinks cannot leave it). */
static FILE *open_in_root(const char *root, const char *path)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

	if (rfd < 0)
		return NULL;
	fd = syscall(SYS_openat2, rfd, path, &how, sizeof(how));
	close(rfd);
	return fd < 0 ? NULL : fdopen(fd, "r");
}

/*
 * Find name (or, if name is NULL, the numeric id) in the image's
 * /etc/passwd or /etc/group: fields[2] is the id, fields[3] the passwd
 * group.  1 if found.
 */
static int lookup(const char *root, const char *file, const char *name,
		  unsigned long id, unsigned long *out_id, unsigned long *out_gid)
{
	FILE *f = open_in_root(root, file);
	char line[1024];
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char *fields[4] = { 0 }, *save, *p = line;
		int n;

		line[strcspn(line, "\n")] = '\0';
		for (n = 0; n < 4 && (fields[n] = strsep(&p, ":")); n++)
			;
		(void)save;
		if (n < 3 || !*fields[2])
			continue;
		if (name ? strcmp(fields[0], name) : strtoul(fields[2], NULL, 10) != id)
			continue;
		*out_id = strtoul(fields[2], NULL, 10);
		if (out_gid)
			*out_gid = n > 3 && fields[3] ? strtoul(fields[3], NULL, 10) : 0;
		found = 1;
	}
	if (f)
		fclose(f);
	return found;
}

static bool numeric(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* The image's User ("", "u", "u:g", names or numbers) as uid and gid. */
static int resolve_user(const char *root, const char *spec, unsigned long *uid,
			unsigned long *gid)
{
	char buf[256], *group;
	unsigned long unused;

	snprintf(buf, sizeof(buf), "%s", spec ? spec : "");
	group = strchr(buf, ':');
	if (group)
		*group++ = '\0';
	*uid = *gid = 0;
	if (numeric(buf)) {
		*uid = strtoul(buf, NULL, 10);
		lookup(root, "/etc/passwd", NULL, *uid, &unused, gid);
	} else if (*buf && !lookup(root, "/etc/passwd", buf, 0, uid, gid)) {
		hbx_err("the image's user '%s' is not in its /etc/passwd", buf);
		return -1;
	}
	if (!group || !*group)
		return 0;
	if (numeric(group))
		*gid = strtoul(group, NULL, 10);
	else if (!lookup(root, "/etc/group", group, 0, gid, NULL)) {
		hbx_err("the image's group '%s' is not in its /etc/group", group);
		return -1;
	}
	return 0;
}

static struct json_object *str_array(const char *const *v)
{
	struct json_object *a = json_object_new_array();

	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

static void append_strings(struct json_object *to, struct json_object *from)
{
	size_t i, n = from ? json_object_array_length(from) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(from, i);

		if (json_object_is_type(v, json_type_string))
			json_object_array_add(to, json_object_get(v));
	}
}

static void add_mount(struct json_object *mounts, const char *dest,
		      const char *type, const char *src, const char *const *options)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "destination", json_object_new_string(dest));
	json_object_object_add(m, "type", json_object_new_string(type));
	json_object_object_add(m, "source", json_object_new_string(src));
	json_object_object_add(m, "options", str_array(options));
	json_object_array_add(mounts, m);
}

/* The mounts, masked paths and capabilities of runc spec / Docker's defaults. */
static struct json_object *default_mounts(void)
{
	struct json_object *m = json_object_new_array();

	add_mount(m, "/proc", "proc", "proc", (const char *[]){ "nosuid", "noexec", "nodev", NULL });
	add_mount(m, "/dev", "tmpfs", "tmpfs",
		  (const char *[]){ "nosuid", "strictatime", "mode=755", "size=65536k", NULL });
	add_mount(m, "/dev/pts", "devpts", "devpts",
		  (const char *[]){ "nosuid", "noexec", "newinstance", "ptmxmode=0666",
				    "mode=0620", "gid=5", NULL });
	add_mount(m, "/dev/shm", "tmpfs", "shm",
		  (const char *[]){ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL });
	add_mount(m, "/dev/mqueue", "mqueue", "mqueue",
		  (const char *[]){ "nosuid", "noexec", "nodev", NULL });
	add_mount(m, "/sys", "sysfs", "sysfs",
		  (const char *[]){ "nosuid", "noexec", "nodev", "ro", NULL });
	add_mount(m, "/sys/fs/cgroup", "cgroup", "cgroup",
		  (const char *[]){ "nosuid", "noexec", "nodev", "relatime", "ro", NULL });
	return m;
}

static const char *const default_caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", NULL
};

static const char *const masked_paths[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
	"/proc/scsi", NULL
};

static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL
};

static void copy_key(struct json_object *to, struct json_object *from, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(from, key, &v))
		json_object_object_add(to, key, json_object_get(v));
}

/*
 * linux.seccomp from an hbx seccomp (OCI) profile: the keys of the runtime
 * spec only, so Docker-style extras ("comment", "includes") cannot trip a
 * runtime; Docker's archMap becomes architectures.
 */
static struct json_object *seccomp_section(const char *path)
{
	static const char *const top[] = {
		"defaultAction", "defaultErrnoRet", "architectures", "flags",
		"listenerPath", "listenerMetadata", NULL
	};
	static const char *const rule[] = { "names", "action", "errnoRet", "args", NULL };
	struct json_object *p = json_object_from_file(path), *out, *v, *arr;
	const char *const *k;
	size_t i, n;

	if (!p || !oci_json_get(p, "defaultAction", json_type_string)) {
		hbx_err("%s is not a seccomp profile (%s)", path,
			p ? "no defaultAction" : json_util_get_last_err());
		json_object_put(p);
		return NULL;
	}
	out = json_object_new_object();
	for (k = top; *k; k++)
		copy_key(out, p, *k);
	arr = oci_json_get(p, "archMap", json_type_array);
	if (arr && !oci_json_get(out, "architectures", json_type_array)) {
		struct json_object *archs = json_object_new_array();

		for (i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *e = json_object_array_get_idx(arr, i);

			if ((v = oci_json_get(e, "architecture", json_type_string)))
				json_object_array_add(archs, json_object_get(v));
			append_strings(archs, oci_json_get(e, "subArchitectures", json_type_array));
		}
		json_object_object_add(out, "architectures", archs);
	}
	arr = oci_json_get(p, "syscalls", json_type_array);
	n = arr ? json_object_array_length(arr) : 0;
	v = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_new_object();

		for (k = rule; *k; k++)
			copy_key(r, json_object_array_get_idx(arr, i), *k);
		json_object_array_add(v, r);
	}
	json_object_object_add(out, "syscalls", v);
	json_object_put(p);
	return out;
}

static struct json_object *runtime_config(const char *rootfs, struct json_object *image_cfg,
					  char **args, int nargs, bool ro,
					  struct json_object *seccomp)
{
	struct json_object *ic = oci_json_get(image_cfg, "config", json_type_object);
	struct json_object *cfg = json_object_new_object(), *proc, *user, *argv;
	struct json_object *env, *caps, *root, *linux_, *ns, *rl, *e;
	const char *cwd = json_object_get_string(oci_json_get(ic, "WorkingDir", json_type_string));
	const char *const nss[] = { "pid", "network", "ipc", "uts", "mount", "cgroup" };
	unsigned long uid, gid;
	bool has_path = false;
	size_t i;

	if (resolve_user(rootfs, json_object_get_string(oci_json_get(ic, "User", json_type_string)),
			 &uid, &gid))
		goto err;
	argv = json_object_new_array();
	if (nargs) {
		for (i = 0; i < (size_t)nargs; i++)
			json_object_array_add(argv, json_object_new_string(args[i]));
	} else {
		append_strings(argv, oci_json_get(ic, "Entrypoint", json_type_array));
		append_strings(argv, oci_json_get(ic, "Cmd", json_type_array));
	}
	if (!json_object_array_length(argv)) {
		json_object_put(argv);
		hbx_err("the image has neither Entrypoint nor Cmd: give the command after --");
		goto err;
	}
	env = json_object_new_array();
	append_strings(env, oci_json_get(ic, "Env", json_type_array));
	for (i = 0; i < json_object_array_length(env); i++)
		if (!strncmp(json_object_get_string(json_object_array_get_idx(env, i)), "PATH=", 5))
			has_path = true;
	if (!has_path)
		json_object_array_add(env, json_object_new_string(DEFAULT_PATH));

	json_object_object_add(cfg, "ociVersion", json_object_new_string("1.0.2"));
	proc = json_object_new_object();
	json_object_object_add(proc, "terminal", json_object_new_boolean(0));
	user = json_object_new_object();
	json_object_object_add(user, "uid", json_object_new_int64(uid));
	json_object_object_add(user, "gid", json_object_new_int64(gid));
	json_object_object_add(proc, "user", user);
	json_object_object_add(proc, "args", argv);
	json_object_object_add(proc, "env", env);
	json_object_object_add(proc, "cwd", json_object_new_string(cwd && *cwd ? cwd : "/"));
	caps = json_object_new_object();
	json_object_object_add(caps, "bounding", str_array(default_caps));
	json_object_object_add(caps, "effective", str_array(default_caps));
	json_object_object_add(caps, "permitted", str_array(default_caps));
	json_object_object_add(proc, "capabilities", caps);
	rl = json_object_new_object();
	json_object_object_add(rl, "type", json_object_new_string("RLIMIT_NOFILE"));
	json_object_object_add(rl, "hard", json_object_new_int(1024));
	json_object_object_add(rl, "soft", json_object_new_int(1024));
	e = json_object_new_array();
	json_object_array_add(e, rl);
	json_object_object_add(proc, "rlimits", e);
	json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(1));
	json_object_object_add(cfg, "process", proc);

	root = json_object_new_object();
	json_object_object_add(root, "path", json_object_new_string("rootfs"));
	json_object_object_add(root, "readonly", json_object_new_boolean(ro));
	json_object_object_add(cfg, "root", root);
	json_object_object_add(cfg, "hostname", json_object_new_string("hbx"));
	json_object_object_add(cfg, "mounts", default_mounts());

	linux_ = json_object_new_object();
	ns = json_object_new_array();
	for (i = 0; i < sizeof(nss) / sizeof(nss[0]); i++) {
		e = json_object_new_object();
		json_object_object_add(e, "type", json_object_new_string(nss[i]));
		json_object_array_add(ns, e);
	}
	json_object_object_add(linux_, "namespaces", ns);
	json_object_object_add(linux_, "maskedPaths", str_array(masked_paths));
	json_object_object_add(linux_, "readonlyPaths", str_array(readonly_paths));
	if (seccomp)
		json_object_object_add(linux_, "seccomp", json_object_get(seccomp));
	json_object_object_add(cfg, "linux", linux_);
	return cfg;
err:
	json_object_put(cfg);
	return NULL;
}

static int make_dir(const char *parent, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s", parent, *name ? "/" : "", name);
	if (mkdir(out, 0755) && errno != EEXIST) {
		hbx_err("cannot create %s: %s", out, strerror(errno));
		return -1;
	}
	return 0;
}

int image_bundle_main(int argc, char **argv)
{
	static const char usage[] =
		"image bundle NAME|DIGEST DIR [--seccomp PROFILE] [--read-only] [--store DIR] [-- ARG...]";
	static const struct option opts[] = {
		{ "seccomp", required_argument, NULL, 'S' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "store", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	char rootfs[PATH_MAX + 16], upper[PATH_MAX + 16], work[PATH_MAX + 16];
	char config[PATH_MAX + 16];
	const char *profile = NULL, *store = NULL, *dir;
	struct json_object *seccomp = NULL, *image_cfg = NULL, *cfg = NULL;
	struct hbx_store s = { .lock_fd = -1 };
	struct hbx_nl *nl = NULL;
	struct hbx_image img;
	bool ro = false, mounted = false;
	int c, nargs = 0, ret = 1;
	char **args = NULL;

	while ((c = getopt_long(argc, argv, "S:rs:", opts, NULL)) != -1) {
		switch (c) {
		case 'S': profile = optarg; break;
		case 'r': ro = true; break;
		case 's': store = optarg; break;
		default: return hbx_usage(usage);
		}
	}
	if (argc - optind < 2 || (argc - optind > 2 && strcmp(argv[optind - 1], "--") &&
				  strcmp(argv[optind + 2], "--")))
		return hbx_usage(usage);
	dir = argv[optind + 1];
	if (argc - optind > 2) {
		/* getopt moved "--" before the operands or left it after them. */
		args = argv + optind + 2 + !strcmp(argv[optind + 2], "--");
		nargs = argc - (args - argv);
	}
	if (profile && !(seccomp = seccomp_section(profile)))
		return 1;
	if (make_dir(dir, "", rootfs, sizeof(rootfs)) ||
	    make_dir(dir, "rootfs", rootfs, sizeof(rootfs)) ||
	    (!ro && (make_dir(dir, "upper", upper, sizeof(upper)) ||
		     make_dir(dir, "work", work, sizeof(work)))))
		goto out;
	snprintf(config, sizeof(config), "%s/config.json", dir);
	if (!access(config, F_OK)) {
		hbx_err("%s already holds a bundle (unmount %s and remove it first)", dir, rootfs);
		goto out;
	}
	if (hbx_store_open(&s, store, false))
		goto out;
	nl = hbx_connect();
	if (!nl || mount_image(nl, &s, argv[optind], ro ? NULL : upper, ro ? NULL : work,
			       rootfs, &img))
		goto out;
	mounted = true;
	image_cfg = hbx_image_config(&s, &img);
	hbx_image_free(&img);
	if (!image_cfg)
		goto out;
	cfg = runtime_config(rootfs, image_cfg, args, nargs, ro, seccomp);
	if (!cfg)
		goto out;
	if (hbx_write_file_atomic(config, hbx_json_c_string(cfg),
				  strlen(hbx_json_c_string(cfg))))
		goto out;
	printf("%s\n", dir);
	ret = 0;
out:
	if (ret && mounted)
		umount_image(nl, rootfs);
	hbx_nl_close(nl);
	hbx_store_close(&s);
	json_object_put(cfg);
	json_object_put(image_cfg);
	json_object_put(seccomp);
	return ret;
}
