// SPDX-License-Identifier: GPL-2.0
/*
 * Seccomp profiles as JSON (json-c): the OCI runtime-spec LinuxSeccomp
 * object, which runc, crun, podman and docker load.  Docker's extensions
 * are read where they mean something without a container engine around
 * ("archMap", "comment"); its conditional entries ("includes", "excludes")
 * are refused rather than silently dropped, since dropping them would
 * allow what the profile only allows under a condition.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include "seccomp_profile.h"

#define ERRNO_MAX 4095	/* the kernel's MAX_ERRNO */

struct parse {
	struct hbx_sc_profile	*p;
	char			*err;
	size_t			errlen;
};

static int fail(struct parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool is_empty(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		return true;
	case json_type_array:
		return json_object_array_length(o) == 0;
	case json_type_object:
		return json_object_object_length(o) == 0;
	case json_type_string:
		return json_object_get_string_len(o) == 0;
	default:
		return false;
	}
}

/* A non-negative JSON integer (json-c keeps the full uint64 range). */
static int get_u64(struct parse *ps, struct json_object *o, const char *what,
		   uint64_t max, uint64_t *v)
{
	if (!json_object_is_type(o, json_type_int))
		return fail(ps, "%s must be an integer", what);
	errno = 0;
	if (json_object_get_int64(o) < 0)
		return fail(ps, "%s must not be negative", what);
	*v = json_object_get_uint64(o);
	if (errno == ERANGE)
		return fail(ps, "%s is out of range", what);
	if (*v > max)
		return fail(ps, "%s is %llu, at most %llu", what,
			    (unsigned long long)*v, (unsigned long long)max);
	return 0;
}

static const char *get_string(struct json_object *o)
{
	return json_object_is_type(o, json_type_string) ?
		json_object_get_string(o) : NULL;
}

static int parse_action(struct parse *ps, struct json_object *action,
			struct json_object *errno_ret, const char *what,
			uint32_t *out)
{
	const char *name = get_string(action);
	uint64_t e = EPERM;	/* runc's default for SCMP_ACT_ERRNO */
	char ewhat[96];

	if (!name)
		return fail(ps, "%s must be a string", what);
	snprintf(ewhat, sizeof(ewhat), "the errno of %s", what);
	if (errno_ret && !json_object_is_type(errno_ret, json_type_null) &&
	    get_u64(ps, errno_ret, ewhat, ERRNO_MAX, &e))
		return -1;
	if (!strcmp(name, "SCMP_ACT_TRACE") || !strcmp(name, "SCMP_ACT_NOTIFY"))
		return fail(ps, "%s %s is not supported (no tracer or listener here)",
			    what, name);
	if (hbx_sc_action_parse(name, (uint32_t)e, out))
		return fail(ps, "%s: unknown action '%s'", what, name);
	return 0;
}

static int parse_arch_name(struct parse *ps, struct json_object *o,
			   const char *what)
{
	const char *name = get_string(o);
	uint32_t arch;

	if (!name)
		return fail(ps, "%s must be a string", what);
	if (hbx_sc_arch_parse(name, &arch))
		return fail(ps, "unknown architecture '%s' in %s", name, what);
	if (hbx_sc_profile_add_arch(ps->p, arch))
		return fail(ps, "too many architectures");
	return 0;
}

static int parse_arches(struct parse *ps, struct json_object *a)
{
	char what[64];

	if (!json_object_is_type(a, json_type_array))
		return fail(ps, "\"architectures\" must be an array");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		snprintf(what, sizeof(what), "architectures[%zu]", i);
		if (parse_arch_name(ps, json_object_array_get_idx(a, i), what))
			return -1;
	}
	return 0;
}

/* Docker's archMap: the entry for this machine's architecture applies. */
static int parse_arch_map(struct parse *ps, struct json_object *a)
{
	const char *native = hbx_sc_arch_name(seccomp_arch_native());
	char what[96];

	if (!json_object_is_type(a, json_type_array))
		return fail(ps, "\"archMap\" must be an array");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i), *arch, *subs;

		if (!json_object_object_get_ex(e, "architecture", &arch) ||
		    !get_string(arch))
			return fail(ps, "archMap[%zu] has no \"architecture\"", i);
		if (strcmp(get_string(arch), native))
			continue;
		snprintf(what, sizeof(what), "archMap[%zu]", i);
		if (parse_arch_name(ps, arch, what))
			return -1;
		if (!json_object_object_get_ex(e, "subArchitectures", &subs) ||
		    json_object_is_type(subs, json_type_null))
			continue;
		if (!json_object_is_type(subs, json_type_array))
			return fail(ps, "archMap[%zu].subArchitectures must be an array", i);
		for (size_t j = 0; j < json_object_array_length(subs); j++) {
			snprintf(what, sizeof(what),
				 "archMap[%zu].subArchitectures[%zu]", i, j);
			if (parse_arch_name(ps, json_object_array_get_idx(subs, j),
					    what))
				return -1;
		}
	}
	return 0;
}

static int parse_flags(struct parse *ps, struct json_object *a)
{
	if (json_object_is_type(a, json_type_null))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return fail(ps, "\"flags\" must be an array");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		const char *f = get_string(json_object_array_get_idx(a, i));

		if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_LOG"))
			ps->p->flags |= HBX_SC_FLAG_LOG;
		else if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
			ps->p->flags |= HBX_SC_FLAG_SPEC_ALLOW;
		else
			return fail(ps, "flags[%zu]: unsupported flag '%s'", i,
				    f ? f : "(not a string)");
	}
	return 0;
}

static int parse_arg(struct parse *ps, struct json_object *o, const char *what,
		     struct hbx_sc_arg *arg)
{
	struct json_object *v;
	uint64_t index;
	char vwhat[160];

	if (!json_object_is_type(o, json_type_object))
		return fail(ps, "%s must be an object", what);
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, "index") && strcmp(key, "value") &&
		    strcmp(key, "valueTwo") && strcmp(key, "op"))
			return fail(ps, "%s: unknown key '%s'", what, key);
	}
	if (!json_object_object_get_ex(o, "index", &v))
		return fail(ps, "%s has no \"index\"", what);
	snprintf(vwhat, sizeof(vwhat), "%s.index", what);
	if (get_u64(ps, v, vwhat, HBX_SC_ARGS - 1, &index))
		return -1;
	arg->index = (uint32_t)index;
	if (!json_object_object_get_ex(o, "op", &v) || !get_string(v))
		return fail(ps, "%s has no \"op\"", what);
	if (hbx_sc_op_parse(get_string(v), &arg->op))
		return fail(ps, "%s: unknown operator '%s'", what, get_string(v));
	arg->value = arg->value_two = 0;
	snprintf(vwhat, sizeof(vwhat), "%s.value", what);
	if (json_object_object_get_ex(o, "value", &v) &&
	    get_u64(ps, v, vwhat, UINT64_MAX, &arg->value))
		return -1;
	snprintf(vwhat, sizeof(vwhat), "%s.valueTwo", what);
	if (json_object_object_get_ex(o, "valueTwo", &v) &&
	    get_u64(ps, v, vwhat, UINT64_MAX, &arg->value_two))
		return -1;
	return 0;
}

static int parse_syscall(struct parse *ps, struct json_object *o, size_t idx)
{
	struct json_object *names = NULL, *name = NULL, *action = NULL;
	struct json_object *errno_ret = NULL, *args = NULL;
	struct hbx_sc_rule rule;
	char what[64];
	size_t n;

	snprintf(what, sizeof(what), "syscalls[%zu]", idx);
	if (!json_object_is_type(o, json_type_object))
		return fail(ps, "%s must be an object", what);
	json_object_object_foreach(o, key, val) {
		if (!strcmp(key, "names"))
			names = val;
		else if (!strcmp(key, "name"))	/* Docker's format before 1.13 */
			name = val;
		else if (!strcmp(key, "action"))
			action = val;
		else if (!strcmp(key, "errnoRet"))
			errno_ret = val;
		else if (!strcmp(key, "args"))
			args = val;
		else if (!strcmp(key, "includes") || !strcmp(key, "excludes")) {
			if (!is_empty(val))
				return fail(ps, "%s: conditional entries (\"%s\") are Docker-specific; resolve them for this machine first",
					    what, key);
		} else if (strcmp(key, "comment"))
			return fail(ps, "%s: unknown key '%s'", what, key);
	}
	memset(&rule, 0, sizeof(rule));
	if (!action)
		return fail(ps, "%s has no \"action\"", what);
	if (parse_action(ps, action, errno_ret, what, &rule.action))
		return -1;
	if (args && !json_object_is_type(args, json_type_null)) {
		if (!json_object_is_type(args, json_type_array))
			return fail(ps, "%s.args must be an array", what);
		n = json_object_array_length(args);
		if (n > HBX_SC_ARGS)
			return fail(ps, "%s has %zu argument conditions, at most %d",
				    what, n, HBX_SC_ARGS);
		for (size_t i = 0; i < n; i++) {
			char awhat[128];

			snprintf(awhat, sizeof(awhat), "%s.args[%zu]", what, i);
			if (parse_arg(ps, json_object_array_get_idx(args, i),
				      awhat, &rule.args[i]))
				return -1;
		}
		rule.nargs = (uint32_t)n;
	}
	if (name && !names) {
		names = name;
		n = 1;
	} else if (names && json_object_is_type(names, json_type_array)) {
		n = json_object_array_length(names);
	} else {
		return fail(ps, "%s has no \"names\" array", what);
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_is_type(names, json_type_array) ?
			json_object_array_get_idx(names, i) : names;
		const char *s = get_string(e);

		if (!s || !*s)
			return fail(ps, "%s.names[%zu] must be a syscall name", what, i);
		if (strlen(s) >= HBX_SC_NAME_MAX || !hbx_sc_name_known(s))
			return fail(ps, "unknown syscall '%s' in %s (libseccomp %u.%u.%u does not know it)",
				    s, what, seccomp_version()->major,
				    seccomp_version()->minor,
				    seccomp_version()->micro);
		snprintf(rule.name, sizeof(rule.name), "%s", s);
		if (hbx_sc_profile_add(ps->p, &rule, ps->err, ps->errlen))
			return -1;
	}
	return 0;
}

int hbx_sc_profile_parse(const char *json, struct hbx_sc_profile *p,
			 char *err, size_t errlen)
{
	struct parse ps = { p, err, errlen };
	struct json_object *root = NULL, *def = NULL, *def_errno = NULL;
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	size_t len = strlen(json), end;
	int ret = -1;

	hbx_sc_profile_init(p);
	tok = json_tokener_new();
	if (!tok)
		return fail(&ps, "out of memory");
	root = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		fail(&ps, "malformed JSON: the document ends early");
		goto out;
	}
	if (jerr != json_tokener_success) {
		fail(&ps, "malformed JSON at byte %zu: %s", end,
		     json_tokener_error_desc(jerr));
		goto out;
	}
	while (end < len && strchr(" \t\r\n", json[end]))
		end++;
	if (end < len) {
		fail(&ps, "malformed JSON at byte %zu: text after the profile", end);
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		fail(&ps, "a profile is a JSON object");
		goto out;
	}

	json_object_object_foreach(root, key, val) {
		if (!strcmp(key, "defaultAction"))
			def = val;
		else if (!strcmp(key, "defaultErrnoRet"))
			def_errno = val;
		else if (!strcmp(key, "architectures")) {
			if (!json_object_is_type(val, json_type_null) &&
			    parse_arches(&ps, val))
				goto out;
		} else if (!strcmp(key, "archMap")) {
			if (!json_object_is_type(val, json_type_null) &&
			    parse_arch_map(&ps, val))
				goto out;
		} else if (!strcmp(key, "flags")) {
			if (parse_flags(&ps, val))
				goto out;
		} else if (!strcmp(key, "listenerPath") ||
			   !strcmp(key, "listenerMetadata")) {
			if (!is_empty(val)) {
				fail(&ps, "\"%s\": seccomp notify listeners are not supported", key);
				goto out;
			}
		} else if (strcmp(key, "syscalls") && strcmp(key, "comment")) {
			fail(&ps, "unknown key '%s'", key);
			goto out;
		}
	}
	if (!def) {
		fail(&ps, "the profile has no \"defaultAction\"");
		goto out;
	}
	if (parse_action(&ps, def, def_errno, "defaultAction", &p->default_action))
		goto out;

	if (json_object_object_get_ex(root, "syscalls", &val) &&
	    !json_object_is_type(val, json_type_null)) {
		if (!json_object_is_type(val, json_type_array)) {
			fail(&ps, "\"syscalls\" must be an array");
			goto out;
		}
		for (size_t i = 0; i < json_object_array_length(val); i++)
			if (parse_syscall(&ps, json_object_array_get_idx(val, i), i))
				goto out;
	}
	hbx_sc_profile_sort(p);
	ret = 0;
out:
	if (ret)
		hbx_sc_profile_free(p);
	json_object_put(root);
	json_tokener_free(tok);
	return ret;
}

#define PROFILE_SIZE_MAX (16 << 20)

int hbx_sc_profile_load(const char *path, struct hbx_sc_profile *p,
			char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL, msg[HBX_SC_ERR_MAX];
	size_t len = 0, n;
	int ret;

	hbx_sc_profile_init(p);
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		char *b = realloc(buf, len + 65536 + 1);

		if (!b) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
		buf = b;
		n = fread(buf + len, 1, 65536, f);
		len += n;
		if (n < 65536)
			break;
		if (len > PROFILE_SIZE_MAX) {
			snprintf(err, errlen, "%s: larger than %d MiB, not a profile",
				 path, PROFILE_SIZE_MAX >> 20);
			goto fail;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		snprintf(err, errlen, "%s: malformed JSON: a NUL byte", path);
		goto fail;
	}
	fclose(f);
	ret = hbx_sc_profile_parse(buf, p, msg, sizeof(msg));
	if (ret)
		snprintf(err, errlen, "%s: %s", path, msg);
	free(buf);
	return ret;
fail:
	free(buf);
	fclose(f);
	return -1;
}

static struct json_object *names_array(const struct hbx_sc_rule *r, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_string(r[i].name));
	return a;
}

/* "action" and, for SCMP_ACT_ERRNO, "errnoRet" (or "defaultErrnoRet"). */
static void add_action(struct json_object *o, const char *key,
		       const char *errno_key, uint32_t action)
{
	const char *name = hbx_sc_action_name(action);

	json_object_object_add(o, key, json_object_new_string(name));
	if (!strcmp(name, "SCMP_ACT_ERRNO"))
		json_object_object_add(o, errno_key,
				       json_object_new_uint64(action & 0xffff));
}

static struct json_object *entry(const struct hbx_sc_rule *r, size_t n)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "names", names_array(r, n));
	add_action(e, "action", "errnoRet", r->action);
	if (r->nargs) {
		struct json_object *args = json_object_new_array();

		for (uint32_t i = 0; i < r->nargs; i++) {
			const struct hbx_sc_arg *a = &r->args[i];
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "index",
					       json_object_new_uint64(a->index));
			json_object_object_add(o, "value",
					       json_object_new_uint64(a->value));
			json_object_object_add(o, "valueTwo",
					       json_object_new_uint64(a->value_two));
			json_object_object_add(o, "op",
					       json_object_new_string(hbx_sc_op_name(a->op)));
			json_object_array_add(args, o);
		}
		json_object_object_add(e, "args", args);
	}
	return e;
}

static int rule_ptr_cmp(const void *pa, const void *pb)
{
	const struct hbx_sc_rule *a = *(const struct hbx_sc_rule *const *)pa;
	const struct hbx_sc_rule *b = *(const struct hbx_sc_rule *const *)pb;

	/* Unconditional rules grouped by action, the most permissive first. */
	int c = hbx_sc_action_cmp(a->action, b->action);

	return c ? c : strcmp(a->name, b->name);
}

char *hbx_sc_profile_to_json(const struct hbx_sc_profile *p)
{
	struct hbx_sc_profile s = *p;
	struct json_object *root = json_object_new_object(), *arches, *calls;
	const struct hbx_sc_rule **plain;
	struct hbx_sc_rule *group;
	size_t nplain = 0, i, j;
	char *out = NULL;

	/* Sort a copy: the caller's profile stays as it is. */
	s.rules = malloc((p->nrules + 1) * sizeof(*s.rules));
	plain = malloc((p->nrules + 1) * sizeof(*plain));
	group = malloc((p->nrules + 1) * sizeof(*group));
	if (!root || !s.rules || !plain || !group)
		goto out;
	memcpy(s.rules, p->rules, p->nrules * sizeof(*s.rules));
	hbx_sc_profile_sort(&s);

	add_action(root, "defaultAction", "defaultErrnoRet", s.default_action);
	arches = json_object_new_array();
	for (i = 0; i < s.narches; i++)
		json_object_array_add(arches,
			json_object_new_string(hbx_sc_arch_name(s.arches[i])));
	json_object_object_add(root, "architectures", arches);
	if (s.flags) {
		struct json_object *flags = json_object_new_array();

		if (s.flags & HBX_SC_FLAG_LOG)
			json_object_array_add(flags,
				json_object_new_string("SECCOMP_FILTER_FLAG_LOG"));
		if (s.flags & HBX_SC_FLAG_SPEC_ALLOW)
			json_object_array_add(flags,
				json_object_new_string("SECCOMP_FILTER_FLAG_SPEC_ALLOW"));
		json_object_object_add(root, "flags", flags);
	}

	calls = json_object_new_array();
	for (i = 0; i < s.nrules; i++)
		if (!s.rules[i].nargs)
			plain[nplain++] = &s.rules[i];
	qsort(plain, nplain, sizeof(*plain), rule_ptr_cmp);
	/* One entry per action for the unconditional rules, names sorted. */
	for (i = 0; i < nplain; i = j) {
		for (j = i; j < nplain && plain[j]->action == plain[i]->action; j++)
			group[j - i] = *plain[j];
		json_object_array_add(calls, entry(group, j - i));
	}
	/* Then one entry per conditional rule, in rule order. */
	for (i = 0; i < s.nrules; i++)
		if (s.rules[i].nargs)
			json_object_array_add(calls, entry(&s.rules[i], 1));
	json_object_object_add(root, "syscalls", calls);

	{
		const char *txt = json_object_to_json_string_ext(root,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE);
		size_t len = strlen(txt);

		out = malloc(len + 2);
		if (out) {
			memcpy(out, txt, len);
			out[len] = '\n';
			out[len + 1] = '\0';
		}
	}
out:
	json_object_put(root);
	free(s.rules);
	free(plain);
	free(group);
	return out;
}

int hbx_sc_profile_save(const char *path, const struct hbx_sc_profile *p,
			char *err, size_t errlen)
{
	char *txt = hbx_sc_profile_to_json(p), tmp[PATH_MAX];
	size_t len;
	int fd = -1;

	if (!txt) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	len = strlen(txt);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		goto fail;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		goto fail;
	}
	/* mkstemp makes it 0600; a profile is not secret. */
	if (fchmod(fd, 0644) || write(fd, txt, len) != (ssize_t)len ||
	    fsync(fd)) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
			 errno ? strerror(errno) : "short write");
		goto fail_unlink;
	}
	if (close(fd)) {
		fd = -1;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto fail_unlink;
	}
	fd = -1;
	if (rename(tmp, path)) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path,
			 strerror(errno));
		goto fail_unlink;
	}
	free(txt);
	return 0;
fail_unlink:
	unlink(tmp);
fail:
	if (fd >= 0)
		close(fd);
	free(txt);
	return -1;
}
