// SPDX-License-Identifier: GPL-2.0
/*
 * hbx cert init|issue|renew|revoke|crl|list: run the cluster CA.
 * (show and verify live in cert_show.c.)
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cert.h"
#include "cert_ca.h"
#include "cert_issue.h"
#include "cert_util.h"
#include "hbx.h"
#include "json.h"

int cert_parse_days(const char *opt, const char *s, unsigned int *days)
{
	return hbx_arg_u32(opt, s, 1, HBX_DAYS_MAX, days);
}

static int cert_init_main(int argc, char **argv)
{
	static const char usage[] = "cert init [--dir D] [--name NAME] [--days N] "
				    "[--crl-days N] [--force]";
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "days", required_argument, NULL, 'D' },
		{ "crl-days", required_argument, NULL, 'C' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = HBX_CA_DIR_DEFAULT, *name = "HyperBox CA";
	unsigned int days = HBX_CA_DAYS_DEFAULT, crl_days = HBX_CRL_DAYS_DEFAULT;
	bool force = false;
	int c;

	while ((c = getopt_long(argc, argv, "d:n:f", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'D': if (cert_parse_days("--days", optarg, &days)) return 2; break;
		case 'C': if (cert_parse_days("--crl-days", optarg, &crl_days)) return 2; break;
		case 'f': force = true; break;
		default: return hbx_usage(usage);
		}
	}
	if (optind != argc)
		return hbx_usage(usage);
	if (hbx_ca_init(dir, name, days, crl_days, force)) {
		hbx_err("%s", hbx_cert_error());
		return 1;
	}
	printf("created the CA '%s' in %s (%s, %s, %s), valid for %u days\n",
	       name, dir, HBX_CA_KEY, HBX_CA_CRT, HBX_CA_CRL, days);
	return 0;
}

static void print_issued(const struct hbx_issue *o, bool json)
{
	struct hbx_json j;

	if (!json) {
		printf("%s serial %s (key %s, %s)\n", o->crt_path, o->serial,
		       o->key_path, o->key_id);
		if (o->revoked)
			printf("revoked %zu certificate%s of the replaced key %s\n",
			       o->revoked, o->revoked == 1 ? "" : "s", o->old_key_id);
		return;
	}
	hbx_json_init(&j, stdout);
	hbx_json_object_begin(&j, NULL);
	hbx_json_string(&j, "name", o->name);
	hbx_json_string(&j, "serial", o->serial);
	hbx_json_string(&j, "certificate", o->crt_path);
	hbx_json_string(&j, "key", o->key_path);
	hbx_json_string(&j, "public-key-sha256", o->key_id);
	if (o->revoked) {
		hbx_json_string(&j, "replaced-key", o->old_key_id);
		hbx_json_u64(&j, "revoked", o->revoked);
	}
	hbx_json_object_end(&j);
	hbx_json_finish(&j);
}

/* issue and renew: the same options, renew takes no --san or --force. */
static int issue_or_renew(int argc, char **argv, bool renew)
{
	static const struct option opts[] = {
		{ "san", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'D' },
		{ "dir", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *usage = renew ?
		"cert renew NAME [--days N] [--dir D] [--out PREFIX] [-j]" :
		"cert issue NAME [--san dns:NAME,ip:ADDR,...] [--days N] [--dir D] "
		"[--out PREFIX] [--force] [-j]";
	static struct hbx_san_list san;
	struct hbx_issue o = { .san = &san };
	const char *dir = HBX_CA_DIR_DEFAULT;
	struct hbx_ca ca;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, renew ? "d:o:j" : "s:d:o:fj", opts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			if (renew)
				return hbx_usage(usage);
			if (hbx_san_parse(&san, optarg)) {
				hbx_err("%s", hbx_cert_error());
				return 2;
			}
			break;
		case 'D': if (cert_parse_days("--days", optarg, &o.days)) return 2; break;
		case 'd': dir = optarg; break;
		case 'o': o.out = optarg; break;
		case 'f': if (renew) return hbx_usage(usage); o.force = true; break;
		case 'j': json = true; break;
		default: return hbx_usage(usage);
		}
	}
	if (optind != argc - 1)
		return hbx_usage(usage);
	o.name = argv[optind];
	if (hbx_ca_open(&ca, dir)) {
		hbx_err("%s", hbx_cert_error());
		return 1;
	}
	ret = renew ? hbx_ca_renew(&ca, &o) : hbx_ca_issue(&ca, &o);
	hbx_ca_close(&ca);
	if (ret) {
		hbx_err("%s", hbx_cert_error());
		return 1;
	}
	print_issued(&o, json);
	return 0;
}

static int cert_issue_main(int argc, char **argv)
{
	return issue_or_renew(argc, argv, false);
}

static int cert_renew_main(int argc, char **argv)
{
	return issue_or_renew(argc, argv, true);
}

/* --dir D [--days N], shared by revoke and crl. */
static int parse_dir_days(int argc, char **argv, const char *usage,
			  const char **dir, unsigned int *days)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "days", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	*dir = HBX_CA_DIR_DEFAULT;
	while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': *dir = optarg; break;
		case 'D':
			if (!days)
				return hbx_usage(usage);
			if (cert_parse_days("--days", optarg, days))
				return 2;
			break;
		default: return hbx_usage(usage);
		}
	}
	return 0;
}

static int cert_revoke_main(int argc, char **argv)
{
	static const char usage[] = "cert revoke NAME|SERIAL|sha256:KEY [--dir D]";
	struct hbx_ca ca;
	const char *dir;
	size_t count;
	int ret;

	ret = parse_dir_days(argc, argv, usage, &dir, NULL);
	if (ret)
		return ret;
	if (optind != argc - 1)
		return hbx_usage(usage);
	if (hbx_ca_open(&ca, dir)) {
		hbx_err("%s", hbx_cert_error());
		return 1;
	}
	ret = hbx_ca_revoke(&ca, argv[optind], &count);
	hbx_ca_close(&ca);
	if (ret) {
		hbx_err("%s", hbx_cert_error());
		return 1;
	}
	printf("revoked %zu certificate%s of '%s'; %s/%s is re-signed\n",
	       count, count == 1 ? "" : "s", argv[optind], dir, HBX_CA_CRL);
	return 0;
}

static int cert_crl_main(int argc, char **argv)
{
	static const char usage[] = "cert crl [--dir D] [--days N]";
	unsigned int days = 0;
	struct hbx_ca ca;
	const char *dir;
	int ret;

	ret = parse_dir_days(argc, argv, usage, &dir, &days);
	if (ret)
		return ret;
	if (optind != argc)
		return hbx_usage(usage);
	if (hbx_ca_open(&ca, dir)) {
		hbx_err("%s", hbx_cert_error());
		return 1;
	}
	ret = hbx_ca_write_crl(&ca, days);
	hbx_ca_close(&ca);
	if (ret) {
		hbx_err("%s", hbx_cert_error());
		return 1;
	}
	printf("%s/%s is re-signed\n", dir, HBX_CA_CRL);
	return 0;
}

static const char *entry_state(const struct hbx_index_entry *e, time_t now)
{
	if (e->revoked)
		return "revoked";
	return e->not_after < now ? "expired" : "valid";
}

static int cert_list_main(int argc, char **argv)
{
	static const char usage[] = "cert list [--dir D] [-j]";
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	char not_after[HBX_ISO_TIME_LEN + 1], revoked[HBX_ISO_TIME_LEN + 1];
	const char *dir = HBX_CA_DIR_DEFAULT;
	time_t now = time(NULL);
	struct hbx_index ix;
	struct hbx_json j;
	bool json = false;
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "d:j", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'j': json = true; break;
		default: return hbx_usage(usage);
		}
	}
	if (optind != argc)
		return hbx_usage(usage);
	if (hbx_index_load(dir, &ix)) {
		hbx_err("%s", hbx_cert_error());
		return 1;
	}
	if (json) {
		hbx_json_init(&j, stdout);
		hbx_json_array_begin(&j, NULL);
	} else {
		printf("%-32s  %-20s  %-20s  %s\n", "SERIAL", "NAME", "NOT-AFTER", "STATE");
	}
	for (i = 0; i < ix.n; i++) {
		const struct hbx_index_entry *e = &ix.v[i];

		hbx_time_iso(e->not_after, not_after);
		if (!json) {
			printf("%-32s  %-20s  %-20s  %s\n", e->serial, e->name,
			       not_after, entry_state(e, now));
			continue;
		}
		hbx_json_object_begin(&j, NULL);
		hbx_json_string(&j, "serial", e->serial);
		hbx_json_string(&j, "name", e->name);
		hbx_json_string(&j, "not-after", not_after);
		hbx_json_string(&j, "state", entry_state(e, now));
		if (*e->key)
			hbx_json_string(&j, "public-key-sha256", e->key);
		if (e->revoked) {
			hbx_time_iso(e->revoked_at, revoked);
			hbx_json_string(&j, "revocation-date", revoked);
		}
		hbx_json_object_end(&j);
	}
	if (json) {
		hbx_json_array_end(&j);
		hbx_json_finish(&j);
	}
	hbx_index_free(&ix);
	return 0;
}

static const struct hbx_subcommand cert_subcommands[] = {
	{ "init",	cert_init_main,	  "create the cluster CA" },
	{ "issue",	cert_issue_main,  "make a key and a certificate for a peer "
					  "(--force re-keys and revokes the old key's certificates)" },
	{ "renew",	cert_renew_main,  "a new certificate for the same key (the same identity); "
					  "the old one stays valid until revoked or expired" },
	{ "revoke",	cert_revoke_main, "revoke by serial, by name, or every certificate "
					  "of a key (sha256:KEY); re-sign the CRL" },
	{ "crl",	cert_crl_main,	  "re-sign the CRL (new dates, next number)" },
	{ "list",	cert_list_main,	  "list what the CA issued" },
	{ "show",	cert_show_main,	  "print a certificate or a CRL" },
	{ "verify",	cert_verify_main, "check a certificate against the CA and CRL" },
	{ NULL, NULL, NULL }
};

int cert_main(int argc, char **argv)
{
	return hbx_dispatch(cert_subcommands, "cert", argc - 1, argv + 1);
}
