# SPDX-License-Identifier: GPL-2.0
# bash completion for hbx(8): commands, options, files where a file goes,
# and live objects (layer indices, peer ids, mount points of layers, the
# CA's certificate names, the store's image names) from hbx ... -j.

# Options of each command; an option followed by "=" takes an argument.
declare -gA _hbx_opts=(
	[version]=""
	[info]="-j --json"
	[monitor]="-j --json"
	[serve]="--listen= --cert= --key= --ca= --crl= --no-crl --cipher= --insecure --timeout-ms= --timeout= --max-handshakes= --per-source="
	[layer build]="-o= --output= -z= --compress= -c= --chunk-size= --keep-mtimes -j --json"
	[layer add]="-m= --manifest= -d= --digest= --export-name= --hashes= --verify= --remote= --cache= --prefetch --window= -j --json"
	[layer mount]="-m= --manifest= -d= --digest= --export-name= --hashes= --verify= --remote= --cache= --prefetch --window= -j --json"
	[layer umount]=""
	[layer del]="-f --force"
	[layer list]="-j --json"
	[layer export]="--off --name= --missing="
	[layer pull]="--window= -q --quiet -j --json"
	[rootfs mount]="-l= --layer= -u= --upper= -w= --work="
	[rootfs umount]=""
	[peer connect]="--cert= --key= --ca= --crl= --no-crl --name= --cipher= --insecure --connections= --timeout-ms= --timeout= --persist"
	[peer list]="-j"
	[peer del]=""
	[cert init]="-d= --dir= -n= --name= --days= --crl-days= -f --force"
	[cert issue]="-s= --san= --days= -d= --dir= -o= --out= -f --force -j --json"
	[cert renew]="--days= -d= --dir= -o= --out= -j --json"
	[cert revoke]="-d= --dir="
	[cert crl]="-d= --dir= --days="
	[cert list]="-d= --dir= -j --json"
	[cert show]="-j --json"
	[cert verify]="-d= --dir= --ca= --crl= -n= --name= -j --json"
	[seccomp learn]="-o= --output= --append= --arch= -j --json"
	[seccomp run]="-p= --profile= --complain"
	[seccomp merge]="-o= --output="
	[seccomp diff]="-j --json"
	[seccomp stats]="-j --json"
	[image import]="-n= --name= -s= --store= -j --json"
	[image list]="-s= --store= -j --json"
	[image inspect]="-s= --store= -j --json"
	[image rm]="-s= --store="
	[image mount]="-u= --upper= -w= --work= -s= --store="
	[image umount]=""
	[image bundle]="-S= --seccomp= -r --read-only -s= --store="
	[image export]="--off -s= --store= -j --json"
	[image pull]="--remote= -n= --name= --prefetch --window= -s= --store= -j --json"
	[trace]="--layer= --peer= -i= --interval= -c= --count= -j --json --otlp= --otlp-file="
	[top]="--cgroup= -b --batch -n= --iterations= -d= --delay= -j --json"
	[help]=""
)

# What the positional arguments of a command are, in order (the last repeats).
declare -gA _hbx_args=(
	[layer build]="path" [layer add]="file" [layer mount]="file dir"
	[layer umount]="mountpoint" [layer del]="layer" [layer export]="layer"
	[layer pull]="layer" [rootfs mount]="dir" [rootfs umount]="dir"
	[peer del]="peer" [cert issue]="certname" [cert renew]="certname"
	[cert revoke]="certname" [cert show]="file" [cert verify]="file"
	[seccomp merge]="file" [seccomp diff]="file" [seccomp stats]="file"
	[seccomp learn]="command" [seccomp run]="command" [trace]="mode"
	[image import]="path" [image inspect]="image" [image rm]="image"
	[image mount]="image dir" [image umount]="dir" [image bundle]="image dir"
	[image export]="image" [image pull]="reference"
)

# _hbx_cmds HBX [GROUP]: the commands of hbx's own tables (hbx help).
_hbx_cmds() {
	if [ -z "${2:-}" ]; then
		"$1" help 2> /dev/null | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ && on { exit }'
	else
		"$1" "$2" --help 2> /dev/null | awk -v g="$2" '$1 == g && NF > 1 { print $2 }'
	fi
}

# _hbx_json_ids HBX KEY ARGS...: the top-level "KEY": numbers of hbx ARGS -j.
_hbx_json_ids() {
	local hbx=$1 key=$2
	shift 2
	timeout 3 "$hbx" "$@" -j 2> /dev/null | tr '{},' '\n\n\n' |
		sed -n "s/^\"$key\":\([0-9][0-9]*\)\$/\1/p"
}

# _hbx_usage_opts HBX PATH: the options in the usage line of hbx PATH --help,
# for commands this file does not know yet.
_hbx_usage_opts() {
	# shellcheck disable=SC2086 # PATH is words
	"$1" $2 --help 2> /dev/null | head -n 1 | grep -oE -- '(^|[ [(|{])--?[a-z][a-z0-9-]*' | tr -d ' [(|{' | sort -u
}

_hbx_value() {	# _hbx_value HBX PATH OPTION CUR: complete an option's argument
	local hbx=$1 path=$2 opt=$3 cur=$4 ids prefix
	case $opt in
	--manifest|-m|--hashes|--cache|--cert|--key|--ca|--crl|--append|--profile|-p)
		compopt -o filenames 2> /dev/null
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	--output|-o|--out)
		compopt -o filenames 2> /dev/null
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	--layer|-l)
		if [ "$path" = trace ]; then
			COMPREPLY=($(compgen -W "$(_hbx_json_ids "$hbx" index layer list)" -- "$cur"))
			return
		fi
		compopt -o filenames 2> /dev/null
		COMPREPLY=($(compgen -f -X '!*.erofs' -- "$cur") $(compgen -d -- "$cur")) ;;
	--dir|-d)
		[ "$path" = top ] && return	# top's -d is --delay
		if [ "$path" = "layer add" ] || [ "$path" = "layer mount" ]; then
			COMPREPLY=($(compgen -W "sha256:" -- "$cur"))	# --digest's -d
		else
			compopt -o filenames 2> /dev/null
			COMPREPLY=($(compgen -d -- "$cur"))
		fi ;;
	--store|-s)
		[ "$opt" = -s ] && [[ $path != image* ]] && return
		compopt -o filenames 2> /dev/null
		COMPREPLY=($(compgen -d -- "$cur")) ;;
	--upper|-u|--work|-w)
		if [ "$opt" = -w ] && [ "$path" != "rootfs mount" ] && [ "$path" != "image mount" ]; then return; fi
		compopt -o filenames 2> /dev/null
		COMPREPLY=($(compgen -d -- "$cur")) ;;
	--compress|-z) COMPREPLY=($(compgen -W "lz4 lz4hc" -- "$cur")) ;;
	--cipher) COMPREPLY=($(compgen -W "aes256 aes128 chacha" -- "$cur")) ;;
	--arch) COMPREPLY=($(compgen -W "native all" -- "$cur")) ;;
	--missing) COMPREPLY=($(compgen -W "fetch not-here" -- "$cur")) ;;
	--verify) COMPREPLY=($(compgen -W "always once" -- "$cur")) ;;
	--chunk-size|-c)
		# -c is also trace's --count.
		[ "$opt" = -c ] && [ "$path" != "layer build" ] && return
		COMPREPLY=($(compgen -W "4K 16K 64K 256K 1M 4M" -- "$cur")) ;;
	# Durations take units (hbx(8), NUMBERS).
	--timeout) COMPREPLY=($(compgen -W "500ms 5s 30s 1m 5m" -- "$cur")) ;;
	--digest) COMPREPLY=($(compgen -W "sha256:" -- "$cur")) ;;
	--peer)
		COMPREPLY=($(compgen -W "$(_hbx_json_ids "$hbx" id peer list)" -- "$cur")) ;;
	--cgroup)
		COMPREPLY=($(cd /sys/fs/cgroup 2> /dev/null && compgen -d -- "$cur")) ;;
	--remote)
		# A comma-separated list of peer ids: complete the last one.
		prefix=
		[[ $cur == *,* ]] && prefix=${cur%,*},
		ids=$(_hbx_json_ids "$hbx" id peer list)
		COMPREPLY=($(compgen -P "$prefix" -W "$ids" -- "${cur##*,}")) ;;
	esac
}

_hbx() {
	local cur=${COMP_WORDS[COMP_CWORD]} hbx=${COMP_WORDS[0]}
	local i w path="" group="" nargs=0 opts opt kind kinds
	COMPREPLY=()
	command -v "$hbx" > /dev/null 2>&1 || hbx=hbx

	# Walk the words before the cursor: the command path, then options
	# (skipping their arguments) and positional arguments.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [ -z "$path" ]; then
			path=$w
			[ -n "${_hbx_opts[$w]+x}" ] || group=$w
			continue
		fi
		if [ -n "$group" ] && [ "$path" = "$group" ]; then
			path="$group $w"
			group=
			continue
		fi
		if [ "$w" = "--" ]; then
			# Everything after is a command line of its own.
			if [ "${_hbx_args[$path]:-}" = command ]; then
				COMP_WORDS=("${COMP_WORDS[@]:i+1}")
				COMP_CWORD=$((COMP_CWORD - i - 1))
				if declare -F _command_offset > /dev/null; then
					_command_offset 0
				elif [ "$COMP_CWORD" -eq 0 ]; then
					COMPREPLY=($(compgen -c -- "$cur" | sort -u))
				else
					compopt -o default 2> /dev/null
				fi
			fi
			return
		fi
		case $w in
		--*=*) ;;
		-*)	[[ " ${_hbx_opts[$path]:-} " == *" $w= "* ]] && i=$((i + 1)) ;;
		*)	nargs=$((nargs + 1)) ;;
		esac
	done

	# The first word, or a group's subcommand.
	if [ -z "$path" ]; then
		COMPREPLY=($(compgen -W "$(_hbx_cmds "$hbx") -h --help --version" -- "$cur"))
		return
	fi
	if [ -n "$group" ]; then
		COMPREPLY=($(compgen -W "$(_hbx_cmds "$hbx" "$group") -h --help" -- "$cur"))
		return
	fi
	if [ "$path" = help ]; then
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "$(_hbx_cmds "$hbx")" -- "$cur"))
		elif [ "$COMP_CWORD" -eq 3 ]; then
			COMPREPLY=($(compgen -W "$(_hbx_cmds "$hbx" "${COMP_WORDS[2]}")" -- "$cur"))
		fi
		return
	fi

	# An option's argument.
	opt=${COMP_WORDS[COMP_CWORD - 1]}
	if [[ $opt == -* ]] && [[ " ${_hbx_opts[$path]:-} " == *" $opt= "* ]]; then
		_hbx_value "$hbx" "$path" "$opt" "$cur"
		return
	fi
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		_hbx_value "$hbx" "$path" "$opt" "${cur#*=}"
		COMPREPLY=("${COMPREPLY[@]/#/$opt=}")
		return
	fi
	if [[ $cur == -* ]]; then
		opts=${_hbx_opts[$path]-$(_hbx_usage_opts "$hbx" "$path")}
		COMPREPLY=($(compgen -W "${opts//=/} -h --help" -- "$cur"))
		return
	fi

	# A positional argument.
	kinds=(${_hbx_args[$path]:-})
	[ ${#kinds[@]} -gt 0 ] || return
	kind=${kinds[nargs]:-${kinds[${#kinds[@]} - 1]}}
	case $kind in
	file|path)
		compopt -o filenames 2> /dev/null
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	dir)
		compopt -o filenames 2> /dev/null
		COMPREPLY=($(compgen -d -- "$cur")) ;;
	layer)
		[ "$nargs" -eq 0 ] &&
			COMPREPLY=($(compgen -W "$(_hbx_json_ids "$hbx" index layer list)" -- "$cur")) ;;
	peer)
		[ "$nargs" -eq 0 ] &&
			COMPREPLY=($(compgen -W "$(_hbx_json_ids "$hbx" id peer list)" -- "$cur")) ;;
	mountpoint)
		# Where /dev/hbxN devices are mounted.
		COMPREPLY=($(compgen -W "$(awk '$1 ~ /^\/dev\/hbx[0-9]+$/ { print $2 }' /proc/mounts 2> /dev/null)" -- "$cur")) ;;
	certname)
		[ "$nargs" -eq 0 ] &&
			COMPREPLY=($(compgen -W "$(timeout 3 "$hbx" cert list -j 2> /dev/null |
				tr '{},' '\n\n\n' | sed -n 's/^"name":"\([^"]*\)"$/\1/p' | sort -u)" -- "$cur")) ;;
	image)
		[ "$nargs" -eq 0 ] &&
			COMPREPLY=($(compgen -W "$(timeout 3 "$hbx" image list -j 2> /dev/null |
				tr '{},' '\n\n\n' | sed -n 's/^"name":"\([^"]*\)"$/\1/p' | sort -u)" -- "$cur")) ;;
	command)
		[ "$nargs" -eq 0 ] && COMPREPLY=($(compgen -W "--" -- "$cur")) ;;
	mode)
		[ "$nargs" -eq 0 ] && COMPREPLY=($(compgen -W "events" -- "$cur")) ;;
	esac
} &&
complete -F _hbx hbx
