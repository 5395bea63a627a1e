// SPDX-License-Identifier: GPL-2.0
/*
 * hbx rootfs mount|umount: a container root from several layers.  Each
 * layer is attached and mounted under /run/hbx/rootfs, then overlayfs
 * stacks them (the first --layer at the bottom), with an optional writable
 * upper directory.  umount reads the lower directories back from the
 * overlay's mount options, so no state file is needed.  A layer attached
 * already (same digest) is mounted again rather than attached twice, and
 * detached when its last root goes, unless an export or a pull holds it.
 * An image pulled from peers has no local image files: its layers are the
 * remote ones hbx image pull attached, which the caller names.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "hbx.h"
#include "layer.h"
#include "rootfs.h"

#define ROOTFS_RUN_DIR	"/run/hbx/rootfs"
#define MAX_LAYERS	64

static const char mount_usage[] =
	"rootfs mount --layer IMAGE [--layer IMAGE...] [--upper DIR --work DIR] DIR";

static int make_lower_dir(char *buf, size_t len)
{
	mkdir("/run/hbx", 0755);
	mkdir(ROOTFS_RUN_DIR, 0755);
	snprintf(buf, len, ROOTFS_RUN_DIR "/layer.XXXXXX");
	if (!mkdtemp(buf)) {
		hbx_err("cannot create a directory under " ROOTFS_RUN_DIR ": %s",
			strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * A live local layer with this digest that is attached already: roots that
 * share a layer share its device (and its verified chunks).
 */
static bool find_attached(struct hbx_nl *nl, const char *digest,
			  struct hbx_layer_info *out)
{
	struct hbx_layer_info *v = NULL;
	bool found = false;
	ssize_t n, i;

	if (!digest)
		return false;
	n = hbx_layer_dump(nl, &v);
	for (i = 0; i < n && !found; i++) {
		if (v[i].state == HBX_LAYER_STATE_LIVE && !v[i].nr_peers &&
		    !strcmp(v[i].digest, digest)) {
			*out = v[i];
			found = true;
		}
	}
	free(v);
	return found;
}

/* How many mounts of dir's device this mount namespace has. */
static int mounts_of(const char *dir)
{
	unsigned int maj, min;
	char line[8192];
	struct stat st;
	FILE *f;
	int n = 0;

	if (stat(dir, &st) || !(f = fopen("/proc/self/mountinfo", "re")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*u %*u %u:%u", &maj, &min) == 2 &&
		    makedev(maj, min) == st.st_dev)
			n++;
	fclose(f);
	return n;
}

int hbx_rootfs_put_layer(struct hbx_nl *nl, const char *dir)
{
	return hbx_layer_umount_keep(nl, dir, true);
}

/* Unmount a lower layer, and let it go unless another root still has it. */
static int put_lower(struct hbx_nl *nl, const char *dir)
{
	if (mounts_of(dir) > 1) {
		if (!umount2(dir, 0))
			return 0;
		hbx_err("cannot unmount %s: %s", dir, strerror(errno));
		return -1;
	}
	return hbx_rootfs_put_layer(nl, dir);
}

int hbx_mount_held(const struct hbx_layer_info *l, const char *dir)
{
	char dev[64];

	snprintf(dev, sizeof(dev), "/dev/%s", l->device);
	if (mount(dev, dir, "erofs", MS_RDONLY, NULL)) {
		hbx_err("cannot mount %s on %s: %s", dev, dir, strerror(errno));
		return -1;
	}
	return 0;
}

static void undo_lowers(struct hbx_nl *nl, char lowers[][64], int n)
{
	while (n-- > 0) {
		put_lower(nl, lowers[n]);
		rmdir(lowers[n]);
	}
}

int hbx_rootfs_mount(struct hbx_nl *nl, const struct hbx_rootfs_layer *layers,
		     int n, const char *upper, const char *work, const char *dir)
{
	return hbx_rootfs_mount_attached(nl, layers, NULL, n, upper, work, dir);
}

int hbx_rootfs_mount_attached(struct hbx_nl *nl, const struct hbx_rootfs_layer *layers,
			      const struct hbx_layer_info *attached, int n,
			      const char *upper, const char *work, const char *dir)
{
	static char lowers[MAX_LAYERS][64];
	char opts[MAX_LAYERS * 70 + 2 * PATH_MAX + 64];
	struct hbx_layer_info l;
	size_t off;
	int i;

	if (n > MAX_LAYERS) {
		hbx_err("at most %d layers", MAX_LAYERS);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (make_lower_dir(lowers[i], sizeof(lowers[i])))
			goto err_undo;
		if (!layers[i].image ? hbx_mount_held(&attached[i], lowers[i]) :
		    find_attached(nl, layers[i].digest, &l) ?
		    hbx_mount_held(&l, lowers[i]) :
		    hbx_layer_mount(nl, layers[i].image, layers[i].manifest,
				    layers[i].digest, lowers[i], &l)) {
			rmdir(lowers[i]);
			goto err_undo;
		}
	}
	/* overlayfs lists the top layer first. */
	off = snprintf(opts, sizeof(opts), "lowerdir=");
	for (i = n - 1; i >= 0; i--)
		off += snprintf(opts + off, sizeof(opts) - off, "%s%s",
				lowers[i], i ? ":" : "");
	if (upper)
		snprintf(opts + off, sizeof(opts) - off,
			 ",upperdir=%s,workdir=%s", upper, work);
	if (mount("overlay", dir, "overlay", upper ? 0 : MS_RDONLY, opts)) {
		hbx_err("cannot mount the overlay on %s: %s", dir, strerror(errno));
		goto err_undo;
	}
	return 0;

err_undo:
	undo_lowers(nl, lowers, i);
	return -1;
}

static int rootfs_mount_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "layer", required_argument, NULL, 'l' },
		{ "upper", required_argument, NULL, 'u' },
		{ "work", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_rootfs_layer layers[MAX_LAYERS] = { 0 };
	const char *upper = NULL, *work = NULL;
	struct hbx_nl *nl;
	int c, n = 0, ret;

	while ((c = getopt_long(argc, argv, "l:u:w:", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (n == MAX_LAYERS) {
				hbx_err("at most %d layers", MAX_LAYERS);
				return 2;
			}
			layers[n++].image = optarg;
			break;
		case 'u': upper = optarg; break;
		case 'w': work = optarg; break;
		default: return hbx_usage(mount_usage);
		}
	}
	if (optind != argc - 1 || !n || !upper != !work)
		return hbx_usage(mount_usage);
	if (!upper && n < 2) {
		hbx_err("a read-only root needs at least two layers (for one, use: hbx layer mount)");
		return 2;
	}
	nl = hbx_connect();
	if (!nl)
		return 1;
	ret = hbx_rootfs_mount(nl, layers, n, upper, work, argv[optind]) ? 1 : 0;
	hbx_nl_close(nl);
	return ret;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* The lowerdir= option of the overlay mounted at dir, into buf. */
static int find_lowerdirs(const char *dir, char *buf, size_t len)
{
	char line[8192], *mnt, *p;
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int found = -1;

	if (!f)
		return -1;
	while (found && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root MOUNTPOINT opts ... - fstype src superopts */
		strtok(line, " ");
		strtok(NULL, " ");
		strtok(NULL, " ");
		strtok(NULL, " ");
		mnt = strtok(NULL, " ");
		if (!mnt)
			continue;
		unescape(mnt);
		if (strcmp(mnt, dir))
			continue;
		p = strtok(NULL, "\n");
		p = p ? strstr(p, " - overlay ") : NULL;
		p = p ? strstr(p, "lowerdir=") : NULL;
		if (!p)
			continue;
		p += strlen("lowerdir=");
		p[strcspn(p, ",")] = '\0';
		unescape(p);
		snprintf(buf, len, "%s", p);
		found = 0;
	}
	fclose(f);
	return found;
}

int hbx_rootfs_umount(struct hbx_nl *nl, const char *arg)
{
	char dir[PATH_MAX], lowers[MAX_LAYERS * 70], *lower, *save;
	int ret = 0;

	if (!realpath(arg, dir)) {
		hbx_err("cannot resolve %s: %s", arg, strerror(errno));
		return -1;
	}
	if (find_lowerdirs(dir, lowers, sizeof(lowers))) {
		hbx_err("%s is not a rootfs mounted by hbx", dir);
		return -1;
	}
	if (umount2(dir, 0)) {
		hbx_err("cannot unmount %s: %s", dir, strerror(errno));
		return -1;
	}
	for (lower = strtok_r(lowers, ":", &save); lower;
	     lower = strtok_r(NULL, ":", &save)) {
		if (strncmp(lower, ROOTFS_RUN_DIR "/", strlen(ROOTFS_RUN_DIR) + 1))
			continue;	/* not one of ours */
		if (put_lower(nl, lower))
			ret = -1;
		else
			rmdir(lower);
	}
	return ret;
}

static int rootfs_umount_main(int argc, char **argv)
{
	return hbx_dir_main(argc, argv, "rootfs umount DIR", hbx_rootfs_umount);
}

static const struct hbx_subcommand rootfs_subcommands[] = {
	{ "mount",	rootfs_mount_main,  "stack layers into a container root" },
	{ "umount",	rootfs_umount_main, "unmount a root and detach its layers" },
	{ NULL, NULL, NULL }
};

int rootfs_main(int argc, char **argv)
{
	return hbx_dispatch(rootfs_subcommands, "rootfs", argc - 1, argv + 1);
}
