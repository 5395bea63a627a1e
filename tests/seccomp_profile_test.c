// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of the seccomp profile code: parsing and its error
 * messages, the canonical JSON, merge, diff, the learned argument rules,
 * Docker's default list, and a round trip through libseccomp.  No BPF and
 * no seccomp filter is loaded; the VM suite (selftests/seccomp_test.sh)
 * does that.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "kselftest_harness.h"
#include "docker_default.h"
#include "seccomp_filter.h"
#include "seccomp_profile.h"
#include "seccomp_rules.h"

static const char two_arch_profile[] =
	"{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,"
	"  \"architectures\": [ \"SCMP_ARCH_X86\", \"SCMP_ARCH_X86_64\" ],"
	"  \"syscalls\": ["
	"    { \"names\": [ \"write\", \"read\", \"exit_group\" ], \"action\": \"SCMP_ACT_ALLOW\" },"
	"    { \"names\": [ \"socket\" ], \"action\": \"SCMP_ACT_ALLOW\","
	"      \"args\": [ { \"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\" } ] },"
	"    { \"names\": [ \"clone\" ], \"action\": \"SCMP_ACT_ALLOW\","
	"      \"args\": [ { \"index\": 0, \"value\": 2114060288, \"valueTwo\": 0,"
	"                    \"op\": \"SCMP_CMP_MASKED_EQ\" } ] },"
	"    { \"names\": [ \"clone3\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38 }"
	"  ] }";

static int parse(const char *json, struct hbx_sc_profile *p, char *err)
{
	return hbx_sc_profile_parse(json, p, err, HBX_SC_ERR_MAX);
}

static const struct hbx_sc_rule *find(const struct hbx_sc_profile *p,
				      const char *name, size_t nth)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (!strcmp(p->rules[i].name, name) && nth-- == 0)
			return &p->rules[i];
	return NULL;
}

static size_t count(const struct hbx_sc_profile *p, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nrules; i++)
		n += !strcmp(p->rules[i].name, name);
	return n;
}

TEST(parse_splits_entries_into_one_rule_per_syscall)
{
	struct hbx_sc_profile p;
	const struct hbx_sc_rule *r;
	char err[HBX_SC_ERR_MAX] = "";

	ASSERT_EQ(0, parse(two_arch_profile, &p, err)) TH_LOG("%s", err);
	EXPECT_EQ(SCMP_ACT_ERRNO(EPERM), p.default_action);
	ASSERT_EQ(2, p.narches);
	/* Canonical order: x86_64 first, as Docker lists them. */
	EXPECT_EQ(SCMP_ARCH_X86_64, p.arches[0]);
	EXPECT_EQ(SCMP_ARCH_X86, p.arches[1]);
	EXPECT_EQ(6, p.nrules);
	r = find(&p, "read", 0);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(SCMP_ACT_ALLOW, r->action);
	EXPECT_EQ(0, r->nargs);
	r = find(&p, "clone", 0);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(1, r->nargs);
	EXPECT_EQ(SCMP_CMP_MASKED_EQ, r->args[0].op);
	EXPECT_EQ(0x7E020000, r->args[0].value);
	EXPECT_EQ(0, r->args[0].value_two);
	r = find(&p, "clone3", 0);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(SCMP_ACT_ERRNO(ENOSYS), r->action);
	hbx_sc_profile_free(&p);
}

TEST(parse_defaults_errno_to_eperm_and_keeps_defaultErrnoRet)
{
	struct hbx_sc_profile p;
	char err[HBX_SC_ERR_MAX];

	ASSERT_EQ(0, parse("{\"defaultAction\":\"SCMP_ACT_ERRNO\"}", &p, err));
	EXPECT_EQ(SCMP_ACT_ERRNO(EPERM), p.default_action);
	EXPECT_EQ(0, p.nrules);
	EXPECT_EQ(0, p.narches);
	hbx_sc_profile_free(&p);
	ASSERT_EQ(0, parse("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38}",
			   &p, err));
	EXPECT_EQ(SCMP_ACT_ERRNO(ENOSYS), p.default_action);
	hbx_sc_profile_free(&p);
	ASSERT_EQ(0, parse("{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\"}", &p, err));
	EXPECT_EQ(SCMP_ACT_KILL_PROCESS, p.default_action);
	hbx_sc_profile_free(&p);
}

/* Each bad profile and a piece of the message it must get. */
static const struct {
	const char *json, *message;
} bad[] = {
	{ "", "ends early" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\"", "ends early" },
	{ "{\"defaultAction\": SCMP_ACT_ERRNO}", "malformed JSON at byte" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\"} {}", "text after the profile" },
	{ "[]", "a profile is a JSON object" },
	{ "{}", "no \"defaultAction\"" },
	{ "{\"defaultAction\": \"SCMP_ACT_NOPE\"}", "unknown action 'SCMP_ACT_NOPE'" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 5000}",
	  "at most 4095" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_VAX\"]}",
	  "unknown architecture 'SCMP_ARCH_VAX'" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\", \"no_such_call\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
	  "unknown syscall 'no_such_call' in syscalls[0]" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"]}]}",
	  "syscalls[0] has no \"action\"" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_ABOUT\"}]}]}",
	  "unknown operator 'SCMP_CMP_ABOUT'" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
	  "index is 6, at most 5" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": \"1\", \"op\": \"SCMP_CMP_EQ\"}]}]}",
	  "value must be an integer" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}}]}",
	  "Docker-specific" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}, {\"names\": [\"read\"], \"action\": \"SCMP_ACT_KILL\"}]}",
	  "different actions" },
	{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultAcion\": 1}",
	  "unknown key 'defaultAcion'" },
};

TEST(parse_rejects_bad_profiles_with_a_sentence)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hbx_sc_profile p;
		char err[HBX_SC_ERR_MAX] = "";

		EXPECT_EQ(-1, parse(bad[i].json, &p, err)) TH_LOG("%s", bad[i].json);
		EXPECT_NE(NULL, strstr(err, bad[i].message))
			TH_LOG("'%s' gave '%s', want '%s'", bad[i].json, err,
			       bad[i].message);
		/* Nothing half-built is left behind. */
		EXPECT_EQ(0, p.nrules);
		EXPECT_EQ(NULL, p.rules);
	}
}

TEST(parse_takes_dockers_archmap_entry_for_this_machine)
{
	static const char json[] =
		"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"archMap\": ["
		" {\"architecture\": \"SCMP_ARCH_AARCH64\", \"subArchitectures\": [\"SCMP_ARCH_ARM\"]},"
		" {\"architecture\": \"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]}],"
		" \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"comment\": \"\", \"includes\": {}, \"excludes\": {}}]}";
	struct hbx_sc_profile p;
	char err[HBX_SC_ERR_MAX];

	if (seccomp_arch_native() != SCMP_ARCH_X86_64)
		SKIP(return, "not an x86-64 machine");
	ASSERT_EQ(0, parse(json, &p, err)) TH_LOG("%s", err);
	ASSERT_EQ(3, p.narches);
	EXPECT_EQ(SCMP_ARCH_X86_64, p.arches[0]);
	EXPECT_EQ(SCMP_ARCH_X86, p.arches[1]);
	EXPECT_EQ(SCMP_ARCH_X32, p.arches[2]);
	hbx_sc_profile_free(&p);
}

TEST(json_is_canonical_whatever_the_input_order)
{
	static const char shuffled[] =
		"{ \"syscalls\": ["
		"    { \"names\": [ \"clone3\" ], \"errnoRet\": 38, \"action\": \"SCMP_ACT_ERRNO\" },"
		"    { \"action\": \"SCMP_ACT_ALLOW\", \"names\": [ \"clone\" ],"
		"      \"args\": [ { \"op\": \"SCMP_CMP_MASKED_EQ\", \"index\": 0, \"value\": 2114060288 } ] },"
		"    { \"names\": [ \"exit_group\", \"write\" ], \"action\": \"SCMP_ACT_ALLOW\" },"
		"    { \"names\": [ \"socket\" ], \"action\": \"SCMP_ACT_ALLOW\","
		"      \"args\": [ { \"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\" } ] },"
		"    { \"names\": [ \"read\", \"write\" ], \"action\": \"SCMP_ACT_ALLOW\" }"
		"  ], \"architectures\": [ \"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\" ],"
		"  \"defaultAction\": \"SCMP_ACT_ERRNO\" }";
	struct hbx_sc_profile a, b, again;
	char err[HBX_SC_ERR_MAX], *ja, *jb, *jagain;

	ASSERT_EQ(0, parse(two_arch_profile, &a, err));
	ASSERT_EQ(0, parse(shuffled, &b, err)) TH_LOG("%s", err);
	ja = hbx_sc_profile_to_json(&a);
	jb = hbx_sc_profile_to_json(&b);
	ASSERT_NE(NULL, ja);
	ASSERT_NE(NULL, jb);
	EXPECT_STREQ(ja, jb);
	/* Reading it back gives the same bytes again. */
	ASSERT_EQ(0, parse(ja, &again, err)) TH_LOG("%s", err);
	jagain = hbx_sc_profile_to_json(&again);
	EXPECT_STREQ(ja, jagain);
	/* Unconditional names come first, sorted, then the argument rules. */
	EXPECT_NE(NULL, strstr(ja, "\"names\": [\n        \"exit_group\",\n        \"read\",\n        \"write\"\n      ],\n      \"action\": \"SCMP_ACT_ALLOW\""));
	EXPECT_LT(strstr(ja, "\"exit_group\""), strstr(ja, "\"clone3\""));
	EXPECT_LT(strstr(ja, "\"clone3\""), strstr(ja, "\"clone\""));
	EXPECT_LT(strstr(ja, "\"clone\""), strstr(ja, "\"socket\""));
	EXPECT_NE(NULL, strstr(ja, "\"errnoRet\": 38"));
	EXPECT_NE(NULL, strstr(ja, "\"defaultErrnoRet\": 1"));
	EXPECT_EQ('\n', ja[strlen(ja) - 1]);
	free(ja);
	free(jb);
	free(jagain);
	hbx_sc_profile_free(&a);
	hbx_sc_profile_free(&b);
	hbx_sc_profile_free(&again);
}

static size_t files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

TEST(save_replaces_the_file_whole_or_not_at_all)
{
	char dir[] = "/tmp/hbx-seccomp-unit.XXXXXX", path[128], bad_path[160];
	char err[HBX_SC_ERR_MAX + 512];
	struct hbx_sc_profile p, back;

	ASSERT_NE(NULL, mkdtemp(dir));
	ASSERT_EQ(0, parse(two_arch_profile, &p, err));
	snprintf(path, sizeof(path), "%s/p.json", dir);
	ASSERT_EQ(0, hbx_sc_profile_save(path, &p, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(1, files_in(dir));	/* no temporary file left */
	ASSERT_EQ(0, hbx_sc_profile_load(path, &back, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(p.nrules, back.nrules);
	hbx_sc_profile_free(&back);
	/* A directory that does not exist: an error, and no file anywhere. */
	snprintf(bad_path, sizeof(bad_path), "%s/missing/p.json", dir);
	EXPECT_EQ(-1, hbx_sc_profile_save(bad_path, &p, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "cannot create"));
	EXPECT_EQ(1, files_in(dir));
	unlink(path);
	rmdir(dir);
	hbx_sc_profile_free(&p);
}

static void parse_or_die(struct __test_metadata *_metadata, const char *json,
			 struct hbx_sc_profile *p)
{
	char err[HBX_SC_ERR_MAX] = "";

	ASSERT_EQ(0, parse(json, p, err)) TH_LOG("%s", err);
}

#define PROFILE(archs, calls) \
	"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [" archs "], \"syscalls\": [" calls "]}"
#define ALLOW(...) "{\"names\": [" __VA_ARGS__ "], \"action\": \"SCMP_ACT_ALLOW\"}"
#define SOCKET_EQ(n) \
	"{\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": " #n ", \"op\": \"SCMP_CMP_EQ\"}]}"

TEST(merge_is_the_union_of_syscalls_rules_and_architectures)
{
	struct hbx_sc_profile a, b, m;
	char err[HBX_SC_ERR_MAX];

	parse_or_die(_metadata, PROFILE("\"SCMP_ARCH_X86_64\"",
		ALLOW("\"read\", \"write\"") "," SOCKET_EQ(1)), &a);
	parse_or_die(_metadata, PROFILE("\"SCMP_ARCH_X86\"",
		ALLOW("\"read\", \"openat\"") "," SOCKET_EQ(1) "," SOCKET_EQ(10)), &b);
	ASSERT_EQ(0, hbx_sc_profile_merge(&a, &b, &m, err, sizeof(err)));
	EXPECT_EQ(2, m.narches);
	EXPECT_EQ(5, m.nrules);
	EXPECT_EQ(1, count(&m, "read"));
	EXPECT_EQ(1, count(&m, "write"));
	EXPECT_EQ(1, count(&m, "openat"));
	EXPECT_EQ(2, count(&m, "socket"));
	EXPECT_EQ(1, find(&m, "socket", 0)->args[0].value);
	EXPECT_EQ(10, find(&m, "socket", 1)->args[0].value);
	EXPECT_EQ(SCMP_ACT_ERRNO(EPERM), m.default_action);
	hbx_sc_profile_free(&a);
	hbx_sc_profile_free(&b);
	hbx_sc_profile_free(&m);
}

TEST(merge_lets_an_unconditional_allow_absorb_argument_rules)
{
	struct hbx_sc_profile a, b, m;
	char err[HBX_SC_ERR_MAX];

	parse_or_die(_metadata, PROFILE("", SOCKET_EQ(1) "," SOCKET_EQ(2)), &a);
	parse_or_die(_metadata, PROFILE("", ALLOW("\"socket\"")), &b);
	ASSERT_EQ(0, hbx_sc_profile_merge(&a, &b, &m, err, sizeof(err)));
	ASSERT_EQ(1, m.nrules);
	EXPECT_STREQ("socket", m.rules[0].name);
	EXPECT_EQ(0, m.rules[0].nargs);
	hbx_sc_profile_free(&a);
	hbx_sc_profile_free(&b);
	hbx_sc_profile_free(&m);
}

TEST(merge_keeps_the_more_permissive_action)
{
	struct hbx_sc_profile a, b, m;
	char err[HBX_SC_ERR_MAX];

	parse_or_die(_metadata,
		"{\"defaultAction\": \"SCMP_ACT_KILL_PROCESS\", \"syscalls\": ["
		"{\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38}]}", &a);
	parse_or_die(_metadata, PROFILE("", ALLOW("\"clone3\"")), &b);
	ASSERT_EQ(0, hbx_sc_profile_merge(&a, &b, &m, err, sizeof(err)));
	EXPECT_EQ(SCMP_ACT_ERRNO(EPERM), m.default_action);
	ASSERT_EQ(1, m.nrules);
	EXPECT_EQ(SCMP_ACT_ALLOW, m.rules[0].action);
	hbx_sc_profile_free(&a);
	hbx_sc_profile_free(&b);
	hbx_sc_profile_free(&m);
}

TEST(diff_lists_what_each_side_has_alone)
{
	struct hbx_sc_profile a, b;
	struct hbx_sc_diff d;

	parse_or_die(_metadata, PROFILE("\"SCMP_ARCH_X86_64\"",
		ALLOW("\"read\", \"write\", \"unshare\"") "," SOCKET_EQ(1)), &a);
	parse_or_die(_metadata, PROFILE("\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"",
		ALLOW("\"read\", \"write\", \"ptrace\"") "," SOCKET_EQ(2)), &b);
	ASSERT_EQ(0, hbx_sc_profile_diff(&a, &b, &d));
	ASSERT_EQ(2, d.nremoved);
	EXPECT_STREQ("socket arg0 == 1", d.removed[0]);
	EXPECT_STREQ("unshare", d.removed[1]);
	ASSERT_EQ(3, d.nadded);
	EXPECT_STREQ("architecture SCMP_ARCH_X86", d.added[0]);
	EXPECT_STREQ("ptrace", d.added[1]);
	EXPECT_STREQ("socket arg0 == 2", d.added[2]);
	hbx_sc_diff_free(&d);

	ASSERT_EQ(0, hbx_sc_profile_diff(&a, &a, &d));
	EXPECT_EQ(0, d.nremoved);
	EXPECT_EQ(0, d.nadded);
	hbx_sc_diff_free(&d);
	hbx_sc_profile_free(&a);
	hbx_sc_profile_free(&b);
}

TEST(rule_format_reads_like_the_condition)
{
	struct hbx_sc_profile p;
	char err[HBX_SC_ERR_MAX], line[256];

	ASSERT_EQ(0, parse(two_arch_profile, &p, err));
	hbx_sc_rule_format(find(&p, "clone", 0), line, sizeof(line));
	EXPECT_STREQ("clone arg0 & 0x7e020000 == 0", line);
	hbx_sc_rule_format(find(&p, "clone3", 0), line, sizeof(line));
	EXPECT_STREQ("clone3 SCMP_ACT_ERRNO(38)", line);
	hbx_sc_profile_free(&p);
}

TEST(docker_default_has_309_sorted_distinct_x86_64_syscalls)
{
	const char *const *v = hbx_docker_default_names();

	ASSERT_EQ(309, hbx_docker_default_count);
	for (size_t i = 1; i < hbx_docker_default_count; i++) {
		EXPECT_LT(0, strcmp(v[i], v[i - 1])) TH_LOG("%s", v[i]);
	}
	EXPECT_TRUE(hbx_docker_default_allows("read"));
	EXPECT_TRUE(hbx_docker_default_allows("clone"));
	EXPECT_TRUE(hbx_docker_default_allows("ptrace"));	/* minKernel 4.8 */
	EXPECT_TRUE(hbx_docker_default_allows("chroot"));	/* CAP_SYS_CHROOT */
	EXPECT_FALSE(hbx_docker_default_allows("unshare"));	/* CAP_SYS_ADMIN */
	EXPECT_FALSE(hbx_docker_default_allows("clone3"));	/* ENOSYS */
	EXPECT_FALSE(hbx_docker_default_allows("socketcall"));	/* i386 only */
	EXPECT_FALSE(hbx_docker_default_allows("io_uring_setup"));
}

TEST(allowed_counts_a_syscall_once_and_only_on_the_asked_arch)
{
	struct hbx_sc_profile p;
	const char **names;

	parse_or_die(_metadata, PROFILE("",
		ALLOW("\"read\", \"socketcall\"") "," SOCKET_EQ(1) "," SOCKET_EQ(2)
		", {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\"}"), &p);
	EXPECT_EQ(2, hbx_sc_profile_allowed(&p, SCMP_ARCH_X86_64, &names));
	EXPECT_STREQ("read", names[0]);
	EXPECT_STREQ("socket", names[1]);
	free(names);
	EXPECT_EQ(3, hbx_sc_profile_allowed(&p, 0, &names));
	free(names);
	hbx_sc_profile_free(&p);
}

static struct hbx_sc_trace *trace_new(uint32_t abi_mask)
{
	struct hbx_sc_trace *t = calloc(1, sizeof(*t));

	if (t) {
		t->abi_mask = abi_mask;
		t->args = calloc(16, sizeof(*t->args));
	}
	return t;
}

static void saw_arg(struct hbx_sc_trace *t, uint32_t kind, uint32_t abi,
		    uint64_t value)
{
	t->args[t->nargs++] = (struct hbx_sc_argval){ kind, abi, value, 1 };
}

TEST(learned_clone_gets_dockers_rule_when_no_namespace_was_made)
{
	struct hbx_sc_trace *t = trace_new(1u << HBX_SC_ABI_X86_64);
	struct hbx_sc_profile p;
	const struct hbx_sc_rule *r;
	char err[HBX_SC_ERR_MAX];

	ASSERT_NE(NULL, t);
	t->counts[HBX_SC_ABI_X86_64][0] = 3;	/* read */
	t->counts[HBX_SC_ABI_X86_64][56] = 1;	/* clone */
	t->counts[HBX_SC_ABI_X86_64][41] = 2;	/* socket */
	t->counts[HBX_SC_ABI_X86_64][135] = 1;	/* personality */
	saw_arg(t, HBX_SC_ARG_CLONE_NS, HBX_SC_ABI_X86_64, 0);
	saw_arg(t, HBX_SC_ARG_SOCKET_FAMILY, HBX_SC_ABI_X86_64, 1);
	saw_arg(t, HBX_SC_ARG_SOCKET_FAMILY, HBX_SC_ABI_X86_64, 10);
	saw_arg(t, HBX_SC_ARG_PERSONALITY, HBX_SC_ABI_X86_64, 0xffffffff);
	ASSERT_EQ(0, hbx_sc_trace_to_profile(t, &p, NULL, NULL, err, sizeof(err)));
	EXPECT_EQ(SCMP_ACT_ERRNO(EPERM), p.default_action);
	ASSERT_EQ(1, p.narches);
	EXPECT_EQ(SCMP_ARCH_X86_64, p.arches[0]);
	EXPECT_EQ(5, p.nrules);
	r = find(&p, "clone", 0);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(1, r->nargs);
	EXPECT_EQ(SCMP_CMP_MASKED_EQ, r->args[0].op);
	EXPECT_EQ(2114060288, r->args[0].value);
	EXPECT_EQ(0, r->args[0].value_two);
	EXPECT_EQ(2, count(&p, "socket"));
	EXPECT_EQ(1, find(&p, "socket", 0)->args[0].value);
	EXPECT_EQ(10, find(&p, "socket", 1)->args[0].value);
	EXPECT_EQ(0xffffffff, find(&p, "personality", 0)->args[0].value);
	EXPECT_EQ(SCMP_CMP_EQ, find(&p, "personality", 0)->args[0].op);
	hbx_sc_profile_free(&p);
	free(t->args);
	free(t);
}

TEST(learned_clone3_gets_enosys_and_its_namespaces_go_to_clone)
{
	struct hbx_sc_trace *t = trace_new(1u << HBX_SC_ABI_X86_64);
	struct hbx_sc_profile p;
	char err[HBX_SC_ERR_MAX];

	ASSERT_NE(NULL, t);
	t->counts[HBX_SC_ABI_X86_64][435] = 1;	/* clone3 */
	t->counts[HBX_SC_ABI_X86_64][56] = 1;	/* clone */
	saw_arg(t, HBX_SC_ARG_CLONE3_NS, HBX_SC_ABI_X86_64, 0x04000000);
	saw_arg(t, HBX_SC_ARG_CLONE_NS, HBX_SC_ABI_X86_64, 0);
	ASSERT_EQ(0, hbx_sc_trace_to_profile(t, &p, NULL, NULL, err, sizeof(err)));
	EXPECT_EQ(SCMP_ACT_ERRNO(ENOSYS), find(&p, "clone3", 0)->action);
	ASSERT_EQ(2, count(&p, "clone"));
	EXPECT_EQ(0, find(&p, "clone", 0)->args[0].value_two);
	EXPECT_EQ(0x04000000, find(&p, "clone", 1)->args[0].value_two);
	hbx_sc_profile_free(&p);
	free(t->args);
	free(t);
}

TEST(learned_unshare_and_setns_get_masked_namespace_rules)
{
	struct hbx_sc_trace *t = trace_new(HBX_SC_ABI_MASK_ALL);
	struct hbx_sc_profile p;
	const struct hbx_sc_rule *r;
	char err[HBX_SC_ERR_MAX];

	ASSERT_NE(NULL, t);
	t->counts[HBX_SC_ABI_X86_64][272] = 1;	/* unshare */
	t->counts[HBX_SC_ABI_X86_64][308] = 1;	/* setns */
	t->counts[HBX_SC_ABI_IA32][310] = 1;	/* unshare on i386 */
	/* unshare(CLONE_FS) makes no namespace; setns(fd, CLONE_NEWNET). */
	saw_arg(t, HBX_SC_ARG_UNSHARE_NS, HBX_SC_ABI_X86_64, 0);
	saw_arg(t, HBX_SC_ARG_UNSHARE_NS, HBX_SC_ABI_IA32, 0);
	saw_arg(t, HBX_SC_ARG_SETNS_NS, HBX_SC_ABI_X86_64, 0x40000000);
	ASSERT_EQ(0, hbx_sc_trace_to_profile(t, &p, NULL, NULL, err, sizeof(err)));
	ASSERT_EQ(1, count(&p, "unshare"));
	r = find(&p, "unshare", 0);
	ASSERT_EQ(1, r->nargs);
	EXPECT_EQ(0, r->args[0].index);
	EXPECT_EQ(SCMP_CMP_MASKED_EQ, r->args[0].op);
	EXPECT_EQ(HBX_SC_NS_MASK, r->args[0].value);
	EXPECT_EQ(0, r->args[0].value_two);
	ASSERT_EQ(1, count(&p, "setns"));
	r = find(&p, "setns", 0);
	ASSERT_EQ(1, r->nargs);
	EXPECT_EQ(1, r->args[0].index);	/* nstype */
	EXPECT_EQ(SCMP_CMP_MASKED_EQ, r->args[0].op);
	EXPECT_EQ(HBX_SC_NS_MASK, r->args[0].value);
	EXPECT_EQ(0x40000000, r->args[0].value_two);
	hbx_sc_profile_free(&p);
	free(t->args);
	free(t);
}

TEST(learned_unshare_without_argument_values_is_allowed_only_with_a_warning)
{
	struct hbx_sc_trace *t = trace_new(1u << HBX_SC_ABI_X86_64);
	struct hbx_sc_profile p;
	char err[HBX_SC_ERR_MAX];

	ASSERT_NE(NULL, t);
	t->counts[HBX_SC_ABI_X86_64][272] = 1;	/* unshare */
	t->args_dropped = 1;
	ASSERT_EQ(0, hbx_sc_trace_to_profile(t, &p, NULL, NULL, err, sizeof(err)));
	ASSERT_EQ(1, count(&p, "unshare"));
	EXPECT_EQ(0, find(&p, "unshare", 0)->nargs);
	hbx_sc_profile_free(&p);
	free(t->args);
	free(t);
}

static int warnings;
static void count_warning(const char *msg, void *arg)
{
	warnings++;
}

TEST(learned_syscalls_are_named_per_abi)
{
	struct hbx_sc_trace *t = trace_new(HBX_SC_ABI_MASK_ALL);
	struct hbx_sc_profile p;
	char err[HBX_SC_ERR_MAX];

	ASSERT_NE(NULL, t);
	t->counts[HBX_SC_ABI_X86_64][39] = 1;	/* getpid on x86_64 */
	t->counts[HBX_SC_ABI_IA32][20] = 1;	/* getpid on i386, writev on x86_64 */
	t->counts[HBX_SC_ABI_IA32][102] = 1;	/* socketcall, i386 only */
	t->counts[HBX_SC_ABI_X32][60] = 1;	/* exit */
	t->counts[HBX_SC_ABI_X32][1000] = 1;	/* nothing */
	warnings = 0;
	ASSERT_EQ(0, hbx_sc_trace_to_profile(t, &p, count_warning, NULL, err,
					     sizeof(err)));
	EXPECT_EQ(1, warnings);	/* the unnamed number, not silently */
	ASSERT_EQ(3, p.narches);
	EXPECT_EQ(3, p.nrules);
	EXPECT_NE(NULL, find(&p, "getpid", 0));
	EXPECT_NE(NULL, find(&p, "socketcall", 0));
	EXPECT_NE(NULL, find(&p, "exit", 0));
	EXPECT_EQ(NULL, find(&p, "writev", 0));
	hbx_sc_profile_free(&p);

	/* --arch native: what 32-bit tasks did is not in the profile. */
	t->abi_mask = 1u << HBX_SC_ABI_X86_64;
	ASSERT_EQ(0, hbx_sc_trace_to_profile(t, &p, NULL, NULL, err, sizeof(err)));
	EXPECT_EQ(1, p.narches);
	EXPECT_EQ(1, p.nrules);
	EXPECT_NE(NULL, find(&p, "getpid", 0));
	hbx_sc_profile_free(&p);
	free(t->args);
	free(t);
}

/*
 * The x86_64 part of libseccomp's pseudo filter code: the syscalls whose
 * block ends in "action ALLOW", and the default action's line.
 */
static size_t pfc_allowed(const char *pfc, char names[][HBX_SC_NAME_MAX],
			  size_t max, char *def)
{
	const char *s = strstr(pfc, "# filter for arch x86_64"), *end;
	char cur[HBX_SC_NAME_MAX] = "";
	size_t n = 0;

	if (!s)
		return 0;
	end = strstr(s + 1, "# filter for arch");
	if (!end)
		end = s + strlen(s);
	while (s && s < end) {
		const char *nl = strchr(s, '\n');
		unsigned long long nr;
		char name[HBX_SC_NAME_MAX];

		if (sscanf(s, " # filter for syscall \"%63[^\"]\" (%llu)", name, &nr) == 2)
			/* Pseudo numbers: names libseccomp knows but x86_64 lacks. */
			snprintf(cur, sizeof(cur), "%s", nr < 0x80000000ULL ? name : "");
		else if (!strncmp(s + strspn(s, " "), "action ALLOW;", 13)) {
			if (*cur && n < max && (!n || strcmp(names[n - 1], cur)))
				snprintf(names[n++], HBX_SC_NAME_MAX, "%s", cur);
		} else if (!strncmp(s, "  # default action", 18) && nl) {
			sscanf(nl + 1, " action %63[^;]", def);
			cur[0] = '\0';
		}
		s = nl ? nl + 1 : NULL;
	}
	return n;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* libseccomp's pseudo filter code for the profile, NUL-terminated. */
static int export_pfc(const struct hbx_sc_profile *p, bool complain,
		      char *buf, size_t len)
{
	char err[HBX_SC_ERR_MAX];
	scmp_filter_ctx ctx = hbx_sc_filter_build(p, complain, err, sizeof(err));
	size_t total = 0;
	ssize_t got;
	int fds[2];

	if (!ctx || pipe(fds))
		return -1;
	if (seccomp_export_pfc(ctx, fds[1]))
		return -1;
	close(fds[1]);
	while ((got = read(fds[0], buf + total, len - 1 - total)) > 0)
		total += got;
	close(fds[0]);
	buf[total] = '\0';
	seccomp_release(ctx);
	return 0;
}

TEST(profile_round_trips_through_libseccomp)
{
	static char pfc[1 << 16];
	struct hbx_sc_profile p, back;
	char err[HBX_SC_ERR_MAX], *json, def[64] = "";
	char names[16][HBX_SC_NAME_MAX];
	const char **allowed;
	size_t n, nallowed;

	/* Profile -> JSON -> profile -> libseccomp filter -> what it allows. */
	ASSERT_EQ(0, parse(two_arch_profile, &p, err));
	json = hbx_sc_profile_to_json(&p);
	ASSERT_EQ(0, parse(json, &back, err)) TH_LOG("%s", err);
	ASSERT_EQ(0, export_pfc(&back, false, pfc, sizeof(pfc)));
	n = pfc_allowed(pfc, names, 16, def);
	qsort(names, n, sizeof(names[0]), name_cmp);
	nallowed = hbx_sc_profile_allowed(&back, SCMP_ARCH_X86_64, &allowed);
	ASSERT_EQ(nallowed, n) TH_LOG("%s", pfc);
	for (size_t i = 0; i < n; i++)
		EXPECT_STREQ(allowed[i], names[i]);
	EXPECT_STREQ("ERRNO(1)", def);
	/* The argument rules made it into the filter as comparisons. */
	EXPECT_NE(NULL, strstr(pfc, "if ($a0.lo32 & 0x7e020000 == 0)"));
	EXPECT_NE(NULL, strstr(pfc, "if ($a0.lo32 == 1)"));
	EXPECT_NE(NULL, strstr(pfc, "# filter for arch x86 "));
	free(allowed);
	free(json);
	hbx_sc_profile_free(&p);
	hbx_sc_profile_free(&back);
}

TEST(complain_mode_logs_instead_of_denying)
{
	static char pfc[1 << 16];
	struct hbx_sc_profile p;
	char err[HBX_SC_ERR_MAX], def[64] = "";
	char names[16][HBX_SC_NAME_MAX];

	ASSERT_EQ(0, parse(two_arch_profile, &p, err));
	ASSERT_EQ(0, export_pfc(&p, true, pfc, sizeof(pfc)));
	pfc_allowed(pfc, names, 16, def);
	EXPECT_STREQ("LOG", def);
	/* The profile's own denials stay: clone3 still gets ENOSYS. */
	EXPECT_NE(NULL, strstr(pfc, "action ERRNO(38);"));
	hbx_sc_profile_free(&p);
}

TEST(filter_build_names_an_unknown_syscall)
{
	struct hbx_sc_profile p;
	struct hbx_sc_rule r = { .name = "no_such_call", .action = SCMP_ACT_ALLOW };
	char err[HBX_SC_ERR_MAX] = "";

	hbx_sc_profile_init(&p);
	ASSERT_EQ(0, hbx_sc_profile_add(&p, &r, err, sizeof(err)));
	EXPECT_EQ(NULL, hbx_sc_filter_build(&p, false, err, sizeof(err)));
	EXPECT_STREQ("unknown syscall 'no_such_call'", err);
	hbx_sc_profile_free(&p);
}

TEST_HARNESS_MAIN
