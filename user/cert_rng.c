// SPDX-License-Identifier: GPL-2.0
#include "cert_rng.h"
#include "cert_util.h"

int hbx_rng_init(struct hbx_rng *r)
{
	static const unsigned char pers[] = "hyperbox cert";
	int ret;

	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	ret = mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
				    pers, sizeof(pers) - 1);
	if (ret) {
		hbx_rng_free(r);
		return hbx_cert_fail_tls(ret, "cannot seed the random generator");
	}
	return 0;
}

void hbx_rng_free(struct hbx_rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
}

int hbx_rng_random(void *rng, unsigned char *out, size_t len)
{
	return mbedtls_ctr_drbg_random(&((struct hbx_rng *)rng)->drbg, out, len);
}
