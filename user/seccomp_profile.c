// SPDX-License-Identifier: GPL-2.0
/*
 * Seccomp profiles: the in-memory model, canonical order, merge and diff.
 * The JSON side is seccomp_json.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seccomp_profile.h"

static const struct {
	const char	*name;
	uint32_t	action;
} actions[] = {
	/* In order of permissiveness, the most permissive first. */
	{ "SCMP_ACT_ALLOW",		SCMP_ACT_ALLOW },
	{ "SCMP_ACT_LOG",		SCMP_ACT_LOG },
	{ "SCMP_ACT_ERRNO",		SCMP_ACT_ERRNO(0) },
	{ "SCMP_ACT_TRAP",		SCMP_ACT_TRAP },
	{ "SCMP_ACT_KILL",		SCMP_ACT_KILL },
	{ "SCMP_ACT_KILL_THREAD",	SCMP_ACT_KILL_THREAD },
	{ "SCMP_ACT_KILL_PROCESS",	SCMP_ACT_KILL_PROCESS },
};
#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

/* Every architecture libseccomp 2.5 knows; x86's first, as Docker lists them. */
static const struct {
	const char	*name;
	uint32_t	arch;
} arches[] = {
	{ "SCMP_ARCH_X86_64",		SCMP_ARCH_X86_64 },
	{ "SCMP_ARCH_X86",		SCMP_ARCH_X86 },
	{ "SCMP_ARCH_X32",		SCMP_ARCH_X32 },
	{ "SCMP_ARCH_ARM",		SCMP_ARCH_ARM },
	{ "SCMP_ARCH_AARCH64",		SCMP_ARCH_AARCH64 },
	{ "SCMP_ARCH_MIPS",		SCMP_ARCH_MIPS },
	{ "SCMP_ARCH_MIPS64",		SCMP_ARCH_MIPS64 },
	{ "SCMP_ARCH_MIPS64N32",	SCMP_ARCH_MIPS64N32 },
	{ "SCMP_ARCH_MIPSEL",		SCMP_ARCH_MIPSEL },
	{ "SCMP_ARCH_MIPSEL64",		SCMP_ARCH_MIPSEL64 },
	{ "SCMP_ARCH_MIPSEL64N32",	SCMP_ARCH_MIPSEL64N32 },
	{ "SCMP_ARCH_PPC",		SCMP_ARCH_PPC },
	{ "SCMP_ARCH_PPC64",		SCMP_ARCH_PPC64 },
	{ "SCMP_ARCH_PPC64LE",		SCMP_ARCH_PPC64LE },
	{ "SCMP_ARCH_S390",		SCMP_ARCH_S390 },
	{ "SCMP_ARCH_S390X",		SCMP_ARCH_S390X },
	{ "SCMP_ARCH_PARISC",		SCMP_ARCH_PARISC },
	{ "SCMP_ARCH_PARISC64",		SCMP_ARCH_PARISC64 },
	{ "SCMP_ARCH_RISCV64",		SCMP_ARCH_RISCV64 },
};
#define NARCHES (sizeof(arches) / sizeof(arches[0]))

static const struct {
	const char		*name;
	enum scmp_compare	op;
	const char		*symbol;	/* for diff lines */
} ops[] = {
	{ "SCMP_CMP_NE",	SCMP_CMP_NE,		"!=" },
	{ "SCMP_CMP_LT",	SCMP_CMP_LT,		"<" },
	{ "SCMP_CMP_LE",	SCMP_CMP_LE,		"<=" },
	{ "SCMP_CMP_EQ",	SCMP_CMP_EQ,		"==" },
	{ "SCMP_CMP_GE",	SCMP_CMP_GE,		">=" },
	{ "SCMP_CMP_GT",	SCMP_CMP_GT,		">" },
	{ "SCMP_CMP_MASKED_EQ",	SCMP_CMP_MASKED_EQ,	"==" },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

#define ACTION_ERRNO_MASK	0xffff0000u

static uint32_t action_kind(uint32_t action)
{
	return (action & ACTION_ERRNO_MASK) == SCMP_ACT_ERRNO(0) ?
		SCMP_ACT_ERRNO(0) : action;
}

int hbx_sc_action_parse(const char *name, uint32_t errno_ret, uint32_t *action)
{
	for (size_t i = 0; i < NACTIONS; i++) {
		if (strcmp(name, actions[i].name))
			continue;
		*action = actions[i].action;
		if (*action == SCMP_ACT_ERRNO(0))
			*action = SCMP_ACT_ERRNO(errno_ret);
		return 0;
	}
	return -1;
}

const char *hbx_sc_action_name(uint32_t action)
{
	action = action_kind(action);
	for (size_t i = 0; i < NACTIONS; i++)
		if (actions[i].action == action)
			return actions[i].name;
	return "SCMP_ACT_UNKNOWN";
}

/* Lower is more permissive. */
static size_t action_rank(uint32_t action)
{
	action = action_kind(action);
	for (size_t i = 0; i < NACTIONS; i++)
		if (actions[i].action == action)
			return i;
	return NACTIONS;
}

int hbx_sc_action_cmp(uint32_t a, uint32_t b)
{
	size_t ra = action_rank(a), rb = action_rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	return a < b ? -1 : a > b;
}

bool hbx_sc_action_allows(uint32_t action)
{
	return action == SCMP_ACT_ALLOW || action == SCMP_ACT_LOG;
}

int hbx_sc_arch_parse(const char *name, uint32_t *arch)
{
	for (size_t i = 0; i < NARCHES; i++) {
		if (!strcmp(name, arches[i].name)) {
			*arch = arches[i].arch;
			return 0;
		}
	}
	return -1;
}

const char *hbx_sc_arch_name(uint32_t arch)
{
	for (size_t i = 0; i < NARCHES; i++)
		if (arches[i].arch == arch)
			return arches[i].name;
	return "SCMP_ARCH_UNKNOWN";
}

static size_t arch_rank(uint32_t arch)
{
	for (size_t i = 0; i < NARCHES; i++)
		if (arches[i].arch == arch)
			return i;
	return NARCHES;
}

int hbx_sc_op_parse(const char *name, enum scmp_compare *op)
{
	for (size_t i = 0; i < NOPS; i++) {
		if (!strcmp(name, ops[i].name)) {
			*op = ops[i].op;
			return 0;
		}
	}
	return -1;
}

const char *hbx_sc_op_name(enum scmp_compare op)
{
	for (size_t i = 0; i < NOPS; i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "SCMP_CMP_UNKNOWN";
}

static const char *op_symbol(enum scmp_compare op)
{
	for (size_t i = 0; i < NOPS; i++)
		if (ops[i].op == op)
			return ops[i].symbol;
	return "?";
}

bool hbx_sc_name_known(const char *name)
{
	/*
	 * libseccomp gives a syscall absent from the native architecture a
	 * negative pseudo number; only a name in none of its tables is an
	 * error.
	 */
	return seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR;
}

static void set_err(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

void hbx_sc_profile_init(struct hbx_sc_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->default_action = SCMP_ACT_ERRNO(EPERM);
}

void hbx_sc_profile_free(struct hbx_sc_profile *p)
{
	free(p->rules);
	hbx_sc_profile_init(p);
}

static int arg_cmp(const struct hbx_sc_arg *a, const struct hbx_sc_arg *b)
{
	if (a->index != b->index)
		return a->index < b->index ? -1 : 1;
	if (a->op != b->op)
		return a->op < b->op ? -1 : 1;
	if (a->value != b->value)
		return a->value < b->value ? -1 : 1;
	if (a->value_two != b->value_two)
		return a->value_two < b->value_two ? -1 : 1;
	return 0;
}

static int arg_qsort_cmp(const void *a, const void *b)
{
	return arg_cmp(a, b);
}

/* Same syscall, same conditions: the rules differ at most in action. */
static int rule_key_cmp(const struct hbx_sc_rule *a, const struct hbx_sc_rule *b)
{
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	if (a->nargs != b->nargs)
		return a->nargs < b->nargs ? -1 : 1;
	for (uint32_t i = 0; i < a->nargs; i++) {
		c = arg_cmp(&a->args[i], &b->args[i]);
		if (c)
			return c;
	}
	return 0;
}

static int rule_cmp(const void *pa, const void *pb)
{
	const struct hbx_sc_rule *a = pa, *b = pb;
	int c = rule_key_cmp(a, b);

	if (c)
		return c;
	return a->action < b->action ? -1 : a->action > b->action;
}

static int arch_cmp(const void *pa, const void *pb)
{
	size_t a = arch_rank(*(const uint32_t *)pa);
	size_t b = arch_rank(*(const uint32_t *)pb);

	return a < b ? -1 : a > b;
}

void hbx_sc_profile_sort(struct hbx_sc_profile *p)
{
	qsort(p->rules, p->nrules, sizeof(*p->rules), rule_cmp);
	qsort(p->arches, p->narches, sizeof(*p->arches), arch_cmp);
}

static struct hbx_sc_rule *find_key(struct hbx_sc_profile *p,
				    const struct hbx_sc_rule *r)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (!rule_key_cmp(&p->rules[i], r))
			return &p->rules[i];
	return NULL;
}

static int append(struct hbx_sc_profile *p, const struct hbx_sc_rule *r)
{
	if (p->nrules == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct hbx_sc_rule *v = realloc(p->rules, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->rules = v;
		p->cap = cap;
	}
	p->rules[p->nrules++] = *r;
	return 0;
}

/* Conditions in canonical order, so that equal rules compare equal. */
static void sort_args(struct hbx_sc_rule *r)
{
	qsort(r->args, r->nargs, sizeof(r->args[0]), arg_qsort_cmp);
}

int hbx_sc_profile_add(struct hbx_sc_profile *p, const struct hbx_sc_rule *r,
		       char *err, size_t errlen)
{
	struct hbx_sc_rule sorted = *r;
	struct hbx_sc_rule *old;

	sort_args(&sorted);
	old = find_key(p, &sorted);
	if (old) {
		if (old->action == sorted.action)
			return 0;
		set_err(err, errlen, "syscall '%s' has two rules with the same conditions and different actions (%s and %s)",
			r->name, hbx_sc_action_name(old->action),
			hbx_sc_action_name(sorted.action));
		return -1;
	}
	if (append(p, &sorted)) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int hbx_sc_profile_add_arch(struct hbx_sc_profile *p, uint32_t arch)
{
	for (size_t i = 0; i < p->narches; i++)
		if (p->arches[i] == arch)
			return 0;
	if (p->narches == HBX_SC_ARCHES_MAX)
		return -ENOSPC;
	p->arches[p->narches++] = arch;
	return 0;
}

static uint32_t more_permissive(uint32_t a, uint32_t b)
{
	return action_rank(b) < action_rank(a) ? b : a;
}

/* Merge-side add: the same conditions with two actions keep the laxer one. */
static int add_union(struct hbx_sc_profile *p, const struct hbx_sc_rule *r)
{
	struct hbx_sc_rule *old = find_key(p, r);

	if (old) {
		old->action = more_permissive(old->action, r->action);
		return 0;
	}
	return append(p, r);
}

int hbx_sc_profile_merge(const struct hbx_sc_profile *a,
			 const struct hbx_sc_profile *b,
			 struct hbx_sc_profile *out, char *err, size_t errlen)
{
	struct hbx_sc_profile m;
	size_t i, j;

	hbx_sc_profile_init(&m);
	m.default_action = more_permissive(a->default_action, b->default_action);
	m.flags = a->flags | b->flags;
	for (i = 0; i < a->narches; i++)
		hbx_sc_profile_add_arch(&m, a->arches[i]);
	for (i = 0; i < b->narches; i++)
		if (hbx_sc_profile_add_arch(&m, b->arches[i]))
			goto nomem;
	for (i = 0; i < a->nrules; i++)
		if (add_union(&m, &a->rules[i]))
			goto nomem;
	for (i = 0; i < b->nrules; i++)
		if (add_union(&m, &b->rules[i]))
			goto nomem;

	/*
	 * A syscall one side allows whatever its arguments absorbs the other
	 * side's conditional rules that are no more permissive.
	 */
	for (i = 0; i < m.nrules; i++) {
		const struct hbx_sc_rule *u = &m.rules[i];

		if (u->nargs)
			continue;
		for (j = 0; j < m.nrules; j++) {
			struct hbx_sc_rule *c = &m.rules[j];

			if (c->nargs && !strcmp(c->name, u->name) &&
			    action_rank(c->action) >= action_rank(u->action))
				c->name[0] = '\0';	/* dropped below */
		}
	}
	for (i = j = 0; i < m.nrules; i++)
		if (m.rules[i].name[0])
			m.rules[j++] = m.rules[i];
	m.nrules = j;
	hbx_sc_profile_sort(&m);
	*out = m;
	return 0;
nomem:
	hbx_sc_profile_free(&m);
	set_err(err, errlen, "out of memory");
	return -1;
}

static void format_value(char *buf, size_t len, uint64_t v)
{
	if (v < 65536)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "0x%llx", (unsigned long long)v);
}

void hbx_sc_rule_format(const struct hbx_sc_rule *r, char *buf, size_t len)
{
	size_t n = 0;

#define PUT(...) do {							\
		int w_ = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__); \
		if (w_ > 0)						\
			n += (size_t)w_;				\
	} while (0)

	if (len)
		buf[0] = '\0';
	PUT("%s", r->name);
	for (uint32_t i = 0; i < r->nargs; i++) {
		const struct hbx_sc_arg *a = &r->args[i];
		char v1[32], v2[32];

		format_value(v1, sizeof(v1), a->value);
		format_value(v2, sizeof(v2), a->value_two);
		if (a->op == SCMP_CMP_MASKED_EQ)
			PUT("%s arg%u & %s == %s", i ? " &&" : "", a->index,
			    v1, v2);
		else
			PUT("%s arg%u %s %s", i ? " &&" : "", a->index,
			    op_symbol(a->op), v1);
	}
	if (r->action != SCMP_ACT_ALLOW) {
		if (action_kind(r->action) == SCMP_ACT_ERRNO(0))
			PUT(" %s(%u)", hbx_sc_action_name(r->action),
			    r->action & 0xffff);
		else
			PUT(" %s", hbx_sc_action_name(r->action));
	}
#undef PUT
}

static void format_default(const struct hbx_sc_profile *p, char *buf, size_t len)
{
	if (action_kind(p->default_action) == SCMP_ACT_ERRNO(0))
		snprintf(buf, len, "defaultAction %s(%u)",
			 hbx_sc_action_name(p->default_action),
			 p->default_action & 0xffff);
	else
		snprintf(buf, len, "defaultAction %s",
			 hbx_sc_action_name(p->default_action));
}

/* Everything diff compares, one line each, sorted. */
static char **profile_lines(const struct hbx_sc_profile *p, size_t *n)
{
	size_t max = p->nrules + p->narches + 3, k = 0;
	char **v = calloc(max, sizeof(*v)), buf[512];

	if (!v)
		return NULL;
	format_default(p, buf, sizeof(buf));
	v[k++] = strdup(buf);
	for (size_t i = 0; i < p->narches; i++) {
		snprintf(buf, sizeof(buf), "architecture %s",
			 hbx_sc_arch_name(p->arches[i]));
		v[k++] = strdup(buf);
	}
	if (p->flags & HBX_SC_FLAG_LOG)
		v[k++] = strdup("flag SECCOMP_FILTER_FLAG_LOG");
	if (p->flags & HBX_SC_FLAG_SPEC_ALLOW)
		v[k++] = strdup("flag SECCOMP_FILTER_FLAG_SPEC_ALLOW");
	for (size_t i = 0; i < p->nrules; i++) {
		hbx_sc_rule_format(&p->rules[i], buf, sizeof(buf));
		v[k++] = strdup(buf);
	}
	for (size_t i = 0; i < k; i++) {
		if (!v[i]) {
			for (size_t j = 0; j < k; j++)
				free(v[j]);
			free(v);
			return NULL;
		}
	}
	*n = k;
	return v;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_lines(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int hbx_sc_profile_diff(const struct hbx_sc_profile *a,
			const struct hbx_sc_profile *b, struct hbx_sc_diff *d)
{
	size_t na = 0, nb = 0, i = 0, j = 0;
	char **la = profile_lines(a, &na), **lb = profile_lines(b, &nb);

	memset(d, 0, sizeof(*d));
	if (!la || !lb)
		goto nomem;
	qsort(la, na, sizeof(*la), str_cmp);
	qsort(lb, nb, sizeof(*lb), str_cmp);
	d->removed = calloc(na + 1, sizeof(char *));
	d->added = calloc(nb + 1, sizeof(char *));
	if (!d->removed || !d->added)
		goto nomem;
	/* A sorted merge; lines move from la/lb into d. */
	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(la[i], lb[j]);

		if (c < 0) {
			d->removed[d->nremoved++] = la[i];
			la[i++] = NULL;
		} else if (c > 0) {
			d->added[d->nadded++] = lb[j];
			lb[j++] = NULL;
		} else {
			i++;
			j++;
		}
	}
	free_lines(la, na);
	free_lines(lb, nb);
	return 0;
nomem:
	if (la)
		free_lines(la, na);
	if (lb)
		free_lines(lb, nb);
	hbx_sc_diff_free(d);
	return -ENOMEM;
}

void hbx_sc_diff_free(struct hbx_sc_diff *d)
{
	for (size_t i = 0; i < d->nremoved; i++)
		free(d->removed[i]);
	for (size_t i = 0; i < d->nadded; i++)
		free(d->added[i]);
	free(d->removed);
	free(d->added);
	memset(d, 0, sizeof(*d));
}

size_t hbx_sc_profile_allowed(const struct hbx_sc_profile *p, uint32_t arch,
			      const char ***names)
{
	const char **v = calloc(p->nrules + 1, sizeof(*v));
	size_t n = 0, k = 0;

	*names = v;
	if (!v)
		return 0;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct hbx_sc_rule *r = &p->rules[i];

		if (!hbx_sc_action_allows(r->action))
			continue;
		if (arch && seccomp_syscall_resolve_name_arch(arch, r->name) < 0)
			continue;
		v[n++] = r->name;
	}
	qsort(v, n, sizeof(*v), str_cmp);
	/* A syscall allowed under several conditions counts once. */
	for (size_t i = 0; i < n; i++)
		if (!k || strcmp(v[k - 1], v[i]))
			v[k++] = v[i];
	return k;
}
