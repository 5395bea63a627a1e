/* SPDX-License-Identifier: GPL-2.0 */
/* hbx cert: the cluster CA (cert.c) and looking at certificates (cert_show.c). */
#ifndef HBX_CLI_CERT_H
#define HBX_CLI_CERT_H

int cert_main(int argc, char **argv);

int cert_show_main(int argc, char **argv);
int cert_verify_main(int argc, char **argv);

/* --days N, --crl-days N: 1 to HBX_DAYS_MAX; else a sentence and -1: exit 2. */
int cert_parse_days(const char *opt, const char *s, unsigned int *days);

#endif
