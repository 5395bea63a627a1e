// SPDX-License-Identifier: GPL-2.0
/*
 * hbx image list|inspect|rm, and the image command table.  import is in
 * image_import.c, mount, umount and bundle in image_run.c, export in
 * image_export.c, pull in image_pull.c.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hbx.h"
#include "image.h"
#include "json.h"
#include "layer.h"

/* --store and -j, then exactly nargs arguments; index of the first or -1. */
static int parse_opts(int argc, char **argv, const char *usage, int nargs,
		      struct hbx_image_opts *o)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "s:j", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->store = optarg; break;
		case 'j': o->json = true; break;
		default: return -1;
		}
	}
	if (argc - optind != nargs) {
		hbx_usage(usage);
		return -1;
	}
	return optind;
}

static uint64_t image_size(const struct hbx_image *img)
{
	uint64_t size = 0;
	unsigned int i;

	for (i = 0; i < img->nr_layers; i++)
		size += img->layers[i].size;
	return size;
}

static int image_list_main(int argc, char **argv)
{
	static const char usage[] = "image list [--store DIR] [-j]";
	struct hbx_image_opts o;
	struct hbx_store_name *names = NULL;
	struct hbx_store s;
	struct hbx_json j;
	ssize_t n, i;
	int ret = 1;

	if (parse_opts(argc, argv, usage, 0, &o) < 0)
		return 2;
	if (hbx_store_open(&s, o.store, true))
		return 1;
	n = hbx_store_names(&s, &names);
	if (n < 0)
		goto out;
	if (o.json) {
		hbx_json_init(&j, stdout);
		hbx_json_array_begin(&j, NULL);
	} else {
		printf("%-30s %-19s %6s %12s\n", "NAME", "DIGEST", "LAYERS", "SIZE");
	}
	for (i = 0; i < n; i++) {
		struct hbx_image img;

		if (hbx_image_load(&s, names[i].digest, &img))
			continue;
		if (o.json) {
			hbx_json_object_begin(&j, NULL);
			hbx_json_string(&j, "name", names[i].name);
			hbx_json_string(&j, "digest", names[i].digest);
			hbx_json_u64(&j, "layers", img.nr_layers);
			hbx_json_u64(&j, "size", image_size(&img));
			hbx_json_object_end(&j);
		} else {
			printf("%-30s %.19s %6u %12" PRIu64 "\n", names[i].name,
			       names[i].digest, img.nr_layers, image_size(&img));
		}
		hbx_image_free(&img);
	}
	if (o.json) {
		hbx_json_array_end(&j);
		hbx_json_finish(&j);
	}
	ret = 0;
out:
	free(names);
	hbx_store_close(&s);
	return ret;
}

static int image_inspect_main(int argc, char **argv)
{
	static const char usage[] = "image inspect NAME|DIGEST [--store DIR] [-j]";
	struct json_object *out, *cfg;
	char digest[OCI_DIGEST_LEN + 1];
	struct hbx_image_opts o;
	struct hbx_image img;
	struct hbx_store s;
	unsigned int i;
	int arg = parse_opts(argc, argv, usage, 1, &o), ret = 1;

	if (arg < 0)
		return 2;
	if (hbx_store_open(&s, o.store, false))
		return 1;
	if (hbx_store_resolve(&s, argv[arg], digest) || hbx_image_load(&s, digest, &img))
		goto out;
	cfg = hbx_image_config(&s, &img);
	if (!cfg)
		goto out_img;
	if (o.json) {
		out = json_object_new_object();
		json_object_object_add(out, "digest", json_object_new_string(digest));
		json_object_object_add(out, "manifest", json_object_get(img.doc));
		json_object_object_add(out, "config", cfg);
		printf("%s\n", hbx_json_c_string(out));
		json_object_put(out);
	} else {
		printf("digest   %s\nconfig   %s\nsize     %" PRIu64 "\n", digest,
		       img.config_digest, image_size(&img));
		for (i = 0; i < img.nr_layers; i++)
			printf("layer %-2u %s %12" PRIu64 "\n", i, img.layers[i].digest,
			       img.layers[i].size);
		json_object_put(cfg);
	}
	ret = 0;
out_img:
	hbx_image_free(&img);
out:
	hbx_store_close(&s);
	return ret;
}

/* Does an image of names[0..n) other than skip have this layer? */
static bool layer_used(struct hbx_store *s, const struct hbx_store_name *names,
		       ssize_t n, const char *skip, const char *layer)
{
	bool used = false;
	ssize_t i;

	for (i = 0; i < n && !used; i++) {
		struct hbx_image img;
		unsigned int j;

		if (!strcmp(names[i].digest, skip))
			continue;
		if (hbx_image_load(s, names[i].digest, &img))
			return true;	/* cannot tell: keep it */
		for (j = 0; j < img.nr_layers; j++)
			if (!strcmp(img.layers[j].digest, layer))
				used = true;
		hbx_image_free(&img);
	}
	return used;
}

/* An exported image is served from its files: refuse to remove it. */
static int check_not_exported(struct hbx_store *s, struct hbx_nl *nl,
			      const char *name, const char *digest)
{
	struct hbx_image_layer meta;
	struct hbx_layer_info l;

	if (!nl || hbx_meta_find(s, digest, &meta) ||
	    hbx_store_attached_get(s, nl, meta.digest, &l) || !l.exported)
		return 0;
	hbx_err("image '%s' is exported to peers: stop that first (hbx image export %s --off)",
		name, name);
	return -1;
}

/*
 * The remote layers hbx image pull attached for an image that goes, unless
 * another image has them too: detached (their caches go with the store's
 * garbage).  A mounted one stays attached until it is unmounted.
 */
static void release_pulled(struct hbx_store *s, struct hbx_nl *nl,
			   const struct hbx_store_name *names, ssize_t n,
			   const char *digest)
{
	struct hbx_layer_info l;
	struct hbx_image img;
	unsigned int i;

	if (!nl || hbx_image_load(s, digest, &img))
		return;
	for (i = 0; i < img.nr_layers; i++) {
		const char *d = img.layers[i].digest;

		if (layer_used(s, names, n, digest, d) ||
		    hbx_store_attached_get(s, nl, d, &l) || !l.nr_peers)
			continue;
		if (l.openers)
			hbx_err("layer %s (/dev/%s) stays attached while it is mounted", d,
				l.device);
		else if (!hbx_layer_detach(nl, l.index, false))
			hbx_store_attached_clear(s, d);
	}
	hbx_image_free(&img);
}

static int image_rm_main(int argc, char **argv)
{
	static const char usage[] = "image rm NAME [--store DIR]";
	struct hbx_store_name *names = NULL;
	char digest[OCI_DIGEST_LEN + 1];
	struct hbx_image_opts o;
	struct hbx_nl *nl = NULL;
	struct hbx_store s;
	int arg = parse_opts(argc, argv, usage, 1, &o), ret = 1;
	bool last = true;
	ssize_t n, i, k;

	if (arg < 0)
		return 2;
	if (hbx_store_open(&s, o.store, false) || hbx_store_lock(&s))
		goto out;
	n = hbx_store_names(&s, &names);
	for (i = 0; i < n; i++)
		if (!strcmp(names[i].name, argv[arg]))
			break;
	if (n < 0)
		goto out;
	if (i == n) {
		hbx_err("no image named '%s' in %s", argv[arg], s.dir);
		goto out;
	}
	strcpy(digest, names[i].digest);
	for (k = 0; k < n; k++)
		if (k != i && !strcmp(names[k].digest, digest))
			last = false;
	/* Without the module there is nothing attached to let go of. */
	if (last && hbx_nl_open(&nl) < 0) {
		hbx_nl_close(nl);
		nl = NULL;
	}
	if (last && check_not_exported(&s, nl, argv[arg], digest))
		goto out;
	memmove(&names[i], &names[i + 1], (n - i - 1) * sizeof(*names));
	if (hbx_store_names_write(&s, names, n - 1))
		goto out;
	if (last)
		release_pulled(&s, nl, names, n - 1, digest);
	if (hbx_store_gc(&s))
		goto out;
	ret = 0;
out:
	hbx_nl_close(nl);
	free(names);
	hbx_store_close(&s);
	return ret;
}

static const struct hbx_subcommand image_subcommands[] = {
	{ "import",	image_import_main,  "an OCI layout, oci-archive or docker-archive into the store" },
	{ "list",	image_list_main,    "list the store's images" },
	{ "inspect",	image_inspect_main, "show an image's manifest and OCI config" },
	{ "rm",		image_rm_main,	    "remove an image (and the layers no other image uses)" },
	{ "mount",	image_mount_main,   "attach an image's layers and overlay them" },
	{ "umount",	image_umount_main,  "unmount an image and detach its layers" },
	{ "bundle",	image_bundle_main,  "write an OCI runtime bundle for crun or runc" },
	{ "export",	image_export_main,  "serve an image to peers; prints NAME@sha256:HEX to pull it by" },
	{ "pull",	image_pull_main,    "attach a peer's image remotely: containers start before its data is here" },
	{ NULL, NULL, NULL }
};

int image_main(int argc, char **argv)
{
	return hbx_dispatch(image_subcommands, "image", argc - 1, argv + 1);
}
