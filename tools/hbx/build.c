// SPDX-License-Identifier: GPL-2.0
/*
 * hbx layer build SRC -o NAME.erofs: a reproducible EROFS image of a
 * directory or tar file, its manifest and its hash file (NAME.hashes).  Timestamps are pinned (to
 * SOURCE_DATE_EPOCH or 0) and the UUID is fixed; mkfs.erofs sorts directory
 * entries itself, so the same tree gives the same digest.  Owners, modes,
 * special files, hard links and xattrs come through from the source.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hbx.h"
#include "json.h"
#include "layer.h"
#include "manifest.h"
#include "oci_image.h"

static const char usage[] =
	"layer build SRC -o NAME.erofs [-z lz4|lz4hc] [--chunk-size SIZE] [--keep-mtimes] [-j]";

/* Run argv, wait for it; 0 if it exited 0, else -1 after saying why. */
int hbx_run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		hbx_err("cannot fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "hbx: %s: cannot run %s: %s\n", hbx_context,
			argv[0], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid) {
		hbx_err("waiting for %s: %s", argv[0], strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -1;	/* the child said why */
	hbx_err("%s failed (%s %d)", argv[0],
		WIFEXITED(status) ? "exit status" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

void hbx_remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* "65536", "64K", "1M": a power of two within the manifest's limits. */
static int parse_chunk_size(const char *s, unsigned int *shift)
{
	static const struct hbx_num n = {
		HBX_NUM_SIZE, 1ULL << HBX_CHUNK_SHIFT_MIN, 1ULL << HBX_CHUNK_SHIFT_MAX, 0
	};
	uint64_t v;

	if (hbx_arg_num("--chunk-size", s, &n, &v))
		return -1;
	if (v & (v - 1)) {
		hbx_err("--chunk-size '%s' is not a power of two: give 4K, 8K, 16K, ... "
			"up to 4M", s);
		return -1;
	}
	*shift = __builtin_ctzll(v);
	return 0;
}

/* SOURCE_DATE_EPOCH if set (and sane), else 0; *set says which. */
static int build_epoch(uint64_t *epoch, bool *set)
{
	static const struct hbx_num any = { HBX_NUM_COUNT, 0, UINT64_MAX, 0 };
	const char *s = getenv("SOURCE_DATE_EPOCH");

	*epoch = 0;
	*set = s && *s;
	if (!*set)
		return 0;
	return hbx_arg_num("SOURCE_DATE_EPOCH", s, &any, epoch);
}

/* Extract a tar file as it is: owners, modes, xattrs, devices, links. */
static int extract_tar(const char *tarball, char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	char *argv[] = {
		"tar", "-x", "-p", "--numeric-owner", "--same-owner",
		"--xattrs", "--xattrs-include=*", "-f", (char *)tarball,
		"-C", dir, NULL
	};

	snprintf(dir, len, "%s/hbx-build.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		hbx_err("cannot create a temporary directory: %s", strerror(errno));
		return -1;
	}
	if (hbx_run(argv)) {
		hbx_remove_tree(dir);
		return -1;
	}
	return 0;
}

static int make_manifest(const char *image, const char *manifest,
			 const char *hashes, unsigned int shift,
			 struct hbx_manifest_info *info)
{
	int in, out, hout, err;

	in = open(image, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		hbx_err("cannot open %s: %s", image, strerror(errno));
		return -1;
	}
	out = open(manifest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		hbx_err("cannot create %s: %s", manifest, strerror(errno));
		close(in);
		return -1;
	}
	hout = open(hashes, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (hout < 0) {
		hbx_err("cannot create %s: %s", hashes, strerror(errno));
		close(in);
		close(out);
		return -1;
	}
	err = hbx_manifest_build_hashes(in, shift, out, hout, info);
	if (err)
		hbx_err("cannot build the manifest of %s: %s", image, strerror(-err));
	else if (fsync(out) || fsync(hout) || fsync(in))
		hbx_err("cannot sync %s: %s", manifest, strerror(err = errno));
	close(in);
	if (close(hout) && !err)
		hbx_err("cannot write %s: %s", hashes, strerror(err = errno));
	if (close(out) && !err)
		hbx_err("cannot write %s: %s", manifest, strerror(err = errno));
	return err ? -1 : 0;
}

static void print_result(const char *image, const char *manifest,
			 const struct hbx_manifest_info *info, bool json)
{
	char digest[HBX_DIGEST_STR_LEN + 1], hashes[4096];
	struct hbx_json j;

	hbx_digest_format(info->digest, digest);
	hbx_layer_hashes_path(image, hashes, sizeof(hashes));
	if (!json) {
		printf("%s\n", digest);
		return;
	}
	hbx_json_init(&j, stdout);
	hbx_json_object_begin(&j, NULL);
	hbx_json_string(&j, "digest", digest);
	hbx_json_string(&j, "image", image);
	hbx_json_string(&j, "manifest", manifest);
	hbx_json_string(&j, "hashes", hashes);
	hbx_json_u64(&j, "size", info->image_size);
	hbx_json_u64(&j, "chunk-size", info->chunk_size);
	hbx_json_u64(&j, "chunks-total", info->chunk_count);
	hbx_json_object_end(&j);
	hbx_json_finish(&j);
}

/*
 * mkfs.erofs dir into out (through out.partial, renamed: never a half-written
 * layer), its manifest and hash file.  Timestamps are pinned to o->epoch, or
 * with o->keep_mtimes kept and only clamped to it (mkfs.erofs's
 * SOURCE_DATE_EPOCH), which is as reproducible when the epoch comes from the
 * content.
 */
int hbx_layer_build_dir(const char *src, const char *out,
			const struct hbx_build_opts *o,
			struct hbx_manifest_info *info)
{
	char manifest[4096], image_tmp[4200], manifest_tmp[4200];
	char hashes[4096], hashes_tmp[4200];
	char epoch[48], zopt[16] = "", *saved = NULL;
	const char *env = getenv("SOURCE_DATE_EPOCH");
	char *mkfs[10];
	int n = 0, ret = -1;

	hbx_layer_manifest_path(out, manifest, sizeof(manifest));
	snprintf(image_tmp, sizeof(image_tmp), "%s.partial", out);
	snprintf(manifest_tmp, sizeof(manifest_tmp), "%s.partial", manifest);
	hbx_layer_hashes_path(out, hashes, sizeof(hashes));
	snprintf(hashes_tmp, sizeof(hashes_tmp), "%s.partial", hashes);
	if (o->compress)
		snprintf(zopt, sizeof(zopt), "-z%s", o->compress);
	snprintf(epoch, sizeof(epoch), "%s%" PRIu64, o->keep_mtimes ? "" : "-T",
		 o->epoch);
	if (o->keep_mtimes) {
		saved = env ? strdup(env) : NULL;
		setenv("SOURCE_DATE_EPOCH", epoch, 1);
	}
	mkfs[n++] = "mkfs.erofs";
	mkfs[n++] = "--quiet";
	if (!o->keep_mtimes)
		mkfs[n++] = epoch;
	mkfs[n++] = "-U00000000-0000-0000-0000-000000000000";
	if (*zopt)
		mkfs[n++] = zopt;
	mkfs[n++] = image_tmp;
	mkfs[n++] = (char *)src;
	mkfs[n] = NULL;
	ret = hbx_run(mkfs);
	if (o->keep_mtimes) {
		if (saved)
			setenv("SOURCE_DATE_EPOCH", saved, 1);
		else
			unsetenv("SOURCE_DATE_EPOCH");
		free(saved);
	}
	if (ret)
		goto out;
	ret = -1;
	if (make_manifest(image_tmp, manifest_tmp, hashes_tmp, o->chunk_shift, info))
		goto out;
	if (rename(image_tmp, out) || rename(hashes_tmp, hashes) ||
	    rename(manifest_tmp, manifest)) {
		hbx_err("cannot write %s: %s", out, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	unlink(image_tmp);
	unlink(manifest_tmp);
	unlink(hashes_tmp);
	return ret;
}

int layer_build_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "compress", required_argument, NULL, 'z' },
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "keep-mtimes", no_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_build_opts o = { .chunk_shift = HBX_CHUNK_SHIFT_DEFAULT };
	char tmpdir[4096] = "", manifest[4096];
	const char *out = NULL, *src;
	struct hbx_manifest_info info;
	bool json = false, epoch_set;
	struct stat st;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "o:z:c:j", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'z':
			if (strcmp(optarg, "lz4") && strcmp(optarg, "lz4hc")) {
				hbx_err("unknown compressor '%s' (lz4 or lz4hc)", optarg);
				return 2;
			}
			o.compress = optarg;
			break;
		case 'c':
			if (parse_chunk_size(optarg, &o.chunk_shift))
				return 2;
			break;
		case 'k':
			o.keep_mtimes = true;
			break;
		case 'j':
			json = true;
			break;
		default:
			return hbx_usage(usage);
		}
	}
	if (optind != argc - 1 || !out)
		return hbx_usage(usage);
	src = argv[optind];
	if (build_epoch(&o.epoch, &epoch_set))
		return 2;
	if (stat(src, &st)) {
		hbx_err("cannot read %s: %s", src, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		hbx_err("%s is neither a directory nor a tar file", src);
		return 1;
	}
	if (S_ISREG(st.st_mode)) {
		if (extract_tar(src, tmpdir, sizeof(tmpdir)))
			return 1;
		src = tmpdir;
	}
	/*
	 * Kept mtimes are clamped to SOURCE_DATE_EPOCH when it is set (as
	 * reproducible builds want); without it, to the newest in the tree,
	 * which clamps nothing and still depends on the tree alone.
	 */
	if (o.keep_mtimes && !epoch_set)
		o.epoch = oci_tree_max_mtime(src);

	if (!hbx_layer_build_dir(src, out, &o, &info)) {
		hbx_layer_manifest_path(out, manifest, sizeof(manifest));
		print_result(out, manifest, &info, json);
		ret = 0;
	}
	if (*tmpdir)
		hbx_remove_tree(tmpdir);
	return ret;
}
