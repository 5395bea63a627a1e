// SPDX-License-Identifier: GPL-2.0
/* hbx cert show|verify: look at certificates and CRLs. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cert.h"
#include "cert_ca.h"
#include "cert_info.h"
#include "cert_util.h"
#include "cert_verify.h"
#include "hbx.h"
#include "json.h"
#include "pem_file.h"

static bool is_pem_crl(const char *path)
{
	unsigned char *buf;
	size_t len;
	bool crl;

	if (hbx_file_read(path, &buf, &len))
		return false;
	crl = strstr((char *)buf, "-----BEGIN X509 CRL-----") != NULL;
	free(buf);
	return crl;
}

static void show_crl(const mbedtls_x509_crl *crl, bool json)
{
	struct hbx_json j;

	if (!json) {
		hbx_crl_print(stdout, crl);
		return;
	}
	hbx_json_init(&j, stdout);
	hbx_crl_json(&j, NULL, crl);
	hbx_json_finish(&j);
}

static void show_crt(const mbedtls_x509_crt *crt, bool json)
{
	struct hbx_json j;

	/* A chain file shows its first certificate: the peer's own. */
	if (!json) {
		hbx_cert_print(stdout, crt);
		return;
	}
	hbx_json_init(&j, stdout);
	hbx_cert_json(&j, NULL, crt);
	hbx_json_finish(&j);
}

/* PEM says what it is; DER is tried as a certificate, then as a CRL. */
static int show_file(const char *path, bool json)
{
	mbedtls_x509_crt crt;
	mbedtls_x509_crl crl;
	int ret = 1;

	mbedtls_x509_crt_init(&crt);
	mbedtls_x509_crl_init(&crl);
	if (access(path, R_OK)) {
		hbx_err("cannot read %s: %s", path, strerror(errno));
	} else if (is_pem_crl(path)) {
		if (!hbx_crl_load(&crl, path)) {
			show_crl(&crl, json);
			ret = 0;
		} else {
			hbx_err("%s", hbx_cert_error());
		}
	} else if (!hbx_cert_load(&crt, path)) {
		show_crt(&crt, json);
		ret = 0;
	} else if (!hbx_crl_load(&crl, path)) {
		show_crl(&crl, json);
		ret = 0;
	} else {
		hbx_err("%s is neither a certificate nor a CRL (PEM or DER)", path);
	}
	mbedtls_x509_crl_free(&crl);
	mbedtls_x509_crt_free(&crt);
	return ret;
}

int cert_show_main(int argc, char **argv)
{
	static const char usage[] = "cert show FILE [-j]";
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (c != 'j')
			return hbx_usage(usage);
		json = true;
	}
	if (optind != argc - 1)
		return hbx_usage(usage);
	return show_file(argv[optind], json);
}

struct verify_opts {
	const char	*dir, *ca, *crl, *name;
	bool		json;
};

static int parse_verify(int argc, char **argv, struct verify_opts *o)
{
	static const char usage[] =
		"cert verify FILE [--dir D | --ca CA [--crl CRL]] [--name NAME] [-j]";
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "ca", required_argument, NULL, 'c' },
		{ "crl", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "d:n:j", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'c': o->ca = optarg; break;
		case 'r': o->crl = optarg; break;
		case 'n': o->name = optarg; break;
		case 'j': o->json = true; break;
		default: return hbx_usage(usage);
		}
	}
	if (optind != argc - 1 || (o->dir && (o->ca || o->crl)) || (o->crl && !o->ca))
		return hbx_usage(usage);
	return 0;
}

static void print_verdict(const char *file, int reason, const char *why,
			  bool crl_checked, bool json)
{
	struct hbx_json j;

	if (reason)
		hbx_err("%s: %s", file, why);
	if (!json) {
		if (!reason)
			printf("ok%s\n", crl_checked ? "" :
			       " (revocation not checked: no CRL given)");
		return;
	}
	hbx_json_init(&j, stdout);
	hbx_json_object_begin(&j, NULL);
	hbx_json_string(&j, "file", file);
	hbx_json_bool(&j, "ok", !reason);
	hbx_json_string(&j, "reason", hbx_cert_reason_name(reason));
	hbx_json_string(&j, "message", why);
	hbx_json_bool(&j, "revocation-checked", crl_checked);
	hbx_json_object_end(&j);
	hbx_json_finish(&j);
}

int cert_verify_main(int argc, char **argv)
{
	char ca_path[PATH_MAX + 16], crl_path[PATH_MAX + 16], why[512];
	mbedtls_x509_crt crt, ca;
	mbedtls_x509_crl crl;
	struct verify_opts o;
	const char *file;
	int ret = 1, reason;

	ret = parse_verify(argc, argv, &o);
	if (ret)
		return ret;
	ret = 1;
	file = argv[optind];
	if (!o.ca) {
		const char *dir = o.dir ? o.dir : HBX_CA_DIR_DEFAULT;

		snprintf(ca_path, sizeof(ca_path), "%s/%s", dir, HBX_CA_CRT);
		snprintf(crl_path, sizeof(crl_path), "%s/%s", dir, HBX_CA_CRL);
		o.ca = ca_path;
		o.crl = crl_path;
	}
	mbedtls_x509_crt_init(&crt);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crl_init(&crl);
	if (hbx_cert_load(&crt, file) || hbx_cert_load(&ca, o.ca) ||
	    (o.crl && hbx_crl_load(&crl, o.crl))) {
		hbx_err("%s", hbx_cert_error());
		goto out;
	}
	reason = hbx_cert_check(&crt, &ca, o.crl ? &crl : NULL, o.name, why,
				sizeof(why));
	print_verdict(file, reason, why, o.crl != NULL, o.json);
	ret = reason ? 1 : 0;
out:
	mbedtls_x509_crl_free(&crl);
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&crt);
	return ret;
}
