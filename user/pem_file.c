// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mbedtls/pem.h>
#include "cert_util.h"
#include "io.h"
#include "pem_file.h"

#define HBX_FILE_MAX (4 << 20)	/* certificates, keys, CRLs, the index */

int hbx_file_stage(struct hbx_staged *s, const char *path, const void *buf,
		   size_t len, mode_t mode)
{
	int fd, err;

	s->tmp[0] = '\0';
	if (snprintf(s->path, sizeof(s->path), "%s", path) >= (int)sizeof(s->path) ||
	    snprintf(s->tmp, sizeof(s->tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(s->tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(s->tmp, O_CLOEXEC);
	if (fd < 0) {
		s->tmp[0] = '\0';
		return -errno;
	}
	/* fchmod, not the umask, decides: keys must end up exactly 0600. */
	err = fchmod(fd, mode) ? -errno : 0;
	if (!err)
		err = hbx_write_full(fd, buf, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (err)
		hbx_file_discard(s);
	return err;
}

static void sync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int hbx_file_commit(struct hbx_staged *s, bool replace)
{
	int err = 0;

	if (replace) {
		err = rename(s->tmp, s->path) ? -errno : 0;
	} else {
		err = renameat2(AT_FDCWD, s->tmp, AT_FDCWD, s->path,
				RENAME_NOREPLACE) ? -errno : 0;
		/* Filesystems without RENAME_NOREPLACE: link() never replaces either. */
		if (err == -EINVAL) {
			err = link(s->tmp, s->path) ? -errno : 0;
			if (!err)
				unlink(s->tmp);
		}
	}
	if (err) {
		hbx_file_discard(s);
		return err;
	}
	s->tmp[0] = '\0';
	sync_dir_of(s->path);
	return 0;
}

void hbx_file_discard(struct hbx_staged *s)
{
	if (s->tmp[0])
		unlink(s->tmp);
	s->tmp[0] = '\0';
}

int hbx_file_write(const char *path, const void *buf, size_t len, mode_t mode,
		   bool replace)
{
	struct hbx_staged s;
	int err = hbx_file_stage(&s, path, buf, len, mode);

	return err ? err : hbx_file_commit(&s, replace);
}

int hbx_file_read(const char *path, unsigned char **buf, size_t *len)
{
	unsigned char *p = NULL;
	size_t have = 0;
	struct stat st;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > HBX_FILE_MAX) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EFBIG;
		goto out;
	}
	p = malloc(st.st_size + 1);
	if (!p) {
		err = -ENOMEM;
		goto out;
	}
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, p + have, st.st_size - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += n;
	}
	p[have] = '\0';
	*buf = p;
	*len = have;
	p = NULL;
out:
	free(p);
	close(fd);
	return err;
}

int hbx_mkdir_private(const char *dir)
{
	char path[PATH_MAX], *s;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int hbx_pem_encode(const char *label, const unsigned char *der, size_t len,
		   unsigned char **pem, size_t *pem_len)
{
	char header[64], footer[64];
	size_t size = len * 4 / 3 + len / 48 + 128, olen = 0;
	unsigned char *buf = malloc(size);

	if (!buf)
		return -ENOMEM;
	snprintf(header, sizeof(header), "-----BEGIN %s-----\n", label);
	snprintf(footer, sizeof(footer), "-----END %s-----\n", label);
	if (mbedtls_pem_write_buffer(header, footer, der, len, buf, size, &olen)) {
		free(buf);
		return -EOVERFLOW;
	}
	*pem = buf;
	*pem_len = olen - 1;	/* olen counts the NUL */
	return 0;
}

/* PEM needs its NUL counted, DER must not have it. */
static size_t parse_len(const unsigned char *buf, size_t len, const char *label)
{
	return strstr((const char *)buf, label) ? len + 1 : len;
}

int hbx_cert_load(mbedtls_x509_crt *crt, const char *path)
{
	unsigned char *buf;
	size_t len;
	int ret = hbx_file_read(path, &buf, &len);

	if (ret)
		return hbx_cert_fail("cannot read %s: %s", path, strerror(-ret));
	ret = mbedtls_x509_crt_parse(crt, buf,
				     parse_len(buf, len, "-----BEGIN CERTIFICATE-----"));
	free(buf);
	/* > 0: some certificates of a PEM chain did not parse. */
	if (ret < 0 || (ret > 0 && !crt->raw.p))
		return hbx_cert_fail_tls(ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT,
					 "%s is not a certificate", path);
	return 0;
}

int hbx_crl_load(mbedtls_x509_crl *crl, const char *path)
{
	unsigned char *buf;
	size_t len;
	int ret = hbx_file_read(path, &buf, &len);

	if (ret)
		return hbx_cert_fail("cannot read %s: %s", path, strerror(-ret));
	ret = mbedtls_x509_crl_parse(crl, buf,
				     parse_len(buf, len, "-----BEGIN X509 CRL-----"));
	free(buf);
	if (ret)
		return hbx_cert_fail_tls(ret, "%s is not a CRL", path);
	return 0;
}
