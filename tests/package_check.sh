#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host checks of what HyperBox ships (issue 15): the man pages render
# without warnings and cover every command and option of hbx's own tables
# and getopt lists (and nothing else); every command answers --help; the
# bash completion completes commands, options, files and live objects; make
# install lays out a tree whose systemd units pass systemd-analyze verify;
# the units' wrapper turns configs into the right hbx command lines; make
# deb builds both packages and lintian finds no error.  Prints TAP.
#   usage: tests/package_check.sh [--no-deb]
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD
hbx=$top/tools/hbx/hbx
work=$(mktemp -d /tmp/hbx-pkg.XXXXXX)
trap 'rm -rf "$work"' EXIT

n=0 failed=0
tap() {	# tap STATUS NAME
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; failed=$((failed + 1)); fi
}
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
echo "TAP version 13"

[ -x "$hbx" ] || make -s tools > "$work/make.log" 2>&1
[ -x "$hbx" ]
tap $? "package.hbx_is_built"

# --- man pages render cleanly
for p in man/*.8; do
	out=$( { groff -ww -man -z "$p"; MANWIDTH=80 man --warnings -l "$p" > /dev/null; } 2>&1)
	[ -z "$out" ] || echo "$out" | sed 's/^/# /'
	[ -z "$out" ]
	tap $? "man.$(basename "$p").renders_without_warnings"
	grep -q '^\.SH EXAMPLES' "$p"
	tap $? "man.$(basename "$p").has_examples"
done

# The command tree and option lists, from hbx's sources: its subcommand
# tables (hbx.c and each group's), the getopt option arrays and optstrings
# of each file, each file's options belonging to the page of the commands
# whose functions it defines.
/usr/bin/python3 - "$top" > "$work/tree" <<'PY'
import glob, os, re, sys
top = sys.argv[1]
src = {f: open(f).read() for f in glob.glob(f"{top}/tools/hbx/*.c")}
tables, funcs, groups = {}, {}, {}
for f, s in src.items():
    for m in re.finditer(r"struct hbx_subcommand (\w+)\[\] = \{(.*?)\n\};", s, re.S):
        tables[m.group(1)] = re.findall(r'\{\s*"([a-z0-9-]+)",\s*(\w+),', m.group(2))
    for m in re.finditer(r"^(?:static )?int (\w+)\(int argc, char \*\*argv\)\n\{", s, re.M):
        funcs[m.group(1)] = f
    for m in re.finditer(r"^(?:static )?int (\w+)\(int argc, char \*\*argv\)\n\{(.*?)\n\}", s, re.M | re.S):
        d = re.search(r'hbx_dispatch\((\w+),\s*"([a-z0-9-]+)"', m.group(2))
        if d:
            groups[m.group(1)] = (d.group(2), d.group(1))
mans = {os.path.basename(p) for p in glob.glob(f"{top}/man/*.8")}
def page(cmd):
    return f"hbx-{cmd}.8" if f"hbx-{cmd}.8" in mans else "hbx.8"
pages_of = {}
def leaf(path, fn):
    print("path", page(path[0]), " ".join(path))
    if fn in funcs:
        pages_of.setdefault(funcs[fn], set()).add(page(path[0]))
for name, fn in tables["subcommands"]:
    if fn in groups:
        g, t = groups[fn]
        print("group", page(name), name)
        for sub, sfn in tables[t]:
            leaf([name, sub], sfn)
    else:
        leaf([name], fn)
opts = {}
for f, s in src.items():
    longs = set(re.findall(r'\{\s*"([a-z0-9-]+)",\s*(?:required|no|optional)_argument', s))
    shorts = set()
    for m in re.finditer(r"getopt(?:_long)?\(\s*argc,\s*argv,(.*?)!= -1", s, re.S):
        for lit in re.findall(r'"([^"]*)"', m.group(1)):
            shorts |= {c for c in lit if c.isalnum()}
    for p in pages_of.get(f, ()):
        opts.setdefault(p, set()).update({"--" + o for o in longs} | {"-" + c for c in shorts})
for p in sorted(mans | set(opts)):
    print("opts", p, " ".join(sorted(opts.get(p, ()))))
PY
tap $? "man.command_tree_derived_from_the_sources"
sed 's/^/# /' "$work/tree" | head -80

/usr/bin/python3 - "$top" "$work/tree" > "$work/man.out" <<'PY'
import os, re, sys
top, tree = sys.argv[1], sys.argv[2]
paths, groups, srcopts = {}, {}, {}
for line in open(tree):
    kind, page, *rest = line.split()
    if kind == "path":
        paths[" ".join(rest)] = page
    elif kind == "group":
        groups[rest[0]] = page
    else:
        srcopts[page] = set(rest)
def plain(s):
    s = re.sub(r"\\f[BIRP]|\\f\(..|\\c|\\&", "", s).replace("\\-", "-").replace("\\e", "\\")
    return re.sub(r'^\.[A-Z]{1,2} ?', "", s).replace('"', "")
heads, docopts = {}, {}
for p in os.listdir(f"{top}/man"):
    if not p.endswith(".8"):
        continue
    lines = open(f"{top}/man/{p}").read().splitlines()
    docopts[p] = set()
    for i, l in enumerate(lines):
        if l.startswith(".SS hbx "):
            words = []
            for w in plain(l).split()[1:]:
                if not re.fullmatch(r"[a-z][a-z0-9-]*", w):
                    break
                words.append(w)
            heads.setdefault(" ".join(words), set()).add(p)
        if i and lines[i - 1] in (".TP", ".TQ"):
            t = plain(l)
            docopts[p] |= set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*|-[A-Za-z0-9])(?![\w-])", t))
bad = []
for path, page in paths.items():
    if page not in heads.get(path, ()):
        bad.append(f"missing: 'hbx {path}' has no .SS section in {page}")
for g, page in groups.items():
    if page != "hbx.8" and "hbx.8" not in heads.get(g, ()):
        bad.append(f"missing: hbx.8 does not point to 'hbx {g}' ({page})")
def known(h):
    # A command, a group, or a command's mode ("trace events": a leaf
    # command that takes a word of its own).
    w = h.split()
    return h in groups or any(" ".join(w[:k]) in paths for k in range(1, len(w) + 1))
for h, ps in heads.items():
    if not known(h):
        bad.append(f"stale: .SS 'hbx {h}' in {sorted(ps)} is no command of hbx")
print("sections", "ok" if not bad else "bad")
for b in bad:
    print("#", b)
for p in sorted(set(srcopts) | set(docopts)):
    s, d = srcopts.get(p, set()), docopts.get(p, set()) - {"-h", "--help"}
    for o in sorted(s - d):
        print("#", f"missing: {o} (in the getopt lists of {p}'s commands) is not documented in {p}")
    for o in sorted(d - s):
        print("#", f"stale: {o} is documented in {p} but no command of that page takes it")
    print("options", p, "ok" if s == d else "bad")
PY
grep '^#' "$work/man.out"
grep -q '^sections ok' "$work/man.out"
tap $? "man.every_command_has_its_section_and_every_section_a_command"
while read -r _ p verdict; do
	[ "$verdict" = ok ]
	tap $? "man.$p.documents_exactly_the_options_its_commands_take"
done < <(grep '^options ' "$work/man.out")
for need in hbx hbx-layer hbx-peer hbx-serve hbx-cert hbx-seccomp hbx-trace; do
	[ -e "man/$need.8" ]
	tap $? "man.$need.8_exists"
done
if grep -q '^group hbx-image.8 image$\|^group hbx.8 image$' "$work/tree"; then
	[ -e man/hbx-image.8 ]
	tap $? "man.hbx-image.8_exists_since_hbx_image_does"
fi

# --- every command answers --help and help CMD on stdout, exit 0
bad=
while read -r kind _ path; do
	[ "$kind" = path ] || continue
	# shellcheck disable=SC2086 # path is words
	want="usage: hbx $path"
	[ "$path" = help ] && want="usage: hbx "
	out=$("$hbx" $path --help 2>&1) && [[ $out == "$want"* ]] &&
		out=$("$hbx" help $path 2>&1) && [[ $out == "$want"* ]] ||
		bad="$bad [$path]"
done < "$work/tree"
[ -z "$bad" ] || echo "# --help failed for:$bad"
[ -z "$bad" ]
tap $? "cli.every_command_prints_its_usage_for_--help_and_help_CMD"
"$hbx" layer nosuch > /dev/null 2>&1
[ $? -eq 2 ]
tap $? "cli.unknown_command_exits_2"
"$hbx" cert issue --bogus > /dev/null 2> "$work/err"
rc=$?
[ $rc -eq 2 ] && grep -q "^hbx cert issue: unrecognized option '--bogus'" "$work/err"
tap $? "cli.getopt_errors_name_the_whole_command_and_exit_2"
"$hbx" help | grep -q "Exit status: 0 success, 1 failure, 2 bad usage"
tap $? "cli.help_documents_the_exit_statuses"

# --- bash completion, driven by calling its function with COMP_WORDS set
stub=$work/stub/hbx
mkdir -p "$work/stub" "$work/files/sub"
touch "$work/files/app.erofs" "$work/files/app.manifest"
cat > "$stub" <<EOF
#!/bin/sh
# A module with two layers and two peers, for the completion's live objects.
case "\$*" in
"layer list -j") echo '[{"index":0,"device":"hbx0","peers":[9],"pull":{"state":"none"}},{"index":7,"device":"hbx7"}]' ;;
"peer list -j") echo '[{"id":3,"name":"node1","role":"client"},{"id":12,"name":"node2","role":"server"}]' ;;
"cert list -j") echo '[{"serial":"ab","name":"node1","state":"valid"},{"serial":"cd","name":"node2","state":"revoked"}]' ;;
"image list -j") echo '[{"name":"alpine","digest":"sha256:11","layers":1},{"name":"debian","digest":"sha256:22","layers":2}]' ;;
*) exec "$hbx" "\$@" ;;
esac
EOF
chmod +x "$stub"
printf '#!/bin/sh\n' > "$work/stub/hbx-completion-test-cmd" && chmod +x "$work/stub/hbx-completion-test-cmd"
comp() {	# comp WORD...: the completions of the last word, sorted, one line
	(cd "$work/files" && PATH=$work/stub:$PATH bash -c '. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
		_hbx; [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}" | sort -u | tr "\n" " "' \
		_ "$top/completion/hbx.bash" "$stub" "$@")
}
expect() {	# expect NAME "WANTED" WORD...: the completions are exactly WANTED
	local name=$1 want=$2 got
	shift 2
	got=$(comp "$@")
	[ "$got" = "$want" ] || echo "# hbx $*<TAB>: got '$got', wanted '$want'"
	[ "$got" = "$want" ]
	tap $? "completion.$name"
}
bash -c ". completion/hbx.bash && complete -p hbx" | grep -q -- "-F _hbx hbx"
tap $? "completion.registers_its_function_for_hbx"
top_cmds=$(awk '$1 == "path" || $1 == "group" { print $3 }' "$work/tree" | sort -u)
got=$(comp "")
ok=0
for c in $top_cmds; do [[ " $got " == *" $c "* ]] || { echo "# top level misses $c"; ok=1; }; done
tap $ok "completion.every_top_level_command"
expect layer_subcommands "$( (awk '$1 == "path" && $3 == "layer" { print $4 }' "$work/tree"; echo -h; echo --help) | sort -u | tr '\n' ' ')" layer ""
expect help_command_words "add " help layer ad
expect option_values_cipher "aes128 aes256 chacha " serve --cipher ""
expect option_values_missing "fetch not-here " layer export 0 --missing ""
expect files_for_an_image "app.erofs app.manifest sub " layer add ""
expect erofs_files_for_rootfs_layer "app.erofs sub " rootfs mount --layer ""
expect dirs_for_a_mount_point "sub " layer mount app.erofs ""
expect live_layer_indices "0 7 " layer del ""
expect live_layer_indices_for_pull "0 7 " layer pull ""
expect live_peer_ids "12 3 " peer del ""
expect live_peer_ids_in_a_remote_list "3,12 3,3 " layer add --remote 3,
expect live_certificate_names "node1 node2 " cert revoke ""
expect no_second_layer_index "" layer del 0 ""
if grep -q '^path [^ ]* trace$' "$work/tree"; then
	expect trace_mode_and_options "events " trace ""
	expect trace_live_layer "0 7 " trace --layer ""
	expect trace_live_peer "12 3 " trace events --peer ""
fi
if grep -q '^path [^ ]* image ' "$work/tree"; then
	expect live_image_names "alpine debian " image bundle ""
	expect dirs_after_an_image "sub " image mount alpine ""
fi
expect command_after_double_dash "hbx-completion-test-cmd " seccomp learn -o p.json -- hbx-completion-test-cm
# Every command's options: all that its usage line shows, and none that its
# page's getopt lists lack.
bad=
while read -r kind page path; do
	[ "$kind" = path ] || continue
	# shellcheck disable=SC2086 # path is words
	usage=$("$hbx" $path --help 2>/dev/null | head -n1 | grep -oE -- '(^|[ [(|{])--?[a-z][a-z0-9-]*' | tr -d ' [(|{' | sort -u)
	# shellcheck disable=SC2086
	got=" $(comp $path -) "
	allowed=" $(awk -v p="$page" '$1 == "opts" && $2 == p { $1 = $2 = ""; print }' "$work/tree") -h --help "
	for o in $usage; do [[ $got == *" $o "* ]] || bad="$bad [$path: $o missing]"; done
	for o in $got; do [[ $allowed == *" $o "* ]] || bad="$bad [$path: $o is not an option]"; done
done < "$work/tree"
[ -z "$bad" ] || echo "# options:$bad"
[ -z "$bad" ]
tap $? "completion.every_command_completes_its_options_and_no_others"

# --- make install: the tree, and units that systemd accepts
root=$work/root
make -s install DESTDIR="$root" PREFIX=/usr SYSTEMDUNITDIR=/lib/systemd/system > "$work/install.log" 2>&1
tap $? "install.make_install_DESTDIR_PREFIX"
(cd "$root" && find . -type f | sort) > "$work/installed"
ok=0
for f in usr/sbin/hbx usr/libexec/hyperbox/hbx-service usr/share/bash-completion/completions/hbx \
	 lib/systemd/system/hbx-serve@.service lib/systemd/system/hbx-peer@.service \
	 $(cd man && ls *.8 | sed 's|^|usr/share/man/man8/|'); do
	grep -qx "./$f" "$work/installed" || { echo "# not installed: $f"; ok=1; }
done
tap $ok "install.installs_hbx_wrapper_completion_units_and_every_man_page"
! grep -q '@[A-Z]*@' "$root"/lib/systemd/system/*.service "$root"/usr/libexec/hyperbox/hbx-service
tap $? "install.no_unsubstituted_placeholders"
# systemd-analyze wants the ExecStart binaries and man pages where the units
# say: install once more under a prefix that exists on this host.
vroot=$work/vroot
make -s install PREFIX="$vroot/usr" SYSCONFDIR="$vroot/etc" SYSTEMDUNITDIR="$vroot/units" > /dev/null 2>&1
for u in hbx-serve hbx-peer; do
	out=$(MANPATH=$vroot/usr/share/man systemd-analyze verify "$vroot/units/$u@test.service" 2>&1)
	rc=$?
	[ -z "$out" ] || echo "$out" | sed 's/^/# /'
	[ $rc -eq 0 ] && [ -z "$out" ]
	tap $? "systemd.$u@.service_passes_systemd-analyze_verify"
	grep -q '^Restart=on-failure' "$vroot/units/$u@.service" &&
		grep -q '^ProtectSystem=strict' "$vroot/units/$u@.service" &&
		grep -q '^CapabilityBoundingSet=CAP_NET_ADMIN\( CAP_NET_BIND_SERVICE\)\?$' "$vroot/units/$u@.service" &&
		! grep -q 'CAP_SYS_ADMIN\|CAP_SYS_MODULE' "$vroot/units/$u@.service"
	tap $? "systemd.$u@.service_is_hardened_with_only_CAP_NET_ADMIN"
	systemd-analyze security --offline=true --threshold=50 "$vroot/units/$u@.service" > "$work/sec" 2>&1
	tap $? "systemd.$u@.service_exposure_is_ok_$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p' "$work/sec")"
done

# --- the units' wrapper: configs to command lines (hbx replaced by echo)
svc=$vroot/usr/libexec/hyperbox/hbx-service
conf=$work/conf
mkdir -p "$conf/serve" "$conf/peer" "$conf/ca" "$work/run"
touch "$conf/ca/ca.crl"
printf 'LISTEN=:7411\n# a comment\nCIPHER="chacha"\nTIMEOUT=30s\nOPTIONS=--max-handshakes 8\n' > "$conf/serve/main.conf"
printf 'CONNECT=node1:7411\nNAME=node1\nCONNECTIONS=2\nNO_CRL=yes\n' > "$conf/peer/node1.conf"
printf 'CONNECT=127.0.0.1:7411\nINSECURE=yes\n' > "$conf/peer/plain.conf"
printf 'LISTEN=:7411\nBOGUS=1\n' > "$conf/serve/bad.conf"
printf '#!/bin/sh\necho "$@"\n' > "$work/echo-hbx" && chmod +x "$work/echo-hbx"
w() { HBX=$work/echo-hbx HBX_CONFDIR=$conf RUNTIME_DIRECTORY=$work/run "$svc" "$@"; }
got=$(w serve main)
want="serve --listen :7411 --cert $conf/node.crt --key $conf/node.key --ca $conf/ca/ca.crt --crl $conf/ca/ca.crl --cipher chacha --timeout 30s --max-handshakes 8"
[ "$got" = "$want" ] || echo "# got:  $got"$'\n'"# want: $want"
[ "$got" = "$want" ]
tap $? "wrapper.serve_config_to_hbx_serve"
got=$(w peer node1)
want="peer connect node1:7411 --cert $conf/node.crt --key $conf/node.key --ca $conf/ca/ca.crt --no-crl --name node1 --connections 2 --persist"
# The echo stub prints its command line where hbx prints the peer id.
[ "$got" = "peer $want: connected to node1:7411" ] || echo "# got:  $got"
[ "$got" = "peer $want: connected to node1:7411" ] && [ "$(cat "$work/run/id")" = "$want" ]
tap $? "wrapper.peer_config_to_hbx_peer_connect_persist_and_records_the_id"
got=$(w peer plain)
[ "$got" = "peer peer connect 127.0.0.1:7411 --insecure --persist: connected to 127.0.0.1:7411" ]
tap $? "wrapper.insecure_peer_needs_no_certificates"
w serve bad > /dev/null 2> "$work/err"
rc=$?
[ $rc -eq 2 ] && grep -q "bad.conf:2: unknown key 'BOGUS'" "$work/err"
tap $? "wrapper.unknown_key_is_named_and_exits_2"
printf 'LISTEN=:7411\nTIMEOUT=30s\nTIMEOUT_MS=100\n' > "$conf/serve/both.conf"
w serve both > /dev/null 2> "$work/err"
rc=$?
[ $rc -eq 2 ] && grep -q "TIMEOUT and TIMEOUT_MS say the same thing" "$work/err"
tap $? "wrapper.timeout_and_timeout_ms_together_exit_2"
w serve nosuch > /dev/null 2> "$work/err"
rc=$?
[ $rc -eq 2 ] && grep -q "cannot read $conf/serve/nosuch.conf" "$work/err"
tap $? "wrapper.missing_config_exits_2"
w serve ../x > /dev/null 2>&1
[ $? -eq 2 ]
tap $? "wrapper.instance_names_cannot_leave_the_config_directory"

# --- the packages: build them from the last commit, lintian finds no error
if [ "${1:-}" = --no-deb ]; then
	skip "deb.make_deb_builds_both_packages" "--no-deb"
	skip "deb.lintian_finds_no_errors" "--no-deb"
else
	start=$(date +%s)
	make -s deb > "$work/deb.log" 2>&1
	rc=$?
	ls build/deb/hyperbox-dkms_*_all.deb build/deb/hyperbox-tools_*_amd64.deb > /dev/null 2>&1
	tap $? "deb.make_deb_builds_both_packages"
	! grep -q '^E: ' build/deb/lintian.log 2>/dev/null && [ -e build/deb/lintian.log ]
	tap $? "deb.lintian_finds_no_errors"
	grep -E '^(E|W): ' build/deb/lintian.log 2>/dev/null | sed 's/^/# lintian: /'
	[ $rc -eq 0 ] || tail -5 "$work/deb.log" | sed 's/^/# /'
	dpkg-deb -c build/deb/hyperbox-dkms_*_all.deb 2>/dev/null | grep -q "usr/src/hyperbox-[0-9.]*/dkms.conf"
	tap $? "deb.dkms_package_has_the_sources_under_usr_src"
	dpkg-deb -c build/deb/hyperbox-tools_*_amd64.deb 2>/dev/null > "$work/tools.list"
	grep -q "usr/sbin/hbx$" "$work/tools.list" && grep -q "man8/hbx-layer.8.gz" "$work/tools.list" &&
		grep -q "completions/hbx$" "$work/tools.list" && grep -q "hbx-peer@.service" "$work/tools.list"
	tap $? "deb.tools_package_has_hbx_man_completion_units"
	echo "# make deb + lintian: $(( $(date +%s) - start )) s"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
