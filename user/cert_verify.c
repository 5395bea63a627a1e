// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <mbedtls/oid.h>
#include "cert_san.h"
#include "cert_util.h"
#include "cert_verify.h"

static const char *const reason_names[] = {
	[HBX_CERT_OK]			= "ok",
	[HBX_CERT_MISSING]		= "missing",
	[HBX_CERT_NOT_TRUSTED]		= "not-trusted",
	[HBX_CERT_REVOKED]		= "revoked",
	[HBX_CERT_EXPIRED]		= "expired",
	[HBX_CERT_NOT_YET_VALID]	= "not-yet-valid",
	[HBX_CERT_CA_EXPIRED]		= "ca-expired",
	[HBX_CERT_NAME_MISMATCH]	= "name-mismatch",
	[HBX_CERT_BAD_USAGE]		= "bad-usage",
	[HBX_CERT_BAD_ALGORITHM]	= "bad-algorithm",
	[HBX_CERT_CRL_NOT_TRUSTED]	= "crl-not-trusted",
	[HBX_CERT_CRL_EXPIRED]		= "crl-expired",
	[HBX_CERT_CRL_NOT_YET_VALID]	= "crl-not-yet-valid",
	[HBX_CERT_OTHER]		= "other",
};

const char *hbx_cert_reason_name(int reason)
{
	if (reason >= 0 && reason < (int)(sizeof(reason_names) / sizeof(reason_names[0])))
		return reason_names[reason];
	return "other";
}

#define BAD_USAGE (MBEDTLS_X509_BADCERT_KEY_USAGE | \
		   MBEDTLS_X509_BADCERT_EXT_KEY_USAGE | \
		   MBEDTLS_X509_BADCERT_NS_CERT_TYPE)
#define BAD_ALGORITHM (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK | \
		       MBEDTLS_X509_BADCERT_BAD_KEY)
#define BAD_CRL_ALGORITHM (MBEDTLS_X509_BADCRL_BAD_MD | MBEDTLS_X509_BADCRL_BAD_PK | \
			   MBEDTLS_X509_BADCRL_BAD_KEY)

int hbx_cert_reason_errno(int reason)
{
	switch (reason) {
	case HBX_CERT_OK:
		return 0;
	case HBX_CERT_MISSING:
		return -ENOKEY;
	case HBX_CERT_REVOKED:
		return -EKEYREVOKED;
	case HBX_CERT_EXPIRED:
	case HBX_CERT_NOT_YET_VALID:
	case HBX_CERT_CA_EXPIRED:
	case HBX_CERT_CRL_EXPIRED:
	case HBX_CERT_CRL_NOT_YET_VALID:
		return -EKEYEXPIRED;
	case HBX_CERT_CRL_NOT_TRUSTED:
		return -EINVAL;
	default:
		return -EKEYREJECTED;
	}
}

/*
 * What the handshake matches a name against, for a mismatch: the SAN DNS
 * names when the certificate has a SAN extension, else its CN.
 */
static void names_of(const mbedtls_x509_crt *crt, char *buf, size_t len)
{
	char s[HBX_SAN_STR_MAX];
	struct hbx_san_list san;
	size_t i, n;

	*buf = '\0';
	if (!(crt->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME)) {
		if (hbx_x509_cn(&crt->subject, buf, len))
			snprintf(buf, len, "no CN");
		return;
	}
	if (hbx_san_from_crt(crt, &san))
		san.n = 0;
	for (i = 0; i < san.n; i++) {
		if (san.v[i].type != HBX_SAN_DNS)
			continue;
		hbx_san_format(&san.v[i], s, sizeof(s));
		n = strlen(buf);
		snprintf(buf + n, len - n, "%s%s", n ? ", " : "", s);
	}
	if (!*buf)
		snprintf(buf, len, "no DNS name");
}

int hbx_cert_why(const mbedtls_x509_crt *crt, uint32_t flags, const char *name,
		 char *why, size_t whylen)
{
	char who[HBX_CERT_NAME_MAX + 32], cn[HBX_CERT_NAME_MAX + 1];
	char when[HBX_ISO_TIME_LEN + 1], info[512];
	time_t now = time(NULL);

	snprintf(who, sizeof(who), "the certificate");
	if (crt && !hbx_x509_cn(&crt->subject, cn, sizeof(cn)))
		snprintf(who, sizeof(who), "certificate '%s'", cn);

	if (!flags) {
		snprintf(why, whylen, "ok");
		return HBX_CERT_OK;
	}
	if (!crt || (flags & MBEDTLS_X509_BADCERT_MISSING)) {
		snprintf(why, whylen, "there is no certificate");
		return HBX_CERT_MISSING;
	}
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
		mbedtls_x509_dn_gets(info, sizeof(info), &crt->issuer);
		snprintf(why, whylen, "%s is not signed by this CA (its issuer is %s)",
			 who, info);
		return HBX_CERT_NOT_TRUSTED;
	}
	if (flags & MBEDTLS_X509_BADCERT_REVOKED) {
		hbx_hex(crt->serial.p, crt->serial.len < 64 ? crt->serial.len : 64, info);
		snprintf(why, whylen, "%s has been revoked (serial %s is on the CRL)",
			 who, info);
		return HBX_CERT_REVOKED;
	}
	/* The flags cover the whole chain: tell the peer's dates from the CA's. */
	if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
		hbx_x509_time_iso(&crt->valid_to, when);
		if (hbx_x509_time_epoch(&crt->valid_to) > now) {
			snprintf(why, whylen, "the CA certificate has expired");
			return HBX_CERT_CA_EXPIRED;
		}
		snprintf(why, whylen, "%s expired on %s", who, when);
		return HBX_CERT_EXPIRED;
	}
	if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
		hbx_x509_time_iso(&crt->valid_from, when);
		if (hbx_x509_time_epoch(&crt->valid_from) <= now)
			snprintf(why, whylen, "the CA certificate is not valid yet");
		else
			snprintf(why, whylen, "%s is not valid until %s", who, when);
		return HBX_CERT_NOT_YET_VALID;
	}
	if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
		names_of(crt, info, sizeof(info));
		if (name)
			snprintf(why, whylen, "%s does not name '%s' (it names %s)",
				 who, name, info);
		else
			snprintf(why, whylen, "%s does not name the expected peer "
				 "(it names %s)", who, info);
		return HBX_CERT_NAME_MISMATCH;
	}
	if (flags & BAD_USAGE) {
		snprintf(why, whylen, "%s is not a TLS peer certificate (its key usage "
			 "does not allow signing, client and server authentication)", who);
		return HBX_CERT_BAD_USAGE;
	}
	if (flags & BAD_ALGORITHM) {
		snprintf(why, whylen, "%s is signed with an unacceptable algorithm "
			 "or key", who);
		return HBX_CERT_BAD_ALGORITHM;
	}
	if (flags & (MBEDTLS_X509_BADCRL_NOT_TRUSTED | BAD_CRL_ALGORITHM)) {
		snprintf(why, whylen, "the CRL is not validly signed by this CA");
		return HBX_CERT_CRL_NOT_TRUSTED;
	}
	if (flags & MBEDTLS_X509_BADCRL_EXPIRED) {
		snprintf(why, whylen, "the CRL has expired (its nextUpdate has "
			 "passed): re-issue it with hbx cert crl");
		return HBX_CERT_CRL_EXPIRED;
	}
	if (flags & MBEDTLS_X509_BADCRL_FUTURE) {
		snprintf(why, whylen, "the CRL is not valid yet (its thisUpdate is "
			 "in the future)");
		return HBX_CERT_CRL_NOT_YET_VALID;
	}
	mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
	info[strcspn(info, "\n")] = '\0';
	snprintf(why, whylen, "%s failed verification: %s", who, info);
	return HBX_CERT_OTHER;
}

bool hbx_cert_names(const mbedtls_x509_crt *crt, const char *name)
{
	uint32_t flags = 0;

	/*
	 * mbedTLS's own check, the one the handshake runs on ssl->hostname:
	 * it matches before it builds the chain, so any trust anchor does.
	 * A second implementation would drift from it (it did: it accepted
	 * the CN beside SANs, and IP SANs, which the handshake does not).
	 */
	mbedtls_x509_crt_verify((mbedtls_x509_crt *)crt, (mbedtls_x509_crt *)crt,
				NULL, name, &flags, NULL, NULL);
	return !(flags & MBEDTLS_X509_BADCERT_CN_MISMATCH);
}

/* mbedTLS skips a CRL whose issuer is not the CA; we refuse it. */
static bool crl_is_from(const mbedtls_x509_crl *crl, const mbedtls_x509_crt *ca)
{
	for (; crl && crl->raw.p; crl = crl->next)
		if (crl->issuer_raw.len == ca->subject_raw.len &&
		    !memcmp(crl->issuer_raw.p, ca->subject_raw.p, ca->subject_raw.len))
			return true;
	return false;
}

int hbx_cert_check(const mbedtls_x509_crt *crt, const mbedtls_x509_crt *ca,
		   mbedtls_x509_crl *crl, const char *name, char *why,
		   size_t whylen)
{
	uint32_t flags = 0;

	if (!crt)
		return hbx_cert_why(NULL, MBEDTLS_X509_BADCERT_MISSING, name, why, whylen);
	if (crl && !crl_is_from(crl, ca)) {
		snprintf(why, whylen, "the CRL was not issued by this CA");
		return HBX_CERT_CRL_NOT_TRUSTED;
	}
	/* mbedtls_x509_crt_verify() takes non-const pointers but only reads. */
	if (mbedtls_x509_crt_verify((mbedtls_x509_crt *)crt, (mbedtls_x509_crt *)ca,
				    crl, NULL, &flags, NULL, NULL) && !flags)
		flags = MBEDTLS_X509_BADCERT_OTHER;
	if (mbedtls_x509_crt_check_key_usage(crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE))
		flags |= MBEDTLS_X509_BADCERT_KEY_USAGE;
	if (mbedtls_x509_crt_check_extended_key_usage(crt, MBEDTLS_OID_SERVER_AUTH,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) ||
	    mbedtls_x509_crt_check_extended_key_usage(crt, MBEDTLS_OID_CLIENT_AUTH,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)))
		flags |= MBEDTLS_X509_BADCERT_EXT_KEY_USAGE;
	if (name && !hbx_cert_names(crt, name))
		flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return hbx_cert_why(crt, flags, name, why, whylen);
}
