/* SPDX-License-Identifier: GPL-2.0 */
/* Peer certificates: issue (new key) and renew (same key, new serial). */
#ifndef HBX_CERT_ISSUE_H
#define HBX_CERT_ISSUE_H

#include <limits.h>
#include <stdbool.h>
#include "cert_ca.h"
#include "cert_san.h"
#include "manifest.h"

struct hbx_issue {
	const char		*name;		/* CN, and the index's NAME */
	const char		*out;		/* PREFIX; NULL: CA_DIR/NAME */
	/* NULL or empty: dns:NAME when NAME is a host name.  Renew ignores it. */
	const struct hbx_san_list *san;
	unsigned int		days;		/* 0: HBX_CERT_DAYS_DEFAULT */
	bool			force;		/* replace PREFIX.key/.crt */

	/* Filled in. */
	char			serial[HBX_SERIAL_HEX_MAX + 1];
	char			key_path[PATH_MAX], crt_path[PATH_MAX];
	char			key_id[HBX_DIGEST_STR_LEN + 1];	/* the key's identity */
	/* issue --force: the replaced key ("" if none) and how many of its
	 * certificates this revoked */
	char			old_key_id[HBX_DIGEST_STR_LEN + 1];
	size_t			revoked;
};

/*
 * New P-256 key PREFIX.key (0600) and certificate PREFIX.crt, recorded in
 * the index before either file appears, and taken back out of it if they
 * cannot be written.  Existing files are kept unless o->force; a key that
 * o->force replaces is retired: every certificate of it (renewals too) is
 * revoked and the CRL re-signed.  0, or -1 and hbx_cert_error().
 */
int hbx_ca_issue(struct hbx_ca *ca, struct hbx_issue *o);

/*
 * A new certificate for the key in PREFIX.key, with the subject and SANs of
 * PREFIX.crt, which it replaces.  The key, and so the peer's identity,
 * stays the same.  The old certificate stays valid until it expires or is
 * revoked (by serial; revoking the key's identity revokes both); a revoked
 * one is not renewed.
 */
int hbx_ca_renew(struct hbx_ca *ca, struct hbx_issue *o);

#endif
