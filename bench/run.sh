#!/usr/bin/env bash
# bench/run.sh - every benchmark of the project, on this machine (`make
# bench`).  Writes bench/results.json and prints the table; see
# bench/README.md.  Environment: BENCH_ROUNDS (3), BENCH_SECONDS (10),
# BENCH_QUICK=1 (1 round of 2 s: checks the script, figures meaningless).
#
# Installs what it needs (wrk, nginx-light, python3-numpy, python3-scipy)
# when missing and running as root on Debian/Ubuntu.  Loopback only; the
# driver (bench/run.py) kills every process it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
/usr/bin/python3 -c 'import numpy, scipy' >/dev/null 2>&1 ||
	need+=(python3-numpy python3-scipy)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bench: installing ${need[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		# Debian's nginx package must not start a system nginx here.
		policy=0
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
			chmod 755 /usr/sbin/policy-rc.d
			policy=1
		fi
		rc=0
		apt-get install -y -qq --no-install-recommends "${need[@]}" \
			>/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 &&
			  apt-get install -y -qq --no-install-recommends \
				"${need[@]}" >/dev/null; } || rc=$?
		[ $policy = 1 ] && rm -f /usr/sbin/policy-rc.d
		[ $rc = 0 ] || { echo "bench: apt-get failed" >&2; exit 1; }
	else
		echo "bench: missing ${need[*]} (apt-get install as root)" >&2
		exit 1
	fi
fi
export PATH="$PATH:/usr/sbin"

# The Makefile includes bench/bench.mk; until it does, name it here.
if grep -qE '^-?include bench/bench.mk' Makefile; then
	make -s all build/bench/bench_engine
else
	make -s -f Makefile -f bench/bench.mk all build/bench/bench_engine
fi

exec /usr/bin/python3 bench/run.py
