// SPDX-License-Identifier: GPL-2.0
/*
 * hbx image pull --remote PEER NAME@sha256:HEX: an image from a peer that
 * exports it (hbx image export), without waiting for its data.  The meta
 * layer HEX comes first, through the module like any remote layer (so its
 * bytes are checked against HEX), and tells the image manifest and config;
 * by a bare NAME, the meta layer is the one the peer exports under that
 * name (trusted as far as the peer is) and its digest becomes the reference;
 * then every layer of the image is attached remotely at once, each with a
 * cache file in the store.  A container can start as soon as this returns:
 * the chunks it reads are fetched when read, the others stay with the peer
 * (or arrive in the background with --prefetch).  The pulled layers stay
 * attached for hbx image mount and bundle (the store records which they
 * are); hbx image rm lets them go.  Pulling again attaches what is not
 * attached, and stores the layers whose every chunk is here.
 *
 * Nothing is committed until every layer is attached: on failure the layers
 * this pull attached are detached and the store is as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hbx.h"
#include "image.h"
#include "json.h"
#include "layer.h"

static const char usage[] =
	"image pull --remote PEER[,PEER...] NAME|NAME@sha256:HEX|sha256:HEX [--name NAME]"
	" [--prefetch [--window N]] [--store DIR] [-j]";

/* Where each layer of the image is once pulled. */
enum where {
	STORED = 1,	/* its image is in the store: nothing to fetch */
	ATTACHED,	/* attached remotely already (an earlier pull) */
	PULLED,		/* attached remotely by this pull */
	PROMOTED,	/* attached, every chunk here: stored now (promote()) */
};

struct pulled_layer {
	enum where		where;
	struct hbx_layer_info	info;
	char			cache[HBX_STORE_DIR_MAX + 96];	/* PULLED: staged? */
	bool			staged;	/* cache in tmp/, moved in at commit */
};

struct pull {
	struct hbx_store	*s;
	struct hbx_nl		*nl;
	struct hbx_remote_opts	r;	/* the peers and --prefetch */
	char			peers[64];	/* as given, for messages */
	char			tmp[HBX_STORE_DIR_MAX + 32];
	char			name[HBX_IMAGE_NAME_MAX + 1];
	/* A pull by bare name: the name the peers export it under, else "". */
	char			export_name[HBX_EXPORT_NAME_MAX];
	char			ref[OCI_DIGEST_LEN + 1];	/* the meta layer */
	char			digest[OCI_DIGEST_LEN + 1];	/* the image */
	char			*image_json, *config;
	size_t			image_len, config_len;
	struct hbx_image	img;		/* parsed from image_json */
	struct pulled_layer	*layers;
};

/* The name's digest in the store, "" if the name is free; -1 on error. */
static int name_digest(struct hbx_store *s, const char *name, char out[OCI_DIGEST_LEN + 1])
{
	struct hbx_store_name *v;
	ssize_t n = hbx_store_names(s, &v), i;

	*out = '\0';
	for (i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			strcpy(out, v[i].digest);
	free(v);
	return n < 0 ? -1 : 0;
}

/* The name is free, or names this very image already (a pull again). */
static int name_fits(struct pull *p)
{
	char have[OCI_DIGEST_LEN + 1];

	if (name_digest(p->s, p->name, have))
		return -1;
	if (*have && strcmp(have, p->digest)) {
		hbx_err("an image named '%s' exists and is another image (%s; this one is %s): hbx image rm it first, or pull with --name",
			p->name, have, p->digest);
		return -1;
	}
	return 0;
}

/* The meta layer could not be attached (hbx_layer_attach_remote() said why). */
static void fetch_meta_failed(const struct pull *p, int err)
{
	bool several = strchr(p->peers, ',');

	if (!*p->export_name)
		hbx_err("cannot fetch the image %s from peer %s (is it exported there, with hbx image export?)",
			p->ref, p->peers);
	else if (err == -ENOENT && strstr(hbx_nl_error(p->nl), "does not have"))
		/* Not "no client peer with that id": the kernel said which it was. */
		hbx_err("%s %s export%s no image named '%s' (hbx image export %s there)",
			several ? "peers" : "peer", p->peers, several ? "" : "s",
			p->export_name, p->export_name);
	else if (err == -EOPNOTSUPP)
		hbx_err("pull it by NAME@sha256:HEX instead, as hbx image export prints it");
	else
		hbx_err("cannot fetch the image named '%s' from peer %s", p->export_name,
			p->peers);
}

/* The meta layer, attached remotely, mounted, read, let go again. */
static int fetch_meta(struct pull *p)
{
	struct hbx_remote_opts r = p->r;
	char cache[HBX_STORE_DIR_MAX + 64], dir[HBX_STORE_DIR_MAX + 64], dev[64];
	struct hbx_layer_info l;
	int ret = -1, err;

	snprintf(cache, sizeof(cache), "%s/meta.cache", p->tmp);
	snprintf(dir, sizeof(dir), "%s/meta", p->tmp);
	r.digest = *p->export_name ? NULL : p->ref;
	r.name = *p->export_name ? p->export_name : NULL;
	r.cache = cache;
	r.prefetch = false;
	err = hbx_layer_attach_remote(p->nl, &r, &l);
	if (err) {
		fetch_meta_failed(p, err);
		return -1;
	}
	/* By name, the peer said which meta layer: from here on it is the reference. */
	snprintf(p->ref, sizeof(p->ref), "%s", l.digest);
	snprintf(dev, sizeof(dev), "/dev/%s", l.device);
	if (mkdir(dir, 0700)) {
		hbx_err("cannot create %s: %s", dir, strerror(errno));
	} else if (mount(dev, dir, "erofs", MS_RDONLY, NULL)) {
		hbx_err("cannot read the image's meta layer %s from peer %s: %s (a chunk could not be fetched or did not match its digest)",
			p->ref, p->peers, strerror(errno));
	} else {
		ret = hbx_meta_read(dir, &p->image_json, &p->image_len, &p->config,
				    &p->config_len, p->digest);
		if (ret)
			hbx_err("the meta layer %s from peer %s is not an image", p->ref, p->peers);
		if (umount2(dir, 0)) {
			hbx_err("cannot unmount %s: %s", dir, strerror(errno));
			ret = -1;
		}
	}
	if (hbx_layer_detach(p->nl, l.index, false))
		ret = -1;
	return ret;
}

/*
 * The image manifest, parsed as the store parses it: staged in tmp/images/
 * and loaded from there (commit moves it into the store).
 */
static int parse_image(struct pull *p)
{
	struct hbx_store staged = { .lock_fd = -1 };
	char path[HBX_STORE_DIR_MAX + 96];

	snprintf(path, sizeof(path), "%s/images", p->tmp);
	if (mkdir(path, 0700)) {
		hbx_err("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/images/%s.json", p->tmp, p->digest + 7);
	if (hbx_write_file_atomic(path, p->image_json, p->image_len))
		return -1;
	if (strlen(p->tmp) >= sizeof(staged.dir)) {
		hbx_err("the store's path is too long");
		return -1;
	}
	memcpy(staged.dir, p->tmp, strlen(p->tmp) + 1);
	if (hbx_image_load(&staged, p->digest, &p->img))
		return -1;
	p->layers = calloc(p->img.nr_layers, sizeof(*p->layers));
	if (!p->layers) {
		hbx_err("out of memory");
		return -1;
	}
	return 0;
}

static int start_pull(struct hbx_nl *nl, const struct hbx_layer_info *l, uint32_t window)
{
	if (l->pull_state == HBX_PULL_STATE_DONE || l->pull_state == HBX_PULL_STATE_RUNNING)
		return 0;
	return hbx_layer_pull_start(nl, l->index, window);
}

/* A file of a layer being promoted, in tmp/ until it is renamed into layers/. */
static int promote_file(struct pull *p, const char *ext, int *fd, char *path, size_t len)
{
	snprintf(path, len, "%s/promote.%s", p->tmp, ext);
	*fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (*fd < 0)
		hbx_err("cannot create %s: %s", path, strerror(errno));
	return *fd < 0 ? -1 : 0;
}

/*
 * A pulled layer whose every chunk is here becomes a stored one: the cache
 * is the image, byte for byte, so its manifest and hash file are built
 * from it and must give the layer's digest; then the image needs no peer
 * (after a reboot, say).  The cache stays the remote layer's while it is
 * attached: the image is a hard link to it.  1 if promoted, 0 if not
 * complete, -1 on error.
 */
static int promote(struct pull *p, unsigned int i, const struct hbx_layer_info *l)
{
	const char *digest = p->img.layers[i].digest;
	char cache[HBX_STORE_DIR_MAX + 96], to[HBX_STORE_DIR_MAX + 96];
	char manifest[HBX_STORE_DIR_MAX + 64], hashes[HBX_STORE_DIR_MAX + 64];
	char got[HBX_DIGEST_STR_LEN + 1];
	int cfd = -1, mfd = -1, hfd = -1, err, ret = -1;
	struct hbx_manifest_info info;
	unsigned int shift = 0;

	if (l->chunks_verified != l->chunks_total || !l->chunk_size)
		return 0;
	while ((1U << shift) < l->chunk_size)
		shift++;
	snprintf(cache, sizeof(cache), "%s/layers/%s.cache", p->s->dir, digest + 7);
	cfd = open(cache, O_RDONLY | O_CLOEXEC);
	if (cfd < 0) {
		hbx_err("cannot open %s: %s", cache, strerror(errno));
		return -1;
	}
	if (promote_file(p, "manifest", &mfd, manifest, sizeof(manifest)) ||
	    promote_file(p, "hashes", &hfd, hashes, sizeof(hashes)))
		goto out;
	err = hbx_manifest_build_hashes(cfd, shift, mfd, hfd, &info);
	if (!err && (fsync(mfd) || fsync(hfd)))
		err = -errno;
	if (err) {
		hbx_err("cannot hash %s: %s", cache, strerror(-err));
		goto out;
	}
	hbx_digest_format(info.digest, got);
	if (strcmp(got, digest)) {
		hbx_err("%s does not hash to layer %s (it gives %s): left as it is", cache,
			digest, got);
		goto out;
	}
	/* The manifest and hash file first: a layer's image implies the rest. */
	snprintf(to, sizeof(to), "%s/layers/%s.manifest", p->s->dir, digest + 7);
	if (rename(manifest, to))
		goto out_errno;
	snprintf(to, sizeof(to), "%s/layers/%s.hashes", p->s->dir, digest + 7);
	if (rename(hashes, to))
		goto out_errno;
	snprintf(to, sizeof(to), "%s/layers/%s.erofs", p->s->dir, digest + 7);
	if (link(cache, to) && errno != EEXIST)
		goto out_errno;
	ret = 1;
	goto out;
out_errno:
	hbx_err("cannot store %s: %s", to, strerror(errno));
out:
	close(cfd);
	if (mfd >= 0)
		close(mfd);
	if (hfd >= 0)
		close(hfd);
	return ret;
}

/* Layer i: stored, attached already, or attached now. */
static int attach_layer(struct pull *p, unsigned int i)
{
	const char *digest = p->img.layers[i].digest;
	struct pulled_layer *pl = &p->layers[i];
	char image[HBX_STORE_DIR_MAX + 96];
	struct hbx_remote_opts r = p->r;

	snprintf(image, sizeof(image), "%s/layers/%s.erofs", p->s->dir, digest + 7);
	if (!access(image, F_OK)) {
		pl->where = STORED;
		return 0;
	}
	if (!hbx_store_attached_get(p->s, p->nl, digest, &pl->info) && pl->info.nr_peers) {
		int promoted = promote(p, i, &pl->info);

		pl->where = promoted > 0 ? PROMOTED : ATTACHED;
		if (promoted)
			return promoted < 0 ? -1 : 0;
		return p->r.prefetch ? start_pull(p->nl, &pl->info, p->r.window) : 0;
	}
	/* A cache an earlier pull left (detached since: a reboot) resumes. */
	snprintf(pl->cache, sizeof(pl->cache), "%s/layers/%s.cache", p->s->dir, digest + 7);
	if (access(pl->cache, F_OK)) {
		snprintf(pl->cache, sizeof(pl->cache), "%s/%s.cache", p->tmp, digest + 7);
		pl->staged = true;
	}
	r.digest = digest;
	r.cache = pl->cache;
	if (hbx_layer_attach_remote(p->nl, &r, &pl->info)) {
		hbx_err("cannot attach layer %u (%s) of %s from peer %s", i, digest,
			p->name, p->peers);
		return -1;
	}
	pl->where = PULLED;
	return 0;
}

/* rename(from, to) unless to exists. */
static int move_in(const char *from, const char *to)
{
	if (!access(to, F_OK))
		return 0;
	if (rename(from, to)) {
		hbx_err("cannot move %s to %s: %s", from, to, strerror(errno));
		return -1;
	}
	return 0;
}

/* Under the store's lock: config, image manifest, caches, the name last. */
static int commit(struct pull *p)
{
	char from[HBX_STORE_DIR_MAX + 96], to[HBX_STORE_DIR_MAX + 96];
	char have[OCI_DIGEST_LEN + 1];
	struct hbx_store_name *names = NULL, *nv;
	unsigned int i;
	ssize_t n;
	int ret = -1;

	if (hbx_store_lock(p->s) || name_fits(p))
		goto out;
	snprintf(from, sizeof(from), "%s/config", p->tmp);
	snprintf(to, sizeof(to), "%s/blobs/sha256/%s", p->s->dir, p->img.config_digest + 7);
	if (hbx_write_file_atomic(from, p->config, p->config_len) || move_in(from, to))
		goto out;
	for (i = 0; i < p->img.nr_layers; i++) {
		const struct pulled_layer *pl = &p->layers[i];

		snprintf(to, sizeof(to), "%s/layers/%s.cache", p->s->dir,
			 p->img.layers[i].digest + 7);
		/* The kernel holds the file open: a rename moves it under the layer. */
		if (pl->where == PULLED && ((pl->staged && move_in(pl->cache, to)) ||
					    hbx_store_attached_set(p->s, p->img.layers[i].digest,
								   pl->info.index)))
			goto out;
	}
	snprintf(from, sizeof(from), "%s/images/%s.json", p->tmp, p->digest + 7);
	snprintf(to, sizeof(to), "%s/images/%s.json", p->s->dir, p->digest + 7);
	if (move_in(from, to) || name_digest(p->s, p->name, have))
		goto out;
	if (!*have) {
		n = hbx_store_names(p->s, &names);
		nv = n < 0 ? NULL : realloc(names, (n + 1) * sizeof(*names));
		if (!nv) {
			if (n >= 0)
				hbx_err("out of memory");
			goto out;
		}
		names = nv;
		snprintf(names[n].name, sizeof(names[n].name), "%s", p->name);
		strcpy(names[n].digest, p->digest);
		if (hbx_store_names_write(p->s, names, n + 1))
			goto out;
	}
	syncfs(p->s->lock_fd);
	ret = 0;
out:
	flock(p->s->lock_fd, LOCK_UN);
	free(names);
	return ret;
}

static void print_pulled(const struct pull *p, bool json)
{
	static const char *const where_names[] = {
		[STORED] = "stored", [ATTACHED] = "attached", [PULLED] = "pulled",
		[PROMOTED] = "promoted",
	};
	char ref[HBX_IMAGE_NAME_MAX + OCI_DIGEST_LEN + 2];
	struct hbx_json j;
	unsigned int i;

	if (!json) {
		printf("%s %s\n", p->digest, p->name);
		return;
	}
	snprintf(ref, sizeof(ref), "%s@%s", p->name, p->ref);
	hbx_json_init(&j, stdout);
	hbx_json_object_begin(&j, NULL);
	hbx_json_string(&j, "name", p->name);
	hbx_json_string(&j, "digest", p->digest);
	hbx_json_string(&j, "reference", ref);
	hbx_json_string(&j, "config", p->img.config_digest);
	hbx_json_array_begin(&j, "layers");
	for (i = 0; i < p->img.nr_layers; i++) {
		const struct pulled_layer *pl = &p->layers[i];

		hbx_json_object_begin(&j, NULL);
		hbx_json_string(&j, "digest", p->img.layers[i].digest);
		hbx_json_u64(&j, "size", p->img.layers[i].size);
		hbx_json_string(&j, "where", HBX_NAME_OF(where_names, pl->where));
		if (pl->where != STORED) {
			hbx_json_u64(&j, "index", pl->info.index);
			hbx_json_string(&j, "device", pl->info.device);
			hbx_json_u64(&j, "chunks-total", pl->info.chunks_total);
			hbx_json_u64(&j, "chunks-verified", pl->info.chunks_verified);
		}
		hbx_json_object_end(&j);
	}
	hbx_json_array_end(&j);
	hbx_json_object_end(&j);
	hbx_json_finish(&j);
}

static int pull(struct pull *p, bool json)
{
	unsigned int i;
	int ret = -1;

	if (hbx_store_staging(p->s, "pull", p->tmp, sizeof(p->tmp)))
		return -1;
	if (fetch_meta(p) || name_fits(p) || parse_image(p))
		goto out;
	for (i = 0; i < p->img.nr_layers; i++)
		if (attach_layer(p, i))
			goto undo;
	if (commit(p))
		goto undo;
	print_pulled(p, json);
	ret = 0;
	goto out;
undo:
	for (i = 0; i < p->img.nr_layers; i++)
		if (p->layers[i].where == PULLED)
			hbx_layer_detach(p->nl, p->layers[i].info.index, true);
out:
	hbx_remove_tree(p->tmp);
	return ret;
}

/*
 * NAME@sha256:HEX or sha256:HEX as always; anything else that is an image
 * name is a bare NAME, asked for by its export name.  A sentence and -1 if
 * it is neither: exit 2.
 */
static int parse_ref(struct pull *p, const char *ref)
{
	if (!hbx_image_ref_parse(ref, p->name, sizeof(p->name), p->ref))
		return 0;
	/* "app@sha256:12" is a mistyped reference, not a name. */
	if (!hbx_image_name_valid(ref) || strstr(ref, "@sha256:")) {
		hbx_err("'%s' is not an image reference: give NAME or NAME@sha256:HEX (as hbx image export prints it), or sha256:HEX with --name",
			ref);
		return -1;
	}
	if (!hbx_export_name_valid(ref)) {
		hbx_err("'%s' is too long to be an export name (at most %d characters): pull it by NAME@sha256:HEX",
			ref, HBX_EXPORT_NAME_MAX - 1);
		return -1;
	}
	snprintf(p->name, sizeof(p->name), "%s", ref);
	snprintf(p->export_name, sizeof(p->export_name), "%s", ref);
	return 0;
}

int image_pull_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "remote", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "prefetch", no_argument, NULL, 'p' },
		{ "window", required_argument, NULL, 'w' },
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *store = NULL, *given = NULL;
	struct hbx_store s;
	struct pull p;
	bool json = false;
	int c, ret = 1;

	memset(&p, 0, sizeof(p));
	while ((c = getopt_long(argc, argv, "r:n:s:j", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (hbx_parse_peer_list(optarg, &p.r))
				return hbx_usage(usage);
			snprintf(p.peers, sizeof(p.peers), "%s", optarg);
			break;
		case 'n': given = optarg; break;
		case 'p': p.r.prefetch = true; break;
		case 'w':
			if (hbx_arg_u32("--window", optarg, 1, HBX_PULL_WINDOW_MAX, &p.r.window))
				return 2;
			break;
		case 's': store = optarg; break;
		case 'j': json = true; break;
		default: return hbx_usage(usage);
		}
	}
	if (optind != argc - 1 || !p.r.nr_peers)
		return hbx_usage(usage);
	if (p.r.window && !p.r.prefetch) {
		hbx_err("--window is how many chunks --prefetch fetches at once: give --prefetch too");
		return 2;
	}
	if (parse_ref(&p, argv[optind]))
		return 2;
	if (given)
		snprintf(p.name, sizeof(p.name), "%s", given);
	if (!*p.name) {
		hbx_err("the reference %s names no image: give the name with --name", p.ref);
		return 2;
	}
	if (!hbx_image_name_valid(p.name)) {
		hbx_err("'%s' is not a valid image name (letters, digits and ._:/@+-, not starting with sha256:)",
			p.name);
		return 2;
	}
	if (hbx_store_open(&s, store, true))
		return 1;
	p.s = &s;
	p.nl = hbx_connect();
	if (p.nl && !pull(&p, json))
		ret = 0;
	hbx_nl_close(p.nl);
	hbx_image_free(&p.img);
	free(p.layers);
	free(p.image_json);
	free(p.config);
	hbx_store_close(&s);
	return ret;
}
