// SPDX-License-Identifier: GPL-2.0
/*
 * One OCI layer onto disk, for mkfs.erofs: decompressed and unpacked by
 * libarchive in one pass that hashes both the blob (its digest) and the tar
 * (its diff_id), with OCI whiteouts turned into overlayfs ones.  libarchive
 * refuses to write through a symlink or outside the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <mbedtls/sha256.h>
#include "archive_dl.h"
#include "manifest.h"
#include "oci_image.h"

#define OVL_OPAQUE	"trusted.overlay.opaque"
#define OVL_PREFIX	"trusted.overlay."
#define WH_PREFIX	".wh."
#define WH_OPAQUE	".wh..wh..opq"

struct stream {
	int			fd;
	struct archive		*outer;		/* the blob, decompressed */
	mbedtls_sha256_context	blob, diff;
	uint64_t		blob_bytes;
	bool			tar_eof;	/* the decompressed stream ended */
	bool			ended;		/* ... with the last entry's data */
	struct archive_entry	*root;		/* the tar's entry for "/", if any */
	unsigned char		buf[1 << 16], dbuf[1 << 16];
};

/*
 * The explicit directories of the tar, sorted for bsearch, with their
 * mtimes: set last, once nothing is created in them any more.
 */
struct dirent_time {
	char		*path;
	struct timespec	mtime;
};
struct dirset {
	struct dirent_time	*v;
	size_t			n, cap;
};

static la_ssize_t blob_read(struct archive *a, void *p, const void **buf)
{
	struct stream *s = p;
	ssize_t n;

	do
		n = read(s->fd, s->buf, sizeof(s->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		sym_archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	mbedtls_sha256_update_ret(&s->blob, s->buf, n);
	s->blob_bytes += n;
	*buf = s->buf;
	return n;
}

static la_ssize_t tar_read(struct archive *a, void *p, const void **buf)
{
	struct stream *s = p;
	la_ssize_t n = sym_archive_read_data(s->outer, s->dbuf, sizeof(s->dbuf));

	if (n < 0) {
		sym_archive_set_error(a, EIO, "%s", sym_archive_error_string(s->outer));
		return -1;
	}
	mbedtls_sha256_update_ret(&s->diff, s->dbuf, n);
	if (!n)
		s->tar_eof = true;
	*buf = s->dbuf;
	return n;
}

static void finish_digest(mbedtls_sha256_context *c, char out[OCI_DIGEST_LEN + 1])
{
	uint8_t d[HBX_DIGEST_SIZE];

	mbedtls_sha256_finish_ret(c, d);
	hbx_digest_format(d, out);
}

static int dirset_add(struct dirset *s, const char *path,
		      struct archive_entry *e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct dirent_time *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].path = strdup(path);
	if (!s->v[s->n].path)
		return -1;
	s->v[s->n].mtime.tv_sec = sym_archive_entry_mtime(e);
	s->v[s->n].mtime.tv_nsec = sym_archive_entry_mtime_nsec(e);
	s->n++;
	return 0;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(((const struct dirent_time *)a)->path,
		      ((const struct dirent_time *)b)->path);
}

static void dirset_free(struct dirset *s)
{
	while (s->n)
		free(s->v[--s->n].path);
	free(s->v);
}

/* Open (creating) directory rel under root without following symlinks. */
static int open_dir(int root, const char *rel, const char *entry, char *err)
{
	char buf[PATH_MAX], *comp, *save;
	int fd = dup(root), nfd;

	snprintf(buf, sizeof(buf), "%s", rel);
	for (comp = strtok_r(buf, "/", &save); fd >= 0 && comp;
	     comp = strtok_r(NULL, "/", &save)) {
		if (!strcmp(comp, "."))
			continue;
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && !mkdirat(fd, comp, 0755))
			nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0)
			oci_seterr(err, "%s: cannot open its directory %s: %s", entry, rel,
				   errno == ELOOP || errno == ENOTDIR ?
				   "it goes through a symlink or a file" : strerror(errno));
		close(fd);
		fd = nfd;
	}
	return fd;
}

/* .wh.NAME or .wh..wh..opq at path (cleaned): the overlayfs form. */
static int whiteout(int root, const char *path, struct archive_entry *e,
		    char *err)
{
	char parent[PATH_MAX];
	const char *base = strrchr(path, '/');
	struct timespec ts[2];
	int dfd, ret = -1;

	base = base ? base + 1 : path;
	snprintf(parent, sizeof(parent), "%.*s", (int)(base - path), path);
	if (!*parent)
		strcpy(parent, ".");
	if (!strncmp(base, WH_PREFIX WH_PREFIX, 8) && strcmp(base, WH_OPAQUE))
		return 0;	/* AUFS bookkeeping (.wh..wh.plnk): not content */
	dfd = open_dir(root, parent, path, err);
	if (dfd < 0)
		return -1;
	if (!strcmp(base, WH_OPAQUE)) {
		if (fsetxattr(dfd, OVL_OPAQUE, "y", 1, 0))
			oci_seterr(err, "cannot mark %s opaque: %s", parent, strerror(errno));
		else
			ret = 0;
		goto out;
	}
	base += strlen(WH_PREFIX);
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		oci_seterr(err, "whiteout %s names nothing", path);
		goto out;
	}
	if (mknodat(dfd, base, S_IFCHR, makedev(0, 0))) {
		oci_seterr(err, "cannot create the whiteout of %s/%s: %s", parent, base,
			   errno == EEXIST ? "the layer also holds that path" : strerror(errno));
		goto out;
	}
	ts[0].tv_sec = ts[1].tv_sec = sym_archive_entry_mtime(e);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW);
	ret = 0;
out:
	close(dfd);
	return ret;
}

/* Drop trusted.overlay.* xattrs from an entry: they would steer overlayfs. */
static int filter_xattrs(struct archive_entry *e)
{
	const char *names[64];
	const void *vals[64];
	size_t lens[64], i, n = 0;
	bool drop = false;
	const char *name;
	const void *val;
	size_t len;

	if (!sym_archive_entry_xattr_reset(e))
		return 0;
	while (sym_archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK) {
		if (!strncmp(name, OVL_PREFIX, strlen(OVL_PREFIX))) {
			drop = true;
			continue;
		}
		if (n == 64)
			return -1;
		names[n] = strdup(name);
		vals[n] = malloc(len ? len : 1);
		if (!names[n] || !vals[n])
			return -1;
		memcpy((void *)vals[n], val, len);
		lens[n++] = len;
	}
	if (drop) {
		sym_archive_entry_xattr_clear(e);
		for (i = 0; i < n; i++)
			sym_archive_entry_xattr_add_entry(e, names[i], vals[i], lens[i]);
	}
	for (i = 0; i < n; i++) {
		free((void *)names[i]);
		free((void *)vals[i]);
	}
	return 0;
}

/* libarchive's words for a write that failed, and the errno's ("Write failed"). */
static const char *disk_error(struct archive *out)
{
	static char buf[OCI_ERR_LEN];
	int e = sym_archive_errno(out);
	const char *msg = sym_archive_error_string(out) ?: "failed";

	if (e <= 0 || strstr(msg, strerror(e)))
		return msg;
	snprintf(buf, sizeof(buf), "%s (%s)", msg, strerror(e));
	return buf;
}

/*
 * umoci 0.4 ends its layers right after the last entry's data, without
 * padding or end-of-archive blocks (GNU tar warns and goes on): take that
 * end when the stream has ended and the entry was whole.  The diff_id pins
 * the bytes anyway.
 */
static bool unterminated_end(struct archive *in, const struct stream *s)
{
	const char *msg = sym_archive_error_string(in);

	return s->tar_eof && msg && strstr(msg, "Truncated");
}

static int copy_data(struct archive *in, struct archive *out, const char *path,
		     struct stream *s, int64_t size, char *err)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int64_t done = 0;
	int r;

	while ((r = sym_archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK) {
		if (sym_archive_write_data_block(out, buf, len, off) != ARCHIVE_OK) {
			oci_seterr(err, "cannot write %s: %s", path, disk_error(out));
			return -1;
		}
		done = off + len;
	}
	if (r != ARCHIVE_EOF && done == size && unterminated_end(in, s)) {
		s->ended = true;
		return 0;
	}
	if (r != ARCHIVE_EOF) {
		oci_seterr(err, "%s", sym_archive_error_string(in));
		return -1;
	}
	return 0;
}

static int unpack_entries(struct archive *in, struct archive *out, int root,
			  struct stream *s, struct dirset *dirs,
			  int64_t *max_mtime, char *err)
{
	struct archive_entry *e;
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	int r;

	while (!s->ended && (r = sym_archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		if (oci_clean_path(sym_archive_entry_pathname(e), path, sizeof(path), err))
			return -1;
		if (sym_archive_entry_mtime(e) > *max_mtime)
			*max_mtime = sym_archive_entry_mtime(e);
		base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		/* Debian 12's mkfs.erofs (erofs-utils 1.5) fails on them with ENOENT. */
		if (strlen(base) >= 255) {
			oci_seterr(err, "%s: a 255-byte file name is more than mkfs.erofs 1.5 can store (1.6 can)",
				   path);
			return -1;
		}
		if (!strncmp(base, WH_PREFIX, strlen(WH_PREFIX))) {
			if (whiteout(root, path, e, err))
				return -1;
			continue;
		}
		if (sym_archive_entry_filetype(e) == AE_IFSOCK)
			continue;	/* sockets are made at run time, not unpacked */
		/* The root exists already: its metadata is set at the end. */
		if (!strcmp(path, ".") && sym_archive_entry_filetype(e) == AE_IFDIR) {
			sym_archive_entry_free(s->root);
			s->root = sym_archive_entry_clone(e);
			if (!s->root || dirset_add(dirs, path, e)) {
				oci_seterr(err, "out of memory");
				return -1;
			}
			continue;
		}
		if (sym_archive_entry_filetype(e) == AE_IFDIR && dirset_add(dirs, path, e)) {
			oci_seterr(err, "out of memory");
			return -1;
		}
		sym_archive_entry_set_pathname(e, path);
		if (sym_archive_entry_hardlink(e)) {
			if (oci_clean_path(sym_archive_entry_hardlink(e), link, sizeof(link), err))
				return -1;
			sym_archive_entry_set_hardlink(e, link);
		}
		if (filter_xattrs(e)) {
			oci_seterr(err, "%s: too many xattrs", path);
			return -1;
		}
		if (sym_archive_write_header(out, e) != ARCHIVE_OK) {
			oci_seterr(err, "cannot unpack %s: %s", path, disk_error(out));
			return -1;
		}
		if (sym_archive_entry_size(e) > 0 &&
		    copy_data(in, out, path, s, sym_archive_entry_size(e), err))
			return -1;
		if (sym_archive_write_finish_entry(out) != ARCHIVE_OK) {
			oci_seterr(err, "cannot unpack %s: %s", path, disk_error(out));
			return -1;
		}
	}
	if (!s->ended && r != ARCHIVE_EOF && !unterminated_end(in, s)) {
		oci_seterr(err, "%s", sym_archive_error_string(in));
		return -1;
	}
	if (sym_archive_write_close(out) != ARCHIVE_OK) {
		oci_seterr(err, "%s", disk_error(out));
		return -1;
	}
	return 0;
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(const char *path)
{
	char v[2];

	return lgetxattr(path, OVL_OPAQUE, v, sizeof(v)) == 1 && v[0] == 'y';
}

/*
 * The directory rel as the layers below show it (overlayfs rules: the top
 * one that has the path wins; a whiteout, a non-directory or an opaque
 * directory on the way hides what is under it).  Its path in *found.
 */
static bool lower_dir(const char *const *lowers, unsigned int n, const char *rel,
		      char *found, size_t len)
{
	char p[PATH_MAX];
	struct stat st;
	size_t i;

	while (n-- > 0) {
		bool hidden = false;

		for (i = 0; rel[i]; i++) {	/* the ancestors of rel */
			if (rel[i] != '/')
				continue;
			snprintf(p, sizeof(p), "%s/%.*s", lowers[n], (int)i, rel);
			if (lstat(p, &st))
				break;
			if (!S_ISDIR(st.st_mode))
				return false;
			if (is_opaque(p))
				hidden = true;
		}
		snprintf(found, len, "%s/%s", lowers[n], rel);
		if (!lstat(found, &st))
			return S_ISDIR(st.st_mode) && !is_whiteout(&st);
		if (hidden)
			return false;
	}
	return false;
}

static int copy_xattrs(const char *from, const char *to)
{
	char names[4096], val[4096], *name;
	ssize_t n = llistxattr(from, names, sizeof(names)), v;

	for (name = names; n > 0 && name < names + n; name += strlen(name) + 1) {
		if (!strncmp(name, OVL_PREFIX, strlen(OVL_PREFIX)))
			continue;
		v = lgetxattr(from, name, val, sizeof(val));
		if (v < 0 || lsetxattr(to, name, val, v, 0))
			return -1;
	}
	return n < 0 && errno != ENOTSUP ? -1 : 0;
}

/* The implied directories: metadata from below, or pinned to the layer's time. */
static struct {
	const char *const	*lowers;
	unsigned int		nr_lowers;
	struct dirset		*dirs;
	int64_t			mtime;
	size_t			prefix;
	int			error;
} fix;

static int fix_dir(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	struct dirent_time key = { .path = (char *)(path[fix.prefix] ? path + fix.prefix + 1 : ".") };
	struct timespec ts[2] = { { fix.mtime, 0 }, { fix.mtime, 0 } };
	const struct dirent_time *own;
	char lower[PATH_MAX];
	struct stat ls;

	if (flag != FTW_D)
		return 0;
	own = bsearch(&key, fix.dirs->v, fix.dirs->n, sizeof(*own), cmp_path);
	if (own) {
		ts[0] = ts[1] = own->mtime;
	} else if (lower_dir(fix.lowers, fix.nr_lowers, key.path, lower, sizeof(lower)) &&
		   !lstat(lower, &ls)) {
		if (lchown(path, ls.st_uid, ls.st_gid) || chmod(path, ls.st_mode & 07777) ||
		    copy_xattrs(lower, path))
			fix.error = errno;
		ts[0] = ts[1] = ls.st_mtim;
	}
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
		fix.error = errno;
	return 0;
}

/* The tar's own entry for the root directory, applied to dir. */
static int set_root(const char *dir, struct archive_entry *e)
{
	struct timespec ts[2] = { { sym_archive_entry_mtime(e), sym_archive_entry_mtime_nsec(e) } };
	const char *name;
	const void *val;
	size_t len;

	ts[1] = ts[0];
	if (lchown(dir, sym_archive_entry_uid(e), sym_archive_entry_gid(e)) ||
	    chmod(dir, sym_archive_entry_perm(e)))
		return -1;
	sym_archive_entry_xattr_reset(e);
	while (sym_archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK)
		if (strncmp(name, OVL_PREFIX, strlen(OVL_PREFIX)) &&
		    lsetxattr(dir, name, val, len, 0))
			return -1;
	return utimensat(AT_FDCWD, dir, ts, AT_SYMLINK_NOFOLLOW);
}

static int64_t max_mtime;

static int note_mtime(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	if (st->st_mtime > max_mtime)
		max_mtime = st->st_mtime;
	return 0;
}

int64_t oci_tree_max_mtime(const char *dir)
{
	max_mtime = 0;
	nftw(dir, note_mtime, 16, FTW_PHYS);
	return max_mtime;
}

static void set_filters(struct archive *a, enum oci_compression c)
{
	switch (c) {
	case OCI_PLAIN:
		break;
	case OCI_GZIP:
		sym_archive_read_support_filter_gzip(a);
		break;
	case OCI_ZSTD:
		sym_archive_read_support_filter_zstd(a);
		break;
	case OCI_SNIFF:
		sym_archive_read_support_filter_all(a);
		break;
	}
}

static int layer_unpack(const struct oci_layer *l, const char *dir,
			const char *const *lowers, unsigned int nr_lowers, char *err)
{
	struct archive *in = sym_archive_read_new(), *out = sym_archive_write_disk_new();
	struct stream *s = calloc(1, sizeof(*s));
	struct archive_entry *e;
	struct dirset dirs = { 0 };
	char blob[OCI_DIGEST_LEN + 1], diff[OCI_DIGEST_LEN + 1];
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int64_t mtime = 0;
	mode_t mask = umask(022);
	bool hashing = false;
	const void *rest;
	la_ssize_t n;
	int ret = -1;

	if (!in || !out || !s || !(s->outer = sym_archive_read_new())) {
		oci_seterr(err, "out of memory");
		goto out;
	}
	s->fd = open(l->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		oci_seterr(err, "cannot open %s: %s", l->path, strerror(errno));
		goto out;
	}
	/* archive_write_disk writes relative to the cwd: the layer's root. */
	if (cwd < 0 || root < 0 || fchdir(root)) {
		oci_seterr(err, "cannot enter %s: %s", dir, strerror(errno));
		goto out;
	}
	mbedtls_sha256_init(&s->blob);
	mbedtls_sha256_init(&s->diff);
	mbedtls_sha256_starts_ret(&s->blob, 0);
	mbedtls_sha256_starts_ret(&s->diff, 0);
	hashing = true;

	set_filters(s->outer, l->compression);
	sym_archive_read_support_format_raw(s->outer);
	sym_archive_read_support_format_tar(in);
	sym_archive_write_disk_set_options(out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
					   ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
					   ARCHIVE_EXTRACT_SECURE_SYMLINKS |
					   ARCHIVE_EXTRACT_SECURE_NODOTDOT |
					   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (sym_archive_read_open(s->outer, s, NULL, blob_read, NULL) ||
	    sym_archive_read_next_header(s->outer, &e) != ARCHIVE_OK) {
		oci_seterr(err, "cannot decompress the blob: %s",
			   sym_archive_error_string(s->outer) ?: "it is empty");
		goto out;
	}
	if (sym_archive_read_open(in, s, NULL, tar_read, NULL)) {
		oci_seterr(err, "not a tar: %s", sym_archive_error_string(in));
		goto out;
	}
	if (unpack_entries(in, out, root, s, &dirs, &mtime, err))
		goto out;
	/* The tar's end may leave padding unread: the diff_id covers it too. */
	while ((n = sym_archive_read_data(s->outer, s->dbuf, sizeof(s->dbuf))) > 0)
		mbedtls_sha256_update_ret(&s->diff, s->dbuf, n);
	if (n < 0) {
		oci_seterr(err, "%s", sym_archive_error_string(s->outer));
		goto out;
	}
	while (blob_read(s->outer, s, &rest) > 0)
		;
	hashing = false;
	finish_digest(&s->blob, blob);
	finish_digest(&s->diff, diff);
	if (*l->blob_digest && (strcmp(blob, l->blob_digest) ||
				(l->size >= 0 && (int64_t)s->blob_bytes != l->size))) {
		oci_seterr(err, "the blob does not match its digest: want %s (%" PRId64
			   " bytes), it has %s (%" PRIu64 " bytes)",
			   l->blob_digest, l->size, blob, s->blob_bytes);
		goto out;
	}
	if (strcmp(diff, l->diff_id)) {
		oci_seterr(err, "the layer does not match its diff_id: want %s, it has %s",
			   l->diff_id, diff);
		goto out;
	}

	qsort(dirs.v, dirs.n, sizeof(*dirs.v), cmp_path);
	fix.lowers = lowers;
	fix.nr_lowers = nr_lowers;
	fix.dirs = &dirs;
	fix.mtime = mtime;
	fix.prefix = strlen(dir);
	fix.error = 0;
	nftw(dir, fix_dir, 16, FTW_PHYS);
	if (!fix.error && s->root && set_root(dir, s->root))
		fix.error = errno;
	if (fix.error) {
		oci_seterr(err, "cannot set the metadata of an implied directory: %s",
			   strerror(fix.error));
		goto out;
	}
	ret = 0;
out:
	if (ret && hashing) {
		/* Garbage in a blob shows as a bad tar: say what it really is. */
		while (blob_read(s->outer, s, &rest) > 0)
			;
		finish_digest(&s->blob, blob);
		if (*l->blob_digest && strcmp(blob, l->blob_digest)) {
			char why[OCI_ERR_LEN];

			snprintf(why, sizeof(why), "%s", err);
			oci_seterr(err, "the blob does not match its digest: want %s, it has %s (%s)",
				   l->blob_digest, blob, why);
		}
	}
	if (cwd >= 0) {
		if (fchdir(cwd) && !ret)
			ret = -1;
		close(cwd);
	}
	if (root >= 0)
		close(root);
	umask(mask);
	if (s) {
		if (s->fd > 0)
			close(s->fd);
		sym_archive_read_free(s->outer);
		sym_archive_entry_free(s->root);
		free(s);
	}
	sym_archive_read_free(in);
	sym_archive_write_free(out);
	dirset_free(&dirs);
	return ret;
}

int oci_layer_unpack(const struct oci_layer *l, const char *dir,
		     const char *const *lowers, unsigned int nr_lowers,
		     char *err)
{
	if (hbx_archive_load(err))
		return -1;
	return layer_unpack(l, dir, lowers, nr_lowers, err);
}
