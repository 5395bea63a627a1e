// SPDX-License-Identifier: GPL-2.0
/* hbx info [-j] and hbx version: what the loaded module says about itself. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "hbx.h"
#include "json.h"
#include "version.h"

struct module_info {
	char		version[64];
	uint32_t	protocol, max_layers, chunk_min, chunk_max, manifest_max;
	uint32_t	layers, peer_sockets, peer_sockets_max;
	uint64_t	features;
};

/* Bit i of the features attribute is feature_names[i] (the YAML spec's names). */
static const char *const feature_names[] = {
	"layers", "verify", "events", "serve", "remote", "lazy-pull", "export-names",
};

static int info_parse(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct module_info *mi = arg;

	(void)cmd;
	if (tb[HBX_A_INFO_MODULE_VERSION])
		snprintf(mi->version, sizeof(mi->version), "%s",
			 nla_get_string(tb[HBX_A_INFO_MODULE_VERSION]));
#define U32(attr, field) if (tb[attr]) mi->field = nla_get_u32(tb[attr])
	U32(HBX_A_INFO_PROTOCOL_VERSION, protocol);
	U32(HBX_A_INFO_MAX_LAYERS, max_layers);
	U32(HBX_A_INFO_CHUNK_SIZE_MIN, chunk_min);
	U32(HBX_A_INFO_CHUNK_SIZE_MAX, chunk_max);
	U32(HBX_A_INFO_MANIFEST_SIZE_MAX, manifest_max);
	U32(HBX_A_INFO_LAYERS, layers);
	U32(HBX_A_INFO_PEER_SOCKETS, peer_sockets);
	U32(HBX_A_INFO_PEER_SOCKETS_MAX, peer_sockets_max);
#undef U32
	if (tb[HBX_A_INFO_FEATURES])
		mi->features = nla_get_u64(tb[HBX_A_INFO_FEATURES]);
	return 0;
}

static int get_info(struct hbx_nl *nl, struct module_info *mi)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_GET_INFO, 0);
	int err;

	memset(mi, 0, sizeof(*mi));
	if (!msg) {
		hbx_err("out of memory");
		return -1;
	}
	err = hbx_nl_request(nl, msg, HBX_A_INFO_MAX, info_parse, mi);
	if (err < 0) {
		hbx_err("%s", hbx_nl_error(nl));
		return -1;
	}
	return 0;
}

int hbx_module_features(struct hbx_nl *nl, uint64_t *features)
{
	struct module_info mi;

	if (get_info(nl, &mi))
		return -1;
	*features = mi.features;
	return 0;
}

static void print_text(const struct module_info *mi)
{
	size_t i;

	printf("module version:    %s\n", mi->version);
	printf("protocol version:  %u\n", mi->protocol);
	printf("features:         ");
	for (i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (mi->features & (1ULL << i))
			printf(" %s", feature_names[i]);
	printf("\nlayers attached:   %u of %u\n", mi->layers, mi->max_layers);
	printf("chunk sizes:       %u to %u bytes\n", mi->chunk_min, mi->chunk_max);
	printf("manifest size max: %u bytes\n", mi->manifest_max);
	printf("peer sockets:      %u of %u\n", mi->peer_sockets, mi->peer_sockets_max);
}

static void print_json(const struct module_info *mi)
{
	struct hbx_json j;

	hbx_json_init(&j, stdout);
	hbx_json_object_begin(&j, NULL);
	hbx_json_string(&j, "module-version", mi->version);
	hbx_json_u64(&j, "protocol-version", mi->protocol);
	hbx_json_u64(&j, "features", mi->features);
	hbx_json_u64(&j, "max-layers", mi->max_layers);
	hbx_json_u64(&j, "chunk-size-min", mi->chunk_min);
	hbx_json_u64(&j, "chunk-size-max", mi->chunk_max);
	hbx_json_u64(&j, "manifest-size-max", mi->manifest_max);
	hbx_json_u64(&j, "layers", mi->layers);
	hbx_json_u64(&j, "peer-sockets", mi->peer_sockets);
	hbx_json_u64(&j, "peer-sockets-max", mi->peer_sockets_max);
	hbx_json_object_end(&j);
	hbx_json_finish(&j);
}

int info_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct module_info mi;
	struct hbx_nl *nl;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (c != 'j')
			return hbx_usage("info [-j]");
		json = true;
	}
	if (optind != argc)
		return hbx_usage("info [-j]");
	nl = hbx_connect();
	if (!nl)
		return 1;
	ret = get_info(nl, &mi) ? 1 : 0;
	hbx_nl_close(nl);
	if (!ret) {
		if (json)
			print_json(&mi);
		else
			print_text(&mi);
	}
	return ret;
}

int version_main(int argc, char **argv)
{
	struct module_info mi;
	struct hbx_nl *nl;

	(void)argv;
	if (argc != 1)
		return hbx_usage("version");
	printf("hbx %s\n", HBX_VERSION);
	if (hbx_nl_open(&nl) < 0 || get_info(nl, &mi) < 0)
		printf("hyperbox.ko: not loaded\n");
	else
		printf("hyperbox.ko %s (protocol %u)\n", mi.version, mi.protocol);
	hbx_nl_close(nl);
	return 0;
}
