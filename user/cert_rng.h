/* SPDX-License-Identifier: GPL-2.0 */
/* The random generator for keys, serials and ECDSA signatures. */
#ifndef HBX_CERT_RNG_H
#define HBX_CERT_RNG_H

#include <stddef.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

struct hbx_rng {
	mbedtls_entropy_context		entropy;
	mbedtls_ctr_drbg_context	drbg;
};

/* CTR_DRBG seeded from the system's entropy.  0, or -1 and hbx_cert_error(). */
int hbx_rng_init(struct hbx_rng *r);
void hbx_rng_free(struct hbx_rng *r);
/* The f_rng mbedTLS functions take, with the struct hbx_rng as p_rng. */
int hbx_rng_random(void *rng, unsigned char *out, size_t len);

#endif
