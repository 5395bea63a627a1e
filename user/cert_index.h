/* SPDX-License-Identifier: GPL-2.0 */
/*
 * DIR/index: what the CA issued, one certificate a line:
 *
 *   SERIAL NAME NOT-AFTER STATUS REVOKED-AT KEY
 *
 * SERIAL in hex, times ISO 8601 UTC, STATUS "valid" or "revoked",
 * REVOKED-AT "-" while valid, KEY the certificate's public key identity
 * ("sha256:<hex>" of its SubjectPublicKeyInfo, what hbx cert show, hbx
 * serve and hbx peer list call the peer's identity), so that every
 * certificate of a key can be revoked at once; lines written before keys
 * were recorded have no KEY.  Lines starting with '#' are comments.  The
 * CRL is made from it; it is rewritten whole, under the CA's lock.
 */
#ifndef HBX_CERT_INDEX_H
#define HBX_CERT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "cert_write.h"
#include "manifest.h"

#define HBX_INDEX_FILE "index"

struct hbx_index_entry {
	char	serial[HBX_SERIAL_HEX_MAX + 1];
	char	name[HBX_CERT_NAME_MAX + 1];
	time_t	not_after;
	bool	revoked;
	time_t	revoked_at;
	char	key[HBX_DIGEST_STR_LEN + 1];	/* "" if not recorded */
};

struct hbx_index {
	size_t			n, cap;
	struct hbx_index_entry	*v;
};

/* 0, or -1 and hbx_cert_error(). */
int hbx_index_load(const char *dir, struct hbx_index *ix);
int hbx_index_save(const char *dir, const struct hbx_index *ix);
int hbx_index_add(struct hbx_index *ix, const struct hbx_index_entry *e);
/* The entry with this serial (hex, any case), or NULL. */
struct hbx_index_entry *hbx_index_find(const struct hbx_index *ix,
				       const char *serial);
void hbx_index_free(struct hbx_index *ix);

#endif
