/* SPDX-License-Identifier: GPL-2.0 */
/* Peer certificates: issue (new key) and renew (same key, new serial). */
#ifndef HBX_CERT_ISSUE_H
#define HBX_CERT_ISSUE_H

#include <limits.h>
#include <stdbool.h>
#include "cert_ca.h"
#include "cert_san.h"

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
};

/*
 * New P-256 key PREFIX.key (0600) and certificate PREFIX.crt, recorded in
 * the index before either file appears.  Existing files are kept unless
 * o->force.  0, or -1 and hbx_cert_error().
 */
int hbx_ca_issue(struct hbx_ca *ca, struct hbx_issue *o);

/*
 * A new certificate for the key in PREFIX.key, with the subject and SANs of
 * PREFIX.crt, which it replaces.  The old certificate stays valid until it
 * expires or is revoked; a revoked one is not renewed.
 */
int hbx_ca_renew(struct hbx_ca *ca, struct hbx_issue *o);

#endif
