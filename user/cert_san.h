/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Subject alternative names as hbx takes and prints them: "dns:NAME" and
 * "ip:ADDRESS" (IPv4 or IPv6).
 */
#ifndef HBX_CERT_SAN_H
#define HBX_CERT_SAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mbedtls/x509_crt.h>

#define HBX_SAN_MAX		32
#define HBX_DNS_NAME_MAX	253
#define HBX_SAN_STR_MAX		(4 + HBX_DNS_NAME_MAX + 1)

/* The values are the GeneralName tags ([2] dNSName, [7] iPAddress). */
enum hbx_san_type {
	HBX_SAN_DNS	= 2,
	HBX_SAN_IP	= 7,
};

struct hbx_san {
	enum hbx_san_type	type;
	uint8_t			ip_len;		/* 4 or 16 */
	uint8_t			ip[16];
	char			dns[HBX_DNS_NAME_MAX + 1];
};

struct hbx_san_list {
	size_t		n;
	struct hbx_san	v[HBX_SAN_MAX];
};

/* Append "dns:a,ip:b,..." (duplicates are dropped).  0, or -1 and hbx_cert_error(). */
int hbx_san_parse(struct hbx_san_list *l, const char *spec);
/* "dns:NAME" or "ip:ADDRESS"; buf holds HBX_SAN_STR_MAX. */
void hbx_san_format(const struct hbx_san *s, char *buf, size_t len);
/* The DNS names and IP addresses of crt's subjectAltName (others are skipped). */
int hbx_san_from_crt(const mbedtls_x509_crt *crt, struct hbx_san_list *l);
/* A host name we put in certificates: LDH labels, no wildcards. */
bool hbx_dns_name_ok(const char *s);

#endif
