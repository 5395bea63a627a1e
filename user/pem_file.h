/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CA's files.  Written whole or not at all (temporary file in the same
 * directory, fsync, rename, fsync of the directory) with an exact mode, so a
 * crash never leaves half a key; read back with errors that name the file.
 */
#ifndef HBX_PEM_FILE_H
#define HBX_PEM_FILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

/* A file written to its temporary name, not yet renamed into place. */
struct hbx_staged {
	char	path[PATH_MAX];
	char	tmp[PATH_MAX];
};

/* All return 0 or -errno. */
int hbx_file_stage(struct hbx_staged *s, const char *path, const void *buf,
		   size_t len, mode_t mode);
/* Rename into place; without replace an existing file stays and -EEXIST. */
int hbx_file_commit(struct hbx_staged *s, bool replace);
void hbx_file_discard(struct hbx_staged *s);
int hbx_file_write(const char *path, const void *buf, size_t len, mode_t mode,
		   bool replace);

/* The whole file, NUL-terminated (*len excludes the NUL); free() it. */
int hbx_file_read(const char *path, unsigned char **buf, size_t *len);

/* mkdir -p: missing parents 0755, dir itself 0700.  An existing dir is kept. */
int hbx_mkdir_private(const char *dir);

/* "-----BEGIN <label>-----" PEM of der; *pem is malloc'd and NUL-terminated. */
int hbx_pem_encode(const char *label, const unsigned char *der, size_t len,
		   unsigned char **pem, size_t *pem_len);

/* Load a PEM or DER certificate (chain) or CRL.  0, or -1 and hbx_cert_error(). */
int hbx_cert_load(mbedtls_x509_crt *crt, const char *path);
int hbx_crl_load(mbedtls_x509_crl *crl, const char *path);

#endif
