// SPDX-License-Identifier: GPL-2.0
/*
 * hbx layer add|del|list|mount|umount: attach EROFS images as /dev/hbxN.
 * (hbx layer build lives in build.c.)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "hbx.h"
#include "json.h"
#include "layer.h"
#include "manifest.h"

static const char *const state_names[] = {
	[HBX_LAYER_STATE_LIVE] = "live",
	[HBX_LAYER_STATE_DEAD] = "dead",
};

const char *hbx_layer_state_name(uint32_t state)
{
	return HBX_NAME_OF(state_names, state);
}

static const char *const verify_names[] = {
	[HBX_VERIFY_ALWAYS] = "always",
	[HBX_VERIFY_ONCE] = "once",
};

const char *hbx_verify_mode_name(uint32_t mode)
{
	return HBX_NAME_OF(verify_names, mode);
}

int hbx_parse_verify_mode(const char *s, uint32_t *mode)
{
	if (!strcmp(s, "always"))
		*mode = HBX_VERIFY_ALWAYS;
	else if (!strcmp(s, "once"))
		*mode = HBX_VERIFY_ONCE;
	else
		return -1;
	return 0;
}

#define GET_U32(attr, field) if (tb[attr]) l->field = nla_get_u32(tb[attr])
#define GET_U64(attr, field) if (tb[attr]) l->field = nla_get_u64(tb[attr])

void hbx_layer_parse(struct nlattr **tb, struct hbx_layer_info *l)
{
	memset(l, 0, sizeof(*l));
	GET_U32(HBX_A_LAYER_INDEX, index);
	GET_U32(HBX_A_LAYER_DEV, dev);
	GET_U32(HBX_A_LAYER_CHUNK_SIZE, chunk_size);
	GET_U32(HBX_A_LAYER_STATE, state);
	GET_U32(HBX_A_LAYER_OPENERS, openers);
	GET_U64(HBX_A_LAYER_SIZE, size);
	GET_U64(HBX_A_LAYER_CHUNKS_TOTAL, chunks_total);
	GET_U64(HBX_A_LAYER_CHUNKS_VERIFIED, chunks_verified);
	GET_U64(HBX_A_LAYER_CHUNKS_HASHED, chunks_hashed);
	GET_U64(HBX_A_LAYER_BYTES_READ, bytes_read);
	GET_U64(HBX_A_LAYER_VERIFY_FAILURES, verify_failures);
	l->has_chunk = tb[HBX_A_LAYER_CHUNK] != NULL;
	GET_U64(HBX_A_LAYER_CHUNK, chunk);
	l->has_block = tb[HBX_A_LAYER_BLOCK] != NULL;
	GET_U64(HBX_A_LAYER_BLOCK, block);
	GET_U64(HBX_A_LAYER_BLOCKS_VERIFIED, blocks_verified);
	GET_U32(HBX_A_LAYER_VERIFY, verify);
	l->direct_io = tb[HBX_A_LAYER_DIRECT_IO] && nla_get_u8(tb[HBX_A_LAYER_DIRECT_IO]);
	GET_U64(HBX_A_LAYER_CHUNKS_FETCHED, chunks_fetched);
	GET_U64(HBX_A_LAYER_CHUNKS_SERVED, chunks_served);
	GET_U64(HBX_A_LAYER_BYTES_FETCHED, bytes_fetched);
	GET_U64(HBX_A_LAYER_FETCH_RETRIES, fetch_retries);
	GET_U64(HBX_A_LAYER_PULL_BYTES, pull_bytes);
	GET_U64(HBX_A_LAYER_PULL_NSECS, pull_nsecs);
	GET_U32(HBX_A_LAYER_PULL_STATE, pull_state);
	GET_U32(HBX_A_LAYER_PULL_ERROR, pull_error);
	GET_U32(HBX_A_LAYER_PULL_WINDOW, pull_window);
	GET_U32(HBX_A_LAYER_EXPORT_MISSING, export_missing);
	l->exported = tb[HBX_A_LAYER_EXPORTED] && nla_get_u8(tb[HBX_A_LAYER_EXPORTED]);
	if (tb[HBX_A_LAYER_PEERS]) {
		struct nlattr *a;
		int rem;

		nla_for_each_nested(a, tb[HBX_A_LAYER_PEERS], rem)
			if (nla_type(a) == HBX_A_LAYER_PEER &&
			    l->nr_peers < HBX_LAYER_PEERS_MAX)
				l->peers[l->nr_peers++] = nla_get_u32(a);
	}
	if (tb[HBX_A_LAYER_EXPORT_NAME])
		snprintf(l->export_name, sizeof(l->export_name), "%s",
			 nla_get_string(tb[HBX_A_LAYER_EXPORT_NAME]));
	if (tb[HBX_A_LAYER_DEVICE])
		snprintf(l->device, sizeof(l->device), "%s",
			 nla_get_string(tb[HBX_A_LAYER_DEVICE]));
	if (tb[HBX_A_LAYER_DIGEST] &&
	    nla_len(tb[HBX_A_LAYER_DIGEST]) == HBX_DIGEST_SIZE)
		hbx_digest_format(nla_data(tb[HBX_A_LAYER_DIGEST]), l->digest);
}

void hbx_layer_json(struct hbx_json *j, const char *key,
		    const struct hbx_layer_info *l)
{
	hbx_json_object_begin(j, key);
	hbx_json_u64(j, "index", l->index);
	hbx_json_string(j, "device", l->device);
	hbx_json_u64(j, "dev", l->dev);
	hbx_json_string(j, "digest", l->digest);
	hbx_json_u64(j, "size", l->size);
	hbx_json_u64(j, "chunk-size", l->chunk_size);
	hbx_json_u64(j, "chunks-total", l->chunks_total);
	hbx_json_u64(j, "chunks-verified", l->chunks_verified);
	hbx_json_u64(j, "chunks-hashed", l->chunks_hashed);
	hbx_json_u64(j, "bytes-read", l->bytes_read);
	hbx_json_u64(j, "verify-failures", l->verify_failures);
	if (l->verify)
		hbx_json_string(j, "verify", hbx_verify_mode_name(l->verify));
	hbx_json_u64(j, "blocks-verified", l->blocks_verified);
	hbx_json_bool(j, "direct-io", l->direct_io);
	hbx_json_string(j, "state", hbx_layer_state_name(l->state));
	hbx_json_u64(j, "openers", l->openers);
	hbx_json_bool(j, "exported", l->exported);
	hbx_json_u64(j, "chunks-served", l->chunks_served);
	if (l->exported)
		hbx_json_string(j, "export-missing",
				l->export_missing == HBX_EXPORT_MISSING_NOT_HERE ?
				"not-here" : "fetch");
	if (*l->export_name)
		hbx_json_string(j, "export-name", l->export_name);
	hbx_json_u64(j, "chunks-fetched", l->chunks_fetched);
	if (l->nr_peers) {
		uint32_t i;

		hbx_json_array_begin(j, "peers");
		for (i = 0; i < l->nr_peers; i++)
			hbx_json_u64(j, NULL, l->peers[i]);
		hbx_json_array_end(j);
		hbx_json_u64(j, "bytes-fetched", l->bytes_fetched);
		hbx_json_u64(j, "fetch-retries", l->fetch_retries);
		hbx_json_object_begin(j, "pull");
		hbx_json_string(j, "state", hbx_pull_state_name(l->pull_state));
		hbx_json_u64(j, "window", l->pull_window);
		hbx_json_u64(j, "error", l->pull_error);
		hbx_json_u64(j, "bytes", l->pull_bytes);
		hbx_json_u64(j, "nsecs", l->pull_nsecs);
		hbx_json_u64(j, "bytes-per-second", l->pull_nsecs ?
			     (uint64_t)(l->pull_bytes * 1e9 / l->pull_nsecs) : 0);
		hbx_json_object_end(j);
	}
	if (l->has_chunk)
		hbx_json_u64(j, "chunk", l->chunk);
	if (l->has_block)
		hbx_json_u64(j, "block", l->block);
	hbx_json_object_end(j);
}

static int layer_reply(uint8_t cmd, struct nlattr **tb, void *arg)
{
	hbx_layer_parse(tb, arg);
	return 0;
}

/*
 * The hash file: o->hashes, or else IMAGE's NAME.hashes if there is one
 * (without it the kernel computes a chunk's leaves from its first read).
 * Returns an fd, -1 for none, or -2 after an error.
 */
static int open_hashes(const char *image, const char *hashes)
{
	char path[4096];
	int fd;

	if (hashes) {
		fd = open(hashes, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			hbx_err("cannot open hash file %s: %s", hashes, strerror(errno));
			return -2;
		}
		return fd;
	}
	hbx_layer_hashes_path(image, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		hbx_err("cannot open hash file %s: %s", path, strerror(errno));
		return -2;
	}
	return fd < 0 ? -1 : fd;
}

/* Fills *l from the reply; prints the error and returns -1 on failure. */
int hbx_layer_attach_opts(struct hbx_nl *nl, const char *image,
			  const struct hbx_attach_opts *o,
			  struct hbx_layer_info *l)
{
	const char *manifest = o->manifest, *digest = o->digest, *why;
	char manifest_path[4096];
	uint8_t want[HBX_DIGEST_SIZE];
	int image_fd, manifest_fd, hashes_fd = -1, err;
	struct hbx_manifest_info mi;
	struct nl_msg *msg;

	if (!manifest) {
		hbx_layer_manifest_path(image, manifest_path, sizeof(manifest_path));
		manifest = manifest_path;
	}
	if (digest && hbx_digest_parse(digest, want)) {
		hbx_err("'%s' is not a digest (want sha256:<64 hex digits>)", digest);
		return -1;
	}
	image_fd = open(image, O_RDONLY | O_CLOEXEC);
	if (image_fd < 0) {
		hbx_err("cannot open image %s: %s", image, strerror(errno));
		return -1;
	}
	manifest_fd = open(manifest, O_RDONLY | O_CLOEXEC);
	if (manifest_fd < 0) {
		hbx_err("cannot open manifest %s: %s", manifest, strerror(errno));
		close(image_fd);
		return -1;
	}
	/* An old manifest gets a sentence here; the kernel checks the rest. */
	err = hbx_manifest_check(manifest_fd, &mi, &why);
	if (err == -EPROTONOSUPPORT) {
		hbx_err("%s: %s", manifest, why);
		goto out;
	}
	err = 0;
	hashes_fd = open_hashes(image, o->hashes);
	if (hashes_fd == -2) {
		err = -ENOENT;
		goto out;
	}
	/* Without --digest, pin the manifest as it is now; the kernel re-hashes it. */
	err = digest ? 0 : hbx_file_digest(manifest_fd, want);
	if (err) {
		hbx_err("cannot read manifest %s: %s", manifest, strerror(-err));
		goto out;
	}
	msg = hbx_nl_msg(nl, HBX_CMD_LAYER_ADD, 0);
	if (!msg || nla_put_u32(msg, HBX_A_LAYER_IMAGE_FD, image_fd) ||
	    nla_put_u32(msg, HBX_A_LAYER_MANIFEST_FD, manifest_fd) ||
	    nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, want) ||
	    (hashes_fd >= 0 && nla_put_u32(msg, HBX_A_LAYER_HASHES_FD, hashes_fd)) ||
	    (o->verify && nla_put_u32(msg, HBX_A_LAYER_VERIFY, o->verify))) {
		hbx_err("out of memory");
		err = -ENOMEM;
		goto out;
	}
	err = hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, layer_reply, l);
	if (err)
		hbx_err("%s", hbx_nl_error(nl));
out:
	close(image_fd);
	close(manifest_fd);
	if (hashes_fd >= 0)
		close(hashes_fd);
	return err ? -1 : 0;
}

int hbx_layer_attach(struct hbx_nl *nl, const char *image, const char *manifest,
		     const char *digest, struct hbx_layer_info *l)
{
	struct hbx_attach_opts o = { .manifest = manifest, .digest = digest };

	return hbx_layer_attach_opts(nl, image, &o, l);
}

/* digest NULL: the layer is asked for by r->name. */
static int put_remote(struct nl_msg *msg, const struct hbx_remote_opts *r,
		      const uint8_t *digest, int cache_fd)
{
	struct nlattr *nest;
	unsigned int i;

	if (nla_put_u32(msg, HBX_A_LAYER_CACHE_FD, cache_fd) ||
	    (digest ? nla_put(msg, HBX_A_LAYER_DIGEST, HBX_DIGEST_SIZE, digest) :
		      nla_put_string(msg, HBX_A_LAYER_EXPORT_NAME, r->name)) ||
	    (r->prefetch && nla_put_u32(msg, HBX_A_LAYER_FLAGS, HBX_LAYER_F_PREFETCH)) ||
	    (r->window && nla_put_u32(msg, HBX_A_LAYER_PULL_WINDOW, r->window)) ||
	    (r->verify && nla_put_u32(msg, HBX_A_LAYER_VERIFY, r->verify)))
		return -ENOMEM;
	nest = nla_nest_start(msg, HBX_A_LAYER_PEERS);
	if (!nest)
		return -ENOMEM;
	for (i = 0; i < r->nr_peers; i++)
		if (nla_put_u32(msg, HBX_A_LAYER_PEER, r->peers[i]))
			return -ENOMEM;
	nla_nest_end(msg, nest);
	return 0;
}

int hbx_layer_attach_remote(struct hbx_nl *nl, const struct hbx_remote_opts *r,
			    struct hbx_layer_info *l)
{
	uint8_t want[HBX_DIGEST_SIZE];
	unsigned int delay_ms;
	struct nl_msg *msg;
	int fd, err;

	if (!r->digest == !r->name) {
		hbx_err("a remote layer is asked for by its digest or by its export name: give one of them");
		return -EINVAL;
	}
	if (r->digest && hbx_digest_parse(r->digest, want)) {
		hbx_err("'%s' is not a digest (want sha256:<64 hex digits>)", r->digest);
		return -EINVAL;
	}
	if (r->name && hbx_arg_export_name(NULL, r->name))
		return -EINVAL;
	if (r->name && hbx_need_export_names(nl, "ask peers for a layer by name"))
		return -EOPNOTSUPP;
	/* The kernel writes fetched chunks here and grows it to the image size. */
	fd = open(r->cache, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		hbx_err("cannot open cache %s: %s", r->cache, strerror(errno));
		return err;
	}
	/*
	 * The module fetches the manifest in the background (never while it
	 * holds genetlink's lock) and says -EINPROGRESS until it has it or
	 * its peers' timeout ran out: ask again, a little later each time.
	 */
	for (delay_ms = 10;; delay_ms = delay_ms < 200 ? delay_ms * 2 : 200) {
		msg = hbx_nl_msg(nl, HBX_CMD_LAYER_ADD, 0);
		err = !msg || put_remote(msg, r, r->digest ? want : NULL, fd) ? -ENOMEM :
		      hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, layer_reply, l);
		if (err != -EINPROGRESS)
			break;
		usleep(delay_ms * 1000);
	}
	if (err)
		hbx_err("%s", err == -ENOMEM ? "out of memory" : hbx_nl_error(nl));
	close(fd);
	return err;
}

bool hbx_export_name_valid(const char *name)
{
	size_t n = strlen(name), i;

	if (!n || n >= HBX_EXPORT_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (name[i] < 0x21 || name[i] > 0x7e)
			return false;
	return true;
}

int hbx_arg_export_name(const char *opt, const char *name)
{
	if (hbx_export_name_valid(name))
		return 0;
	hbx_err("%s%s'%s' is not an export name: give 1 to %d printable characters, no spaces",
		opt ? opt : "", opt ? " " : "", name, HBX_EXPORT_NAME_MAX - 1);
	return -1;
}

int hbx_layer_set_export(struct hbx_nl *nl, uint32_t index, bool on,
			 uint32_t missing, const char *name)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_EXPORT, 0);

	if (!msg || nla_put_u32(msg, HBX_A_LAYER_INDEX, index) ||
	    nla_put_u8(msg, HBX_A_LAYER_EXPORTED, on) ||
	    (missing && nla_put_u32(msg, HBX_A_LAYER_EXPORT_MISSING, missing)) ||
	    (name && nla_put_string(msg, HBX_A_LAYER_EXPORT_NAME, name))) {
		nlmsg_free(msg);
		hbx_err("out of memory");
		return -ENOMEM;
	}
	return hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, NULL, NULL);
}

int hbx_need_export_names(struct hbx_nl *nl, const char *what)
{
	uint64_t features;

	if (hbx_module_features(nl, &features))
		return -1;
	if (features & HBX_FEATURE_EXPORT_NAMES)
		return 0;
	hbx_err("the loaded hyperbox module cannot %s (it lacks the export-names feature): load a newer one",
		what);
	return -1;
}

int hbx_layer_do(struct hbx_nl *nl, struct nl_msg *msg, bool built,
		 struct hbx_layer_info *l)
{
	if (!msg || !built) {
		hbx_err("out of memory");
		return -1;
	}
	if (hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, l ? layer_reply : NULL, l)) {
		hbx_err("%s", hbx_nl_error(nl));
		return -1;
	}
	return 0;
}

int hbx_layer_get(struct hbx_nl *nl, uint32_t index, struct hbx_layer_info *l)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_GET, 0);

	return hbx_layer_do(nl, msg, msg && !nla_put_u32(msg, HBX_A_LAYER_INDEX, index), l);
}

int hbx_parse_peer_list(const char *s, struct hbx_remote_opts *r)
{
	static const struct hbx_num id = { HBX_NUM_COUNT, 0, UINT32_MAX, 0 };
	char item[32], why[256];
	const char *p = s;
	uint64_t v;
	size_t n;
	int err;

	for (;;) {
		n = strcspn(p, ",");
		snprintf(item, sizeof(item), "%.*s", (int)n, p);
		err = n < sizeof(item) ? hbx_num_parse(item, &id, &v) : HBX_NUM_RANGE;
		if (err) {
			hbx_num_explain(err, "the peer id", item, &id, why, sizeof(why));
			hbx_err("--remote '%s': %s (ids from hbx peer list, as 1,2)", s, why);
			return -1;
		}
		if (r->nr_peers == HBX_LAYER_PEERS_MAX) {
			hbx_err("--remote '%s': a layer takes at most %d peers", s,
				HBX_LAYER_PEERS_MAX);
			return -1;
		}
		r->peers[r->nr_peers++] = v;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

int hbx_layer_pull_start(struct hbx_nl *nl, uint32_t index, uint32_t window)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_PULL, 0);

	return hbx_layer_do(nl, msg, msg && !nla_put_u32(msg, HBX_A_LAYER_INDEX, index) &&
			    !(window && nla_put_u32(msg, HBX_A_LAYER_PULL_WINDOW, window)),
			    NULL);
}

int hbx_layer_detach(struct hbx_nl *nl, uint32_t index, bool force)
{
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_DEL, 0);

	return hbx_layer_do(nl, msg, msg && !nla_put_u32(msg, HBX_A_LAYER_INDEX, index) &&
			    !(force && nla_put_flag(msg, HBX_A_LAYER_FORCE)), NULL);
}

struct layer_list {
	struct hbx_layer_info	*v;
	size_t			n;
};

static int list_reply(uint8_t cmd, struct nlattr **tb, void *arg)
{
	struct layer_list *ll = arg;
	struct hbx_layer_info *v = realloc(ll->v, (ll->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	ll->v = v;
	hbx_layer_parse(tb, &ll->v[ll->n++]);
	return 0;
}

/* All layers; *out is malloc'd.  Returns the count or -1 after an error. */
ssize_t hbx_layer_dump(struct hbx_nl *nl, struct hbx_layer_info **out)
{
	struct layer_list ll = { NULL, 0 };
	struct nl_msg *msg = hbx_nl_msg(nl, HBX_CMD_LAYER_GET, NLM_F_DUMP);

	if (!msg || hbx_nl_request(nl, msg, HBX_A_LAYER_MAX, list_reply, &ll)) {
		hbx_err("%s", msg ? hbx_nl_error(nl) : "out of memory");
		free(ll.v);
		return -1;
	}
	*out = ll.v;
	return ll.n;
}

static void beside_image(const char *image, const char *ext, char *buf,
			 size_t len)
{
	size_t n = strlen(image);

	if (n > 6 && !strcmp(image + n - 6, ".erofs"))
		snprintf(buf, len, "%.*s%s", (int)(n - 6), image, ext);
	else
		snprintf(buf, len, "%s%s", image, ext);
}

void hbx_layer_manifest_path(const char *image, char *buf, size_t len)
{
	beside_image(image, ".manifest", buf, len);
}

void hbx_layer_hashes_path(const char *image, char *buf, size_t len)
{
	beside_image(image, ".hashes", buf, len);
}

static bool parse_json_flag(int argc, char **argv, const char *usage, int *ret)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	bool json = false;
	int c;

	*ret = 0;
	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (c != 'j') {
			*ret = hbx_usage(usage);
			return false;
		}
		json = true;
	}
	return json;
}

/* Remote layers add their pull: "pull running 812/4096 here, 9.8 MB/s". */
static void print_pull_text(const struct hbx_layer_info *l)
{
	printf("%8s pull %s, %" PRIu64 "/%" PRIu64 " chunks here, %.1f MB/s",
	       "", hbx_pull_state_name(l->pull_state), l->chunks_verified,
	       l->chunks_total,
	       l->pull_nsecs ? l->pull_bytes * 1e3 / l->pull_nsecs : 0.0);
	if (l->pull_error)
		printf(" (%s)", strerror(l->pull_error));
	printf(", %" PRIu64 " fetched, %" PRIu64 " retried, %" PRIu64 " corrupt\n",
	       l->chunks_fetched, l->fetch_retries, l->verify_failures);
}

/* "verify: once (storage trusted), 2048 blocks verified, direct I/O". */
static void print_verify_text(const struct hbx_layer_info *l)
{
	printf("%8s verify: %s%s, %" PRIu64 " blocks verified, %s I/O\n", "",
	       hbx_verify_mode_name(l->verify),
	       l->verify == HBX_VERIFY_ONCE ? " (storage trusted)" : "",
	       l->blocks_verified, l->direct_io ? "direct" : "buffered");
}

/* "exported as app, 812 chunks served" (a name only if it has one). */
static void print_export_text(const struct hbx_layer_info *l)
{
	printf("%8s exported%s%s, %" PRIu64 " chunks served%s\n", "",
	       *l->export_name ? " as " : "", l->export_name, l->chunks_served,
	       l->export_missing == HBX_EXPORT_MISSING_NOT_HERE ?
	       ", missing ones not here" : "");
}

static void print_layer_text(const struct hbx_layer_info *l)
{
	printf("%-6s %.19s  %10" PRIu64 "  %6" PRIu64 "/%-6" PRIu64 " %12" PRIu64
	       "  %5" PRIu64 "  %-4s %u\n",
	       l->device, l->digest, l->size, l->chunks_verified,
	       l->chunks_total, l->bytes_read, l->verify_failures,
	       hbx_layer_state_name(l->state), l->openers);
	if (l->verify)
		print_verify_text(l);
	if (l->exported)
		print_export_text(l);
	if (l->nr_peers)
		print_pull_text(l);
}

static int layer_list_main(int argc, char **argv)
{
	struct hbx_layer_info *v = NULL;
	struct hbx_json j;
	struct hbx_nl *nl;
	ssize_t n, i;
	bool json;
	int ret;

	json = parse_json_flag(argc, argv, "layer list [-j]", &ret);
	if (ret)
		return ret;
	if (optind != argc)
		return hbx_usage("layer list [-j]");
	nl = hbx_connect();
	if (!nl)
		return 1;
	n = hbx_layer_dump(nl, &v);
	hbx_nl_close(nl);
	if (n < 0)
		return 1;
	if (json) {
		hbx_json_init(&j, stdout);
		hbx_json_array_begin(&j, NULL);
		for (i = 0; i < n; i++)
			hbx_layer_json(&j, NULL, &v[i]);
		hbx_json_array_end(&j);
		hbx_json_finish(&j);
	} else {
		printf("%-6s %-19s  %10s  %13s %12s  %5s  %-4s %s\n", "DEVICE",
		       "DIGEST", "SIZE", "VERIFIED", "READ", "FAILS", "STATE",
		       "OPEN");
		for (i = 0; i < n; i++)
			print_layer_text(&v[i]);
	}
	free(v);
	return 0;
}

struct attach_opts {
	const char		*manifest, *hashes;
	struct hbx_remote_opts	r;
	bool			remote, json;
};

/*
 * Parse [--manifest M] [--digest D] [--verify once|always] [--hashes F] [-j]
 * and the remote options (--export-name asks for it by name instead of
 * --digest); returns 0 or a usage status.
 */
static int parse_attach_opts(int argc, char **argv, const char *usage,
			     struct attach_opts *o)
{
	static const struct option opts[] = {
		{ "manifest", required_argument, NULL, 'm' },
		{ "digest", required_argument, NULL, 'd' },
		{ "remote", required_argument, NULL, 'r' },
		{ "cache", required_argument, NULL, 'c' },
		{ "prefetch", no_argument, NULL, 'p' },
		{ "window", required_argument, NULL, 'w' },
		{ "verify", required_argument, NULL, 'V' },
		{ "hashes", required_argument, NULL, 'H' },
		{ "export-name", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "m:d:j", opts, NULL)) != -1) {
		switch (c) {
		case 'm': o->manifest = optarg; break;
		case 'd': o->r.digest = optarg; break;
		case 'c': o->r.cache = optarg; break;
		case 'p': o->r.prefetch = true; break;
		case 'j': o->json = true; break;
		case 'H': o->hashes = optarg; break;
		case 'e':
			if (hbx_arg_export_name("--export-name", optarg))
				return 2;
			o->r.name = optarg;
			break;
		case 'V':
			if (hbx_parse_verify_mode(optarg, &o->r.verify))
				return hbx_usage(usage);
			break;
		case 'w':
			if (hbx_arg_u32("--window", optarg, 1, HBX_PULL_WINDOW_MAX,
					&o->r.window))
				return 2;
			break;
		case 'r':	/* --remote 1,2 or --remote 1 --remote 2 */
			o->remote = true;
			if (hbx_parse_peer_list(optarg, &o->r))
				return 2;
			break;
		default: return hbx_usage(usage);
		}
	}
	if (o->r.name && !o->remote) {
		hbx_err("--export-name is the name peers export a layer under: it needs --remote");
		return 2;
	}
	if (o->r.name && o->r.digest) {
		hbx_err("give the remote layer's --digest or its --export-name, not both");
		return 2;
	}
	/* A remote layer is named by its digest or name and lands in a cache file. */
	if (o->remote && ((!o->r.digest && !o->r.name) || !o->r.cache || o->manifest ||
			  o->hashes))
		return hbx_usage(usage);
	if (!o->remote && (o->r.cache || o->r.prefetch || o->r.window))
		return hbx_usage(usage);
	return 0;
}

static void print_attached(const struct hbx_layer_info *l, bool json)
{
	struct hbx_json j;

	if (!json) {
		printf("/dev/%s %s\n", l->device, l->digest);
		return;
	}
	hbx_json_init(&j, stdout);
	hbx_layer_json(&j, NULL, l);
	hbx_json_finish(&j);
}

/* layer add IMAGE and layer mount IMAGE DIR: the same options, one more argument. */
static int attach_main(int argc, char **argv, const char *usage, bool mount_it)
{
	struct attach_opts o;
	struct hbx_layer_info l;
	struct hbx_nl *nl;
	int ret;

	ret = parse_attach_opts(argc, argv, usage, &o);
	if (ret)
		return ret;
	if (optind != argc - (mount_it ? 2 : 1) + o.remote)
		return hbx_usage(usage);
	nl = hbx_connect();
	if (!nl)
		return 1;
	if (o.remote) {
		ret = hbx_layer_attach_remote(nl, &o.r, &l);
	} else {
		struct hbx_attach_opts a = {
			.manifest = o.manifest, .digest = o.r.digest,
			.hashes = o.hashes, .verify = o.r.verify,
		};

		ret = hbx_layer_attach_opts(nl, argv[optind], &a, &l);
	}
	if (!ret && mount_it)
		ret = hbx_layer_mount_dev(nl, &l, argv[argc - 1]);
	hbx_nl_close(nl);
	if (ret)
		return 1;
	print_attached(&l, o.json);
	return 0;
}

static int layer_add_main(int argc, char **argv)
{
	return attach_main(argc, argv,
			   "layer add (IMAGE [--manifest M] [--digest sha256:HEX] [--hashes FILE] |"
			   " --remote PEER[,PEER...] (--digest sha256:HEX | --export-name NAME) --cache FILE"
			   " [--prefetch] [--window N]) [--verify once|always] [-j]",
			   false);
}

static int layer_del_main(int argc, char **argv)
{
	static const char usage[] = "layer del N [--force]";
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	bool force = false;
	struct hbx_nl *nl;
	uint32_t index;
	int c, ret;

	while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (c != 'f')
			return hbx_usage(usage);
		force = true;
	}
	if (optind != argc - 1)
		return hbx_usage(usage);
	if (hbx_parse_layer_index("the layer", argv[optind], &index))
		return 2;
	nl = hbx_connect();
	if (!nl)
		return 1;
	ret = hbx_layer_detach(nl, index, force) ? 1 : 0;
	hbx_nl_close(nl);
	return ret;
}

int hbx_parse_layer_index(const char *what, const char *s, uint32_t *index)
{
	static const struct hbx_num n = { HBX_NUM_COUNT, 0, UINT32_MAX, 0 };
	const char *digits = s;
	char why[256];
	uint64_t v;
	int err;

	if (!strncmp(digits, "/dev/", 5))
		digits += 5;
	if (!strncmp(digits, "hbx", 3))
		digits += 3;
	err = hbx_num_parse(digits, &n, &v);
	if (err) {
		hbx_num_explain(err, what, s, &n, why, sizeof(why));
		hbx_err("%s, or /dev/hbxN (see hbx layer list)", why);
		return -1;
	}
	*index = v;
	return 0;
}

/* Mount an attached layer read-only at dir; detaches it again on failure. */
int hbx_layer_mount_dev(struct hbx_nl *nl, const struct hbx_layer_info *l,
			const char *dir)
{
	char dev[64];

	snprintf(dev, sizeof(dev), "/dev/%s", l->device);
	if (mount(dev, dir, "erofs", MS_RDONLY, NULL)) {
		hbx_err("cannot mount %s on %s: %s", dev, dir, strerror(errno));
		hbx_layer_detach(nl, l->index, false);
		return -1;
	}
	return 0;
}

/* Attach IMAGE and mount it read-only at dir; detaches again on failure. */
int hbx_layer_mount(struct hbx_nl *nl, const char *image, const char *manifest,
		    const char *digest, const char *dir,
		    struct hbx_layer_info *l)
{
	if (hbx_layer_attach(nl, image, manifest, digest, l))
		return -1;
	return hbx_layer_mount_dev(nl, l, dir);
}

static int layer_mount_main(int argc, char **argv)
{
	return attach_main(argc, argv,
			   "layer mount (IMAGE [--manifest M] [--digest sha256:HEX] [--hashes FILE] |"
			   " --remote PEER[,PEER...] (--digest sha256:HEX | --export-name NAME) --cache FILE"
			   " [--prefetch] [--window N]) [--verify once|always] DIR [-j]",
			   true);
}

/*
 * Unmount dir and detach the layer mounted there; with keep_held, a layer
 * an export or a pull still holds stays attached.
 */
int hbx_layer_umount_keep(struct hbx_nl *nl, const char *dir, bool keep_held)
{
	struct hbx_layer_info *v = NULL;
	struct stat st;
	ssize_t n, i;
	int ret = -1;

	if (stat(dir, &st)) {
		hbx_err("cannot stat %s: %s", dir, strerror(errno));
		return -1;
	}
	n = hbx_layer_dump(nl, &v);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (v[i].dev == st.st_dev)
			break;
	if (i == n) {
		hbx_err("%s is not a mounted hyperbox layer", dir);
		goto out;
	}
	if (umount2(dir, 0)) {
		hbx_err("cannot unmount %s: %s", dir, strerror(errno));
		goto out;
	}
	ret = keep_held && (v[i].exported || v[i].nr_peers) ? 0 :
	      hbx_layer_detach(nl, v[i].index, false);
out:
	free(v);
	return ret;
}

int hbx_layer_umount(struct hbx_nl *nl, const char *dir)
{
	return hbx_layer_umount_keep(nl, dir, false);
}

static int layer_umount_main(int argc, char **argv)
{
	return hbx_dir_main(argc, argv, "layer umount DIR", hbx_layer_umount);
}

static int layer_export_main(int argc, char **argv)
{
	static const char usage[] =
		"layer export N [--off | [--name NAME] [--missing fetch|not-here]]";
	static const struct option opts[] = {
		{ "off", no_argument, NULL, 'o' },
		{ "missing", required_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	uint32_t index, missing = 0;
	const char *name = NULL;
	struct hbx_nl *nl;
	bool off = false;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'o')
			off = true;
		else if (c == 'm' && !strcmp(optarg, "fetch"))
			missing = HBX_EXPORT_MISSING_FETCH;
		else if (c == 'm' && !strcmp(optarg, "not-here"))
			missing = HBX_EXPORT_MISSING_NOT_HERE;
		else if (c == 'n' && hbx_arg_export_name("--name", optarg))
			return 2;
		else if (c == 'n')
			name = optarg;
		else
			return hbx_usage(usage);
	}
	if (off && name) {
		hbx_err("--name is the name to serve the layer under: it does not go with --off");
		return 2;
	}
	if (off && missing)
		return hbx_usage(usage);
	if (optind != argc - 1)
		return hbx_usage(usage);
	if (hbx_parse_layer_index("the layer", argv[optind], &index))
		return 2;
	nl = hbx_connect();
	if (!nl)
		return 1;
	/* An old module would refuse the attribute without saying which. */
	if (name && hbx_need_export_names(nl, "export a layer under a name")) {
		hbx_nl_close(nl);
		return 1;
	}
	err = hbx_layer_set_export(nl, index, !off, missing, name);
	if (err && err != -ENOMEM)
		hbx_err("%s", hbx_nl_error(nl));
	hbx_nl_close(nl);
	return err ? 1 : 0;
}

static const struct hbx_subcommand layer_subcommands[] = {
	{ "build",	layer_build_main,  "build an EROFS layer and its manifest" },
	{ "add",	layer_add_main,	   "attach an image as /dev/hbxN" },
	{ "del",	layer_del_main,	   "detach a layer" },
	{ "list",	layer_list_main,   "list attached layers" },
	{ "mount",	layer_mount_main,  "attach an image and mount it read-only" },
	{ "umount",	layer_umount_main, "unmount a layer and detach it" },
	{ "export",	layer_export_main, "serve (or stop serving) a layer to peers" },
	{ "pull",	layer_pull_main,   "fetch every chunk of a remote layer, with progress" },
	{ NULL, NULL, NULL }
};

int layer_main(int argc, char **argv)
{
	return hbx_dispatch(layer_subcommands, "layer", argc - 1, argv + 1);
}
