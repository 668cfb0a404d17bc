#!/bin/bash
# docker/stage-runtime.sh - assemble the runtime root of the image: the
# files of the Debian packages a binary loads, with their dpkg records.
# Run by docker/Dockerfile's build stage (Debian, as root, the runtime
# packages installed); the final stage is `FROM scratch` + this root.
#
#   stage-runtime.sh STAGE BINARY [PACKAGE...]
#
# The packages are derived, not listed: every library `ldd BINARY`
# resolves (the dynamic loader included) is mapped to the package that
# owns it with `dpkg-query -S`; the PACKAGEs given (ca-certificates,
# base-files) are added.  For each package, its files (`dpkg-query -L`)
# are copied into STAGE, except documentation (/usr/share/doc but the
# copyright files, man, info, lintian, locale) and glibc's gconv modules
# (iconv character sets: nothing in the binary converts charsets) and
# the service-manager glue of server packages (init scripts, systemd
# units, logrotate, ufw, apport, vim; nothing runs them here); its
# status paragraph (`dpkg-query -s`) goes to
# STAGE/var/lib/dpkg/status.d/<package> and the md5sums of the files
# copied to status.d/<package>.md5sums, the layout of distroless images,
# which image scanners (Trivy, Grype, Syft) read.  Debian's merged /usr
# is kept: /lib, /lib64, /bin and /sbin are links into /usr.
#
# Prints one line per package (name, version, files copied, bytes) and
# the packages' names to STAGE/var/lib/dpkg/status.d/.packages.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 STAGE BINARY [PACKAGE...]" >&2
	exit 2
fi
stage=$1
bin=$2
shift 2
statusd=$stage/var/lib/dpkg/status.d

# The libraries the binary loads, by ldd: "name => /path (addr)" and the
# loader's "/path (addr)"; a library not found stops the build.
libs=$(ldd "$bin")
if grep -q 'not found' <<<"$libs"; then
	echo "$0: $bin: unresolved libraries:" >&2
	grep 'not found' <<<"$libs" >&2
	exit 1
fi
paths=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 }
	$1 ~ /^\// { print $1 }' <<<"$libs")

# owner PATH: the package owning PATH, trying the spellings merged /usr
# allows (dpkg records /lib/x/... for some packages, /usr/lib/x/... for
# others) and the target of a symbolic link.
owner() {
	local p c
	for p in "$1" "$(readlink -f "$1")"; do
		for c in "$p" "/usr$p" "${p#/usr}"; do
			dpkg-query -S "$c" 2>/dev/null |
				sed -n 's/^\([^/]*\): \/.*/\1/p' | tr ',' '\n' |
				sed 's/^ *//' | grep . && return 0
		done
	done
	return 1
}

pkgs=()
for p in $paths; do
	if ! o=$(owner "$p"); then
		echo "$0: no Debian package owns $p" >&2
		exit 1
	fi
	mapfile -t -O "${#pkgs[@]}" pkgs <<<"$o"
done
pkgs+=("$@")
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)

# canon PATH: the real location under merged /usr.
canon() {
	case $1 in
	/lib/* | /lib64/* | /bin/* | /sbin/*) echo "/usr$1" ;;
	*) echo "$1" ;;
	esac
}

# keep PATH: whether a listed file belongs in the image.
keep() {
	case $1 in
	/usr/share/doc/*/copyright) return 0 ;;
	/usr/share/doc/* | /usr/share/man/* | /usr/share/info/* | \
		/usr/share/lintian/* | /usr/share/locale/* | \
		/usr/share/bug/* | */gconv/*) return 1 ;;
	# service-manager and desktop glue of server packages (nginx-common,
	# nats-server): nothing in a container runs it
	/etc/init.d/* | /lib/systemd/* | /usr/lib/systemd/* | \
		/etc/logrotate.d/* | /etc/ufw/* | /usr/share/apport/* | \
		/usr/share/vim/* | /etc/default/*) return 1 ;;
	/. | /lib | /lib64 | /bin | /sbin) return 1 ;;
	esac
	return 0
}

mkdir -p "$statusd"
: >"$statusd/.packages"
for pkg in "${pkgs[@]}"; do
	name=${pkg%%:*}
	copied=$(mktemp)
	n=0
	while IFS= read -r f; do
		keep "$f" || continue
		c=$(canon "$f")
		if [ -L "$c" ] || [ -f "$c" ]; then
			mkdir -p "$stage${c%/*}"
			cp -a "$c" "$stage$c"
			printf '%s\n' "${f#/}" >>"$copied"
			n=$((n + 1))
		elif [ -d "$c" ]; then
			mkdir -p "$stage$c"
		fi
	done < <(dpkg-query -L "$pkg")
	dpkg-query -s "$pkg" >"$statusd/$name"
	sums=/var/lib/dpkg/info/$pkg.md5sums
	[ -f "$sums" ] || sums=/var/lib/dpkg/info/$name.md5sums
	if [ -f "$sums" ]; then
		# md5sums lines are "<md5>  <path without the leading />"
		awk 'NR == FNR { want[$0] = 1; next }
			{ p = substr($0, 35) } p in want' "$copied" "$sums" \
			>"$statusd/$name.md5sums"
	fi
	bytes=$(cd "$stage" && sed 's|^|/|' "$copied" | while IFS= read -r f; do
		c=$(canon "$f")
		[ -L "${c#/}" ] || stat -c %s "${c#/}"
	done | awk '{ s += $1 } END { print s + 0 }')
	rm -f "$copied"
	printf '%s\n' "$name" >>"$statusd/.packages"
	printf '%-24s %-28s %4d files %9d bytes\n' "$name" \
		"$(dpkg-query -W -f='${Version}' "$pkg")" "$n" "$bytes"
done

for d in lib lib64 bin sbin; do
	if [ -d "$stage/usr/$d" ] && [ ! -e "$stage/$d" ]; then
		ln -s "usr/$d" "$stage/$d"
	fi
done
