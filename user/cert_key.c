// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <mbedtls/ecp.h>
#include <mbedtls/platform_util.h>
#include "cert_key.h"
#include "cert_util.h"

int hbx_key_generate(mbedtls_pk_context *pk, struct hbx_rng *rng)
{
	int ret;

	ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (!ret)
		ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
					  hbx_rng_random, rng);
	if (ret)
		return hbx_cert_fail_tls(ret, "cannot generate a P-256 key");
	return 0;
}

int hbx_key_load(mbedtls_pk_context *pk, const char *path)
{
	int ret;

	if (access(path, R_OK))
		return hbx_cert_fail("cannot read the key %s: %s", path, strerror(errno));
	ret = mbedtls_pk_parse_keyfile(pk, path, NULL);
	if (ret)
		return hbx_cert_fail_tls(ret, "cannot parse the key %s", path);
	if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY) ||
	    mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return hbx_cert_fail("%s is not an ECDSA P-256 key", path);
	return 0;
}

int hbx_key_stage(struct hbx_staged *s, const char *path, mbedtls_pk_context *pk)
{
	unsigned char pem[1024];
	int ret = mbedtls_pk_write_key_pem(pk, pem, sizeof(pem));

	if (ret) {
		mbedtls_platform_zeroize(pem, sizeof(pem));
		return hbx_cert_fail_tls(ret, "cannot encode the key");
	}
	ret = hbx_file_stage(s, path, pem, strlen((char *)pem), 0600);
	mbedtls_platform_zeroize(pem, sizeof(pem));
	if (ret)
		return hbx_cert_fail("cannot write %s: %s", path, strerror(-ret));
	return 0;
}
