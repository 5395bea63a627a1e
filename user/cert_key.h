/* SPDX-License-Identifier: GPL-2.0 */
/* ECDSA P-256 keys: generate, load, and stage as 0600 PEM. */
#ifndef HBX_CERT_KEY_H
#define HBX_CERT_KEY_H

#include <mbedtls/pk.h>
#include "cert_rng.h"
#include "pem_file.h"

/* All return 0, or -1 and hbx_cert_error(). */
int hbx_key_generate(mbedtls_pk_context *pk, struct hbx_rng *rng);
/* Load a PEM or DER private key; anything but EC P-256 is refused. */
int hbx_key_load(mbedtls_pk_context *pk, const char *path);
/* Write pk as SEC1 PEM to its temporary file with mode 0600. */
int hbx_key_stage(struct hbx_staged *s, const char *path, mbedtls_pk_context *pk);

#endif
