// SPDX-License-Identifier: GPL-2.0
/*
 * hbx image export NAME: serve an image to peers.  Its meta layer (the image
 * manifest and config, see image.h) and each of its layers are attached, or
 * found attached already, and exported like any layer; what comes out is
 * the reference peers pull it by, NAME@sha256:HEX (HEX the meta layer's
 * digest).  The meta layer is exported under the image's name too (a module
 * with export names), so peers may pull it by NAME alone.  --off stops
 * serving them and detaches what nothing else holds.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hbx.h"
#include "image.h"
#include "json.h"
#include "layer.h"

static const char usage[] = "image export NAME|DIGEST [--off] [--store DIR] [-j]";

static int set_exported(struct hbx_nl *nl, uint32_t index, bool on)
{
	int err = hbx_layer_set_export(nl, index, on, 0, NULL);

	if (err && err != -ENOMEM)
		hbx_err("%s", hbx_nl_error(nl));
	return err ? -1 : 0;
}

/*
 * Export the meta layer under the image's name, keeping what it fetches
 * for missing chunks (a request says the whole export).  A name another
 * export of this network namespace holds fails, with a sentence.
 */
static int export_named(struct hbx_nl *nl, const struct hbx_layer_info *l,
			const char *name)
{
	int err = hbx_layer_set_export(nl, l->index, true,
				       l->exported ? l->export_missing : 0, name);

	if (err == -EEXIST)
		hbx_err("cannot export it under the name '%s': %s (hbx layer list shows which; stop exporting that first)",
			name, hbx_nl_error(nl));
	else if (err && err != -ENOMEM)
		hbx_err("%s", hbx_nl_error(nl));
	return err ? -1 : 0;
}

/* What export_one() did to a layer, for undoing it if a later one fails. */
struct exported {
	struct hbx_layer_info	l;
	bool			attached, flipped;
};

/* Whether to export l under name now. */
static bool wants_name(const struct hbx_layer_info *l, const char *name, bool rename)
{
	if (!name || !strcmp(l->export_name, name))
		return false;
	/* Exported under another name: kept, unless that name was asked for. */
	return !l->exported || !*l->export_name || rename;
}

/*
 * The layer attached and exported: the one this store attached already (a
 * pulled one serves what it has and fetches the rest), else its image from
 * the store, attached now.  With a name (the meta layer), exported under it;
 * one it is exported under already stays unless rename.
 */
static int export_one(struct hbx_store *s, struct hbx_nl *nl,
		      const struct hbx_image_layer *il, const char *name, bool rename,
		      struct exported *e)
{
	if (hbx_store_attached_get(s, nl, il->digest, &e->l)) {
		if (access(il->image, F_OK)) {
			hbx_err("layer %s is neither stored here nor attached: pull the image again before exporting it",
				il->digest);
			return -1;
		}
		if (hbx_layer_attach(nl, il->image, il->manifest, il->digest, &e->l))
			return -1;
		e->attached = true;
		if (hbx_store_attached_set(s, il->digest, e->l.index))
			return -1;
	}
	if (wants_name(&e->l, name, rename)) {
		if (export_named(nl, &e->l, name))
			return -1;
		e->flipped = !e->l.exported;
		e->l.exported = true;
		snprintf(e->l.export_name, sizeof(e->l.export_name), "%s", name);
		return 0;
	}
	if (e->l.exported)
		return 0;
	if (set_exported(nl, e->l.index, true))
		return -1;
	e->flipped = true;
	e->l.exported = true;
	return 0;
}

/* An export that failed half-way: the layers as they were. */
static void undo_export(struct hbx_store *s, struct hbx_nl *nl,
			const struct hbx_image *img, const struct hbx_image_layer *meta,
			struct exported *e)
{
	unsigned int i;

	for (i = 0; i <= img->nr_layers; i++) {
		if (e[i].flipped)
			set_exported(nl, e[i].l.index, false);
		if (e[i].attached && !hbx_layer_detach(nl, e[i].l.index, false))
			hbx_store_attached_clear(s, i < img->nr_layers ?
						 img->layers[i].digest : meta->digest);
	}
}

/* Stop serving the layer; detach it unless it is open or a pull holds it. */
static int unexport_one(struct hbx_store *s, struct hbx_nl *nl,
			const struct hbx_image_layer *il)
{
	struct hbx_layer_info l;

	if (hbx_store_attached_get(s, nl, il->digest, &l) || !l.exported)
		return 0;
	if (set_exported(nl, l.index, false))
		return -1;
	if (l.openers || l.nr_peers)
		return 0;
	if (hbx_layer_detach(nl, l.index, false))
		return -1;
	hbx_store_attached_clear(s, il->digest);
	return 0;
}

static void layer_json(struct hbx_json *j, const char *key, const struct exported *e)
{
	const struct hbx_layer_info *l = &e->l;

	hbx_json_object_begin(j, key);
	hbx_json_string(j, "digest", l->digest);
	hbx_json_u64(j, "index", l->index);
	hbx_json_string(j, "device", l->device);
	hbx_json_bool(j, "remote", l->nr_peers > 0);
	hbx_json_object_end(j);
}

/*
 * The reference on stdout (scripts take it whole); then, on stderr, that
 * peers may pull it by its name alone, or why they may not.
 */
static void print_exported(const char *name, const struct hbx_image *img,
			   const struct hbx_image_layer *meta,
			   const struct exported *ls, const char *why, bool json)
{
	const char *by = ls[img->nr_layers].l.export_name;
	char ref[HBX_IMAGE_NAME_MAX + OCI_DIGEST_LEN + 2];
	struct hbx_json j;
	unsigned int i;

	snprintf(ref, sizeof(ref), "%s@%s", name, meta->digest);
	if (!json) {
		printf("%s\n", ref);
		fflush(stdout);
		if (*by)
			hbx_err("peers can pull it by that reference or by its name alone: hbx image pull --remote PEER %s",
				by);
		else
			hbx_err("peers can pull it by that reference only: %s", why);
		return;
	}
	hbx_json_init(&j, stdout);
	hbx_json_object_begin(&j, NULL);
	hbx_json_string(&j, "name", name);
	hbx_json_string(&j, "digest", img->digest);
	hbx_json_string(&j, "reference", ref);
	if (*by)
		hbx_json_string(&j, "export-name", by);
	layer_json(&j, "meta", &ls[img->nr_layers]);
	hbx_json_array_begin(&j, "layers");
	for (i = 0; i < img->nr_layers; i++)
		layer_json(&j, NULL, &ls[i]);
	hbx_json_array_end(&j);
	hbx_json_object_end(&j);
	hbx_json_finish(&j);
}

/*
 * The name the reference carries: what, if it is one (*asked), else the
 * image's first.
 */
static int image_name(struct hbx_store *s, const char *what, const char *digest,
		      char name[HBX_IMAGE_NAME_MAX + 1], bool *asked)
{
	struct hbx_store_name *v;
	ssize_t n = hbx_store_names(s, &v), i, found = -1;

	for (i = 0; i < n; i++) {
		if (strcmp(v[i].digest, digest))
			continue;
		if (found < 0 || !strcmp(v[i].name, what))
			found = i;
	}
	if (found >= 0) {
		strcpy(name, v[found].name);
		*asked = !strcmp(name, what);
	}
	free(v);
	if (found < 0)
		hbx_err("image %s has no name in %s", digest, s->dir);
	return found < 0 ? -1 : 0;
}

/*
 * The name to export the meta layer under: the image's, if the module can
 * and the name fits; else NULL and why not in *why.  -1 if the module
 * cannot say what it can.
 */
static int meta_export_name(struct hbx_nl *nl, const char *name, const char **by,
			    const char **why)
{
	uint64_t features;

	*by = NULL;
	if (hbx_module_features(nl, &features))
		return -1;
	if (!(features & HBX_FEATURE_EXPORT_NAMES))
		*why = "the loaded hyperbox module cannot export under a name (it lacks the export-names feature)";
	else if (!hbx_export_name_valid(name))
		*why = "its name is longer than an export name may be (127 characters)";
	else
		*by = name;
	return 0;
}

int image_export_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "off", no_argument, NULL, 'o' },
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	char digest[OCI_DIGEST_LEN + 1], name[HBX_IMAGE_NAME_MAX + 1];
	const char *store = NULL, *what, *by, *why = "";
	struct exported *ls = NULL;
	struct hbx_image_layer meta;
	bool off = false, json = false, asked = false;
	struct hbx_store s;
	struct hbx_image img;
	struct hbx_nl *nl = NULL;
	unsigned int i;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "s:j", opts, NULL)) != -1) {
		switch (c) {
		case 'o': off = true; break;
		case 's': store = optarg; break;
		case 'j': json = true; break;
		default: return hbx_usage(usage);
		}
	}
	if (optind != argc - 1 || (off && json))
		return hbx_usage(usage);
	what = argv[optind];
	if (hbx_store_open(&s, store, false))
		return 1;
	if (hbx_store_resolve(&s, what, digest) || image_name(&s, what, digest, name, &asked) ||
	    hbx_image_load(&s, digest, &img))
		goto out_store;
	/* Stopping builds nothing: without a meta layer it was never served. */
	if (off) {
		if (hbx_meta_find(&s, digest, &meta))
			meta.digest[0] = '\0';
	} else if (hbx_meta_build(&s, &img, &meta)) {
		goto out_img;
	}
	nl = hbx_connect();
	ls = calloc(img.nr_layers + 1, sizeof(*ls));
	if (!nl || !ls) {
		if (nl)
			hbx_err("out of memory");
		goto out;
	}
	if (off) {
		ret = *meta.digest && unexport_one(&s, nl, &meta) ? 1 : 0;
		for (i = 0; i < img.nr_layers; i++)
			if (unexport_one(&s, nl, &img.layers[i]))
				ret = 1;
		goto out;
	}
	if (meta_export_name(nl, name, &by, &why))
		goto out;
	/*
	 * The layers before the meta layer: a peer that finds the image finds
	 * them.  The meta layer's name may be taken: then all is undone.
	 */
	for (i = 0; i < img.nr_layers; i++)
		if (export_one(&s, nl, &img.layers[i], NULL, false, &ls[i]))
			break;
	if (i < img.nr_layers ||
	    export_one(&s, nl, &meta, by, asked, &ls[img.nr_layers])) {
		undo_export(&s, nl, &img, &meta, ls);
		goto out;
	}
	print_exported(name, &img, &meta, ls, why, json);
	ret = 0;
out:
	free(ls);
	hbx_nl_close(nl);
out_img:
	hbx_image_free(&img);
out_store:
	hbx_store_close(&s);
	return ret;
}
