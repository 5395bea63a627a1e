// SPDX-License-Identifier: GPL-2.0
/* hbx monitor [-j]: print the module's notifications as they arrive. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include "hbx.h"
#include "json.h"
#include "layer.h"

static const char *event_name(uint8_t cmd)
{
	switch (cmd) {
	case HBX_CMD_LAYER_ADD_NTF:	return "layer-add";
	case HBX_CMD_LAYER_DEL_NTF:	return "layer-del";
	case HBX_CMD_VERIFY_FAIL_NTF:	return "verify-fail";
	default:			return "unknown";
	}
}

static int on_event(uint8_t cmd, struct nlattr **tb, void *arg)
{
	bool json = *(bool *)arg;
	struct hbx_layer_info l;
	struct hbx_json j;

	hbx_layer_parse(tb, &l);
	if (json) {
		hbx_json_init(&j, stdout);
		hbx_json_object_begin(&j, NULL);
		hbx_json_string(&j, "event", event_name(cmd));
		hbx_layer_json(&j, "layer", &l);
		hbx_json_object_end(&j);
		hbx_json_finish(&j);
		return 0;
	}
	printf("%-11s %-6s %s", event_name(cmd), l.device, l.digest);
	/* verify always names the 4 KiB block too: "chunk 3 block 51 failed". */
	if (cmd == HBX_CMD_VERIFY_FAIL_NTF && l.has_block)
		printf(" chunk %" PRIu64 " block %" PRIu64 " failed verification"
		       " (failures: %" PRIu64 ")", l.chunk, l.block,
		       l.verify_failures);
	else if (cmd == HBX_CMD_VERIFY_FAIL_NTF)
		printf(" chunk %" PRIu64 " failed verification (failed chunks: %"
		       PRIu64 ")", l.chunk, l.verify_failures);
	printf("\n");
	fflush(stdout);
	return 0;
}

int monitor_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct hbx_nl *nl;
	bool json = false;
	int c, err;

	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (c != 'j')
			return hbx_usage("monitor [-j]");
		json = true;
	}
	if (optind != argc)
		return hbx_usage("monitor [-j]");
	nl = hbx_connect();
	if (!nl)
		return 1;
	err = hbx_nl_subscribe(nl);
	if (!err)
		err = hbx_nl_listen(nl, HBX_A_LAYER_MAX, on_event, &json);
	if (err)
		hbx_err("%s", hbx_nl_error(nl));
	hbx_nl_close(nl);
	return err ? 1 : 0;
}
