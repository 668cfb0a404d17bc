#!/usr/bin/env bash
# tests/container-test.sh - build the cascaded image and test it in a real
# Docker engine (`make container-test`).
#
# The sequence of shared/CONTAINERS.md, as root on a Debian machine with no
# container registry: install docker.io, docker-compose, debootstrap and
# curl when missing; start dockerd when none answers (and stop it again at
# the end); build a local debian:bookworm-slim with
# ../shared/tools/mkbase.sh when the image is missing and tag it as
# debian:bookworm for the build stage; then build docker/Dockerfile and
# check the image: its size (printed, and under MAX_IMAGE_MB), OCI labels,
# non-root user, HEALTHCHECK, no shell in it, and the dpkg records of the
# `FROM scratch` root: every library the image's own loader lists for the
# binary is a file of a package with a /var/lib/dpkg/status.d entry whose
# md5sums match the files shipped; then the running container: hardened
# run (read-only root, no capabilities, no-new-privileges) on an ephemeral
# loopback port with a named volume for the database, the binary's own
# migrate-and-seed (`serve --init`) and its exit code 73 on an unwritable
# database directory, /healthz, /readyz, /version, POST /v1/score on the
# seeded data, an authenticated write read back, uid 10001, the server as
# the container's only process (PID 1), the HEALTHCHECK reaching healthy,
# exit code 0 on `docker stop`, data kept across a restart and across a new
# container on the same volume, the same through docker/compose.yaml, and
# the Kubernetes manifests (tests/k8s-validate.sh).
#
# Then compose's "cluster" profile: the NATS and nginx images built from
# Debian packages (docker/Dockerfile.nats, docker/Dockerfile.nginx: the
# same FROM-scratch-plus-dpkg-records way, non-root), three replicas over
# NATS JetStream behind nginx (each replica's port published on loopback
# by a test-only override file): nginx answers /readyz, a write through
# nginx is read back through nginx from at least two different replicas
# (nginx's X-Cascaded-Upstream header), every replica answers the same
# ETag, a SIGKILLed replica does not stop writes through nginx and, once
# started again, catches up with them (same ETag).
#
# Every wait has a timeout; all traffic goes to 127.0.0.1.  Prints
# `N passed, N failed` alone on the last line; exits 1 on any failure.
#
# Environment: IMAGE (default cascaded:ci), VERSION (default: from the
# Makefile), SHARED (default ../shared beside the repository),
# KEEP_DOCKERD=1 (leave a dockerd this script started running),
# CT_CLUSTER=0 (skip the cluster profile),
# CT_SCORE_ASSET (default ETH: a volatile asset of the seed data),
# MAX_IMAGE_MB (default 30: the image must be smaller, in 10^6 bytes).

set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
IMAGE=${IMAGE:-cascaded:ci}
VERSION=${VERSION:-$(sed -n 's/^VERSION *:*= *//p' Makefile | head -1)}
SHARED=${SHARED:-$ROOT/../shared}
ASSET=${CT_SCORE_ASSET:-ETH}
MAX_IMAGE_MB=${MAX_IMAGE_MB:-30}
API_KEY=ct-$$-$RANDOM$RANDOM
TAG=ct$$
CTR=cascaded-$TAG
VOL=cascaded-$TAG-data
PROJ=cascaded$TAG
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cascaded-ct.XXXXXX")
T0=$(date +%s)

pass=0
fail=0
DOCKERD_PID=
COMPOSE=()
COMPOSE_UP=0
CLUSTER_UP=0
NATS_IMAGE=cascaded-nats:local
NGINX_IMAGE=cascaded-nginx:local

say() { printf '%s\n' "$*"; }
ok() { pass=$((pass + 1)); say "ok   - $*"; }
bad() { fail=$((fail + 1)); say "FAIL - $*"; }
# check DESCRIPTION COMMAND...: one test from a command's exit status.
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
elapsed() { echo $(($(date +%s) - T0)); }

finish() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$K8S_PID" ]; then kill "$K8S_PID" 2>/dev/null; fi
	if [ "$COMPOSE_UP" = 1 ]; then
		compose down -v --remove-orphans >/dev/null 2>&1
	fi
	if [ "$CLUSTER_UP" = 1 ]; then
		ccompose down -v --remove-orphans >/dev/null 2>&1
	fi
	if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
		docker rm -f -v "$CTR" "$CTR-2" "$CTR-fs" >/dev/null 2>&1
		docker volume rm -f "$VOL" >/dev/null 2>&1
	fi
	if [ -n "$DOCKERD_PID" ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
		kill "$DOCKERD_PID" 2>/dev/null
		for _ in $(seq 1 40); do
			kill -0 "$DOCKERD_PID" 2>/dev/null || break
			sleep 0.5
		done
		say "# stopped the dockerd this test started (pid $DOCKERD_PID)"
	fi
	rm -rf "$WORK"
	say "# container-test took $(elapsed) s"
	say "$pass passed, $fail failed"
	if [ "$fail" -gt 0 ] || [ "$rc" -ne 0 ]; then exit 1; fi
	exit 0
}
trap finish EXIT
trap 'bad "interrupted"; exit 1' INT TERM

# abort REASON: a setup step failed; later checks cannot run.
abort() {
	bad "$*"
	exit 1
}

# wait_for SECONDS COMMAND...: retry every 0.5 s until it succeeds.
wait_for() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.5
	done
}

# req METHOD PORT PATH [BODY [KEY]]: sets CODE and BODY_OUT.
req() {
	local m=$1 port=$2 path=$3 data=${4-} key=${5-}
	local args=(-sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' --max-time 10
		-X "$m" "http://127.0.0.1:$port$path")
	if [ -n "$data" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$data")
	fi
	if [ -n "$key" ]; then args+=(-H "Authorization: Bearer $key"); fi
	CODE=$(curl "${args[@]}" 2>"$WORK/curl.err") || CODE=000
	BODY_OUT=$(cat "$WORK/body" 2>/dev/null)
}
http_is() { # http_is CODE METHOD PORT PATH [BODY [KEY]]
	local want=$1
	shift
	req "$@"
	[ "$CODE" = "$want" ] && return 0
	say "#   $1 $3 -> $CODE (want $want): $(head -c 300 <<<"$BODY_OUT")"
	return 1
}
up_200() { req GET "$1" "$2" && [ "$CODE" = 200 ]; }
# header NAME: its value in the last answer of req (the last one sent)
header() {
	tr -d '\r' <"$WORK/headers" 2>/dev/null |
		awk -v n="$1" 'tolower($0) ~ "^" tolower(n) ":" { sub(/^[^:]*: */, ""); v = $0 } END { print v }'
}
health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" 2>/dev/null; }
is_healthy() { [ "$(health_of "$1")" = healthy ]; }
host_port() { docker port "$1" 8080/tcp 2>/dev/null | head -1 | sed 's/.*://'; }
logs_tail() { docker logs --tail 20 "$1" 2>&1 | sed 's/^/#   log: /'; }
contains() { grep -q -- "$2" <<<"$1"; }

# ---------------------------------------------------------------- setup
say "# cascaded container test: image $IMAGE, version $VERSION"

# The manifest validation needs node, not Docker: run it meanwhile.
K8S_PID=
if [ -f tests/k8s-validate.sh ]; then
	timeout 240 bash tests/k8s-validate.sh >"$WORK/k8s.log" 2>&1 &
	K8S_PID=$!
fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker >/dev/null 2>&1 || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 ||
	docker compose version >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		abort "missing ${need[*]}: install them (apt-get, as root)"
	fi
	say "# installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	{ timeout 120 apt-get update -qq &&
		timeout 240 apt-get install -y -qq --no-install-recommends \
			"${need[@]}"; } >"$WORK/apt.log" 2>&1 ||
		{ tail -5 "$WORK/apt.log"; abort "apt-get install ${need[*]}"; }
fi
if command -v docker-compose >/dev/null 2>&1; then
	COMPOSE=(docker-compose)
else
	COMPOSE=(docker compose)
fi
compose() { # bounded: every compose command gets at most 120 s
	timeout 120 env CASCADED_IMAGE="$IMAGE" CASCADED_HOST_PORT=127.0.0.1: \
		CASCADED_ENV_FILE="$WORK/cascaded.env" \
		"${COMPOSE[@]}" -p "$PROJ" -f docker/compose.yaml "$@"
}

if ! docker info >/dev/null 2>&1; then
	[ "$(id -u)" = 0 ] || abort "no Docker engine answers, and not root"
	dockerd >"$WORK/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	if ! wait_for 30 docker info >/dev/null 2>&1; then
		tail -5 "$WORK/dockerd.log"
		abort "dockerd did not answer within 30 s"
	fi
	say "# started dockerd (pid $DOCKERD_PID) in $(elapsed) s"
fi

# Machines without a registry build a stand-in base image; elsewhere
# `docker build` pulls the real ones.
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
	if [ -f "$SHARED/tools/mkbase.sh" ]; then
		say "# building a local debian:bookworm-slim (mkbase.sh, 1-4 min)"
		timeout 360 bash "$SHARED/tools/mkbase.sh" docker \
			>"$WORK/mkbase.log" 2>&1 ||
			{ tail -10 "$WORK/mkbase.log"; abort "mkbase.sh failed"; }
	else
		say "# no debian:bookworm-slim and no $SHARED/tools/mkbase.sh:" \
			"docker build will pull the base images"
	fi
fi
if docker image inspect debian:bookworm-slim >/dev/null 2>&1 &&
	! docker image inspect debian:bookworm >/dev/null 2>&1; then
	docker tag debian:bookworm-slim debian:bookworm ||
		abort "docker tag debian:bookworm"
fi

# ---------------------------------------------------------------- build
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
build() { # build [ENV...]: docker build of docker/Dockerfile, bounded
	timeout 480 env "$@" "$DOCKER_CLI" build -f docker/Dockerfile -t "$IMAGE" \
		--build-arg VERSION="$VERSION" --build-arg REVISION="$REV" . \
		>>"$WORK/build.log" 2>&1
}
# BuildKit runs the two stages' apt-get at the same time (~30 s less on a
# fresh machine).  Debian's docker.io client (/usr/bin/docker) has it
# built in; another client may need buildx, so fall back to the legacy
# builder, which the Dockerfile supports as well.
DOCKER_CLI=docker
[ -x /usr/bin/docker ] && DOCKER_CLI=/usr/bin/docker
say "# docker build ($(elapsed) s so far)"
if build DOCKER_BUILDKIT=1 ||
	{ say "# BuildKit build failed; legacy builder"; build DOCKER_BUILDKIT=0; }; then
	ok "docker build -f docker/Dockerfile ($(elapsed) s so far)"
else
	tail -30 "$WORK/build.log" | sed 's/^/#   build: /'
	abort "docker build -f docker/Dockerfile"
fi

# Start the Compose service now; it becomes healthy while the plain
# container is tested, and is checked after it.
printf 'CASCADED_API_KEY=%s\nCASCADED_LOG_LEVEL=info\n' "$API_KEY" \
	>"$WORK/cascaded.env"
if compose config -q >"$WORK/compose.log" 2>&1; then
	ok "compose config validates docker/compose.yaml"
else
	sed 's/^/#   /' "$WORK/compose.log" | tail -10
	bad "compose config validates docker/compose.yaml"
fi
COMPOSE_UP=1
compose up -d --no-build >"$WORK/compose.log" 2>&1
COMPOSE_RC=$?

# ---------------------------------------------------------------- image
fmt() { docker image inspect -f "$1" "$IMAGE" 2>/dev/null; }
size=$(fmt '{{.Size}}')
size_mb=$(awk -v s="${size:-0}" 'BEGIN { printf "%.1f", s / 1e6 }')
say "# image $IMAGE: $size_mb MB ($size bytes)"
check "image size $size_mb MB < $MAX_IMAGE_MB MB" \
	test "${size:-0}" -gt 0 -a "${size:-0}" -lt $((MAX_IMAGE_MB * 1000000))
user=$(fmt '{{.Config.User}}')
check "image runs as a non-root uid ($user)" \
	test -n "$user" -a "${user%%:*}" != 0 -a "${user%%:*}" != root
check "image declares VOLUME /var/lib/cascaded" \
	contains "$(fmt '{{json .Config.Volumes}}')" '"/var/lib/cascaded"'
check "image exposes 8080/tcp" \
	contains "$(fmt '{{json .Config.ExposedPorts}}')" '"8080/tcp"'
check "image HEALTHCHECK runs cascaded healthcheck" \
	contains "$(fmt '{{json .Config.Healthcheck.Test}}')" 'healthcheck'
labels_ok() {
	local l
	l=$(fmt '{{json .Config.Labels}}')
	contains "$l" '"org.opencontainers.image.source"' &&
		contains "$l" '"org.opencontainers.image.licenses"' &&
		contains "$l" '"org.opencontainers.image.title":"cascaded"' &&
		contains "$l" "\"org.opencontainers.image.revision\":\"$REV\"" &&
		contains "$l" "\"org.opencontainers.image.version\":\"$VERSION\""
}
check "OCI labels title, source, licenses, version=$VERSION, revision=$REV" \
	labels_ok

# The image's files, exported from a container that never runs.
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"
if docker create --name "$CTR-fs" "$IMAGE" >/dev/null &&
	docker export "$CTR-fs" | tar -x -C "$ROOTFS" 2>"$WORK/export.err"; then
	ok "docker export of the image's root file system"
else
	bad "docker export of the image's root file system"
fi
docker rm -f -v "$CTR-fs" >/dev/null 2>&1
no_shell() {
	local f
	for f in bin/sh usr/bin/sh bin/bash usr/bin/dpkg usr/bin/apt-get; do
		[ -e "$ROOTFS/$f" ] || [ -L "$ROOTFS/$f" ] || continue
		say "#   the image has /$f"
		return 1
	done
}
check "no shell and no package manager in the image" no_shell
STATUSD=$ROOTFS/var/lib/dpkg/status.d
# The libraries the binary loads, listed by the image's own loader.
docker run --rm --read-only --entrypoint /lib64/ld-linux-x86-64.so.2 \
	"$IMAGE" --list /usr/local/bin/cascaded >"$WORK/ldd" 2>&1
LIBS=$(awk '$2 == "=>" { print $3 } $1 ~ /^\// { print $1 }' "$WORK/ldd")
# Every library is a file of a package with a status.d entry: its md5sums
# list the library (the soname, or the file the soname links to,
# soname.N.N), and its status paragraph says installed.
status_covers_libs() {
	local lib b sums pkg n=0 pkgs=()
	[ -n "$LIBS" ] || { say "#   no libraries listed: $(head -3 "$WORK/ldd")"; return 1; }
	for lib in $LIBS; do
		b=$(basename "$lib")
		b=${b//./\\.}
		sums=$(grep -lE "/$b(\.[0-9]+)*\$" "$STATUSD"/*.md5sums 2>/dev/null | head -1)
		if [ -z "$sums" ]; then
			say "#   $lib: no status.d/*.md5sums lists it"
			return 1
		fi
		pkg=$(basename "$sums" .md5sums)
		if ! grep -qx 'Status: install ok installed' "$STATUSD/$pkg" ||
			! grep -q '^Version: ' "$STATUSD/$pkg"; then
			say "#   $lib: status.d/$pkg is not an installed package's status"
			return 1
		fi
		n=$((n + 1))
		pkgs+=("$pkg")
	done
	say "#   $n libraries from $(printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' ')"
}
check "dpkg status.d entry for each library the binary loads" status_covers_libs
# The files the status.d md5sums record are all there, unmodified.
md5sums_ok() {
	local f
	for f in "$STATUSD"/*.md5sums; do
		(cd "$ROOTFS" && md5sum -c --quiet "$f") >"$WORK/md5.log" 2>&1 ||
			{ say "#   $(basename "$f"): $(head -2 "$WORK/md5.log")"; return 1; }
	done
}
check "status.d md5sums match the files in the image" md5sums_ok
tls_ok() {
	test -s "$ROOTFS/etc/ssl/certs/ca-certificates.crt" &&
		grep -qx 'Status: install ok installed' "$STATUSD/ca-certificates" &&
		grep -q '^ID=debian' "$ROOTFS/etc/os-release"
}
check "CA certificates (with their status entry) and /etc/os-release" tls_ok

# ---------------------------------------------------------------- run
docker volume create "$VOL" >/dev/null
run_ctr() { # run_ctr NAME
	docker run -d --name "$1" \
		--read-only --tmpfs /tmp:rw,noexec,nosuid,size=16m \
		--cap-drop ALL --security-opt no-new-privileges \
		-v "$VOL:/var/lib/cascaded" -e CASCADED_API_KEY="$API_KEY" \
		-p 127.0.0.1::8080 "$IMAGE" >/dev/null
}
if run_ctr "$CTR"; then
	ok "docker run (read-only root, cap-drop ALL, no-new-privileges)"
else
	abort "docker run"
fi
wait_for 10 test -n "$(host_port "$CTR")"
PORT=$(host_port "$CTR")
say "# container $CTR on 127.0.0.1:$PORT"
# No volume where the database should go, on a read-only root: the
# binary refuses to start with exit code 73 before it serves.
rc=$(timeout 60 docker run --rm --read-only -e CASCADED_DB=/srv/db/x.db \
	"$IMAGE" 2>"$WORK/ro.err" >/dev/null; echo $?)
check "an unwritable database directory: exit code 73 (got $rc)" \
	test "$rc" = 73
# The first connections can be reset before the server listens.
if wait_for 45 up_200 "$PORT" /healthz; then
	ok "GET /healthz 200 ($(elapsed) s so far)"
else
	logs_tail "$CTR"
	bad "GET /healthz 200 within 45 s"
fi
check "GET /readyz 200" wait_for 20 up_200 "$PORT" /readyz
version_ok() { http_is 200 GET "$PORT" /version && contains "$BODY_OUT" "\"$VERSION\""; }
check "GET /version 200 names $VERSION" version_ok
check "GET /openapi.json 200 (compiled in)" http_is 200 GET "$PORT" /openapi.json
# The image has no shell for `docker exec`: ask the engine (docker top,
# docker cp) instead.
only_server() { # one process: cascaded, uid 10001, the container's PID 1
	local top pid
	top=$(docker top "$CTR" -o pid,uid,comm 2>/dev/null | tail -n +2)
	pid=$(docker inspect -f '{{.State.Pid}}' "$CTR")
	[ "$(wc -l <<<"$top")" = 1 ] && [ "$(awk '{ print $1 }' <<<"$top")" = "$pid" ] &&
		[ "$(awk '{ print $2, $3 }' <<<"$top")" = "10001 cascaded" ] && return 0
	say "#   processes: $top (init pid $pid)"
	return 1
}
check "the server is the only process, PID 1, as uid 10001" only_server
db_on_volume() {
	docker cp "$CTR:/var/lib/cascaded/cascaded.db" - 2>/dev/null |
		tar -tvf - 2>/dev/null | awk '$3 > 0 { ok = 1 } END { exit !ok }'
}
check "serve --init created the database on the volume" db_on_volume
check "the log says the database was created and seeded" \
	contains "$(docker logs "$CTR" 2>&1)" '"database ready".*"created":"true"'

SCORE='{"positions": [{"id": "ct-perp", "type": "perp", "asset": "'$ASSET'",
 "side": "long", "size": 5, "entry_price": 2000, "leverage": 10}],
 "horizon_days": 1}'
score_ok() {
	http_is 200 POST "$PORT" /v1/score "$SCORE" || return 1
	contains "$BODY_OUT" '"portfolio"' && contains "$BODY_OUT" '"ct-perp"' &&
		return 0
	say "#   POST /v1/score: no portfolio or position: $(head -c 300 <<<"$BODY_OUT")"
	return 1
}
check "POST /v1/score on the seeded $ASSET answers 200 with a portfolio" score_ok

MKT='{"price": 123.5, "volatility": 0.25}'
check "PUT /v1/markets/CTEST without a key: 401" \
	http_is 401 PUT "$PORT" /v1/markets/CTEST "$MKT"
check "PUT /v1/markets/CTEST with a wrong key: 403" \
	http_is 403 PUT "$PORT" /v1/markets/CTEST "$MKT" wrong-key
check "PUT /v1/markets/CTEST with the API key: 201" \
	http_is 201 PUT "$PORT" /v1/markets/CTEST "$MKT" "$API_KEY"
read_back() { # read_back PORT: the write above is there
	http_is 200 GET "$1" /v1/markets/CTEST &&
		contains "$BODY_OUT" '123\.5' && contains "$BODY_OUT" '0\.25'
}
check "GET /v1/markets/CTEST reads the write back" read_back "$PORT"

if wait_for 60 is_healthy "$CTR"; then
	ok "HEALTHCHECK reaches healthy ($(elapsed) s so far)"
else
	bad "HEALTHCHECK healthy within 60 s (status: $(health_of "$CTR"))"
	docker inspect -f '{{json .State.Health}}' "$CTR" | head -c 600
	echo
fi
SPID=$(docker inspect -f '{{.State.Pid}}' "$CTR")
say "# server memory: $(grep -E '^(VmRSS|VmHWM)' "/proc/$SPID/status" 2>/dev/null | tr -s '\t\n ' ' ')"

stop_zero() { # stop_zero NAME: SIGTERM, drained, exit 0 (not 137)
	local t0 rc
	t0=$(date +%s)
	timeout 40 docker stop -t 30 "$1" >/dev/null || return 1
	rc=$(docker inspect -f '{{.State.ExitCode}}' "$1")
	say "#   $1 stopped in $(($(date +%s) - t0)) s, exit code $rc"
	[ "$rc" = 0 ] || { logs_tail "$1"; return 1; }
}
# Stop while two scores are in flight: SIGTERM must let them finish.
INFLIGHT='{"positions": [{"id": "ct-loan", "type": "loan",
 "collateral": [{"asset": "ETH", "amount": 10, "liquidation_threshold": 0.8},
  {"asset": "BTC", "amount": 1, "liquidation_threshold": 0.75}],
 "debt": [{"asset": "USDC", "amount": 30000}]}], "paths": 100000}'
INFLIGHT_PIDS=()
for i in 1 2; do
	curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST \
		-H 'Content-Type: application/json' --data-binary "$INFLIGHT" \
		"http://127.0.0.1:$PORT/v1/score" >"$WORK/inflight.$i" 2>&1 &
	INFLIGHT_PIDS+=($!)
done
sleep 0.3
check "docker stop: SIGTERM drains, exit code 0" stop_zero "$CTR"
wait "${INFLIGHT_PIDS[@]}"
inflight_ok() {
	local i c
	for i in 1 2; do
		c=$(cat "$WORK/inflight.$i")
		[ "$c" = 200 ] || { say "#   in-flight score $i -> ${c:-nothing}"; return 1; }
	done
}
check "scores in flight at SIGTERM complete with 200" inflight_ok

# Restart the same container: the data lives on the volume.
if docker start "$CTR" >/dev/null && wait_for 10 test -n "$(host_port "$CTR")"; then
	PORT=$(host_port "$CTR")
	wait_for 45 up_200 "$PORT" /readyz
	check "after docker restart the write is still there" read_back "$PORT"
else
	bad "docker start after stop"
fi
# A new container on the same volume (an upgrade): migrate, no re-seed
# (the write above stays, and the log says the database was not created).
docker rm -f "$CTR" >/dev/null 2>&1
if run_ctr "$CTR-2" && wait_for 10 test -n "$(host_port "$CTR-2")"; then
	PORT=$(host_port "$CTR-2")
	wait_for 45 up_200 "$PORT" /readyz
	check "a new container on the same volume reads the write back" \
		read_back "$PORT"
	check "the new container migrated the database, did not create it" \
		contains "$(docker logs "$CTR-2" 2>&1)" '"database ready".*"created":"false"' 
	check "docker stop of the new container: exit code 0" stop_zero "$CTR-2"
else
	logs_tail "$CTR-2"
	bad "docker run of a second container on the volume"
fi
docker rm -f "$CTR-2" >/dev/null 2>&1
docker volume rm -f "$VOL" >/dev/null 2>&1

# ---------------------------------------------------------------- compose
say "# compose: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || echo '?'))"
if [ "$COMPOSE_RC" = 0 ]; then
	ok "compose up -d"
	CID=$(compose ps -q cascaded 2>/dev/null | head -1)
	CPORT=$(compose port cascaded 8080 2>/dev/null | sed 's/.*://')
	say "# compose container ${CID:0:12} on 127.0.0.1:$CPORT"
	if wait_for 60 is_healthy "$CID"; then
		ok "compose service reaches healthy"
	else
		bad "compose service healthy within 60 s (status: $(health_of "$CID"))"
	fi
	check "compose: GET /readyz 200" wait_for 20 up_200 "$CPORT" /readyz
	compose_write() {
		http_is 201 PUT "$CPORT" /v1/markets/CTEST "$MKT" "$API_KEY" &&
			read_back "$CPORT"
	}
	check "compose: authenticated PUT then GET" compose_write
	check "compose: hardening applied (read-only, cap_drop ALL, no-new-privileges)" \
		contains "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapDrop}} {{json .HostConfig.SecurityOpt}}' "$CID")" \
		'^true \["ALL"\] \["no-new-privileges'
	check "compose: published on 127.0.0.1 only" \
		contains "$(docker port "$CID" 8080/tcp)" '^127\.0\.0\.1:'
	if compose stop >/dev/null 2>&1; then
		rc=$(docker inspect -f '{{.State.ExitCode}}' "$CID")
		check "compose stop: exit code 0 (got $rc)" test "$rc" = 0
	else
		bad "compose stop"
	fi
else
	sed 's/^/#   /' "$WORK/compose.log" | tail -10
	bad "compose up -d"
fi
# down_ok LABEL FUNCTION: FUNCTION down -v, one test
down_ok() {
	if "$2" down -v --remove-orphans >/dev/null 2>&1; then
		ok "$1 down -v"
		return 0
	fi
	bad "$1 down -v"
	return 1
}
down_ok compose compose && COMPOSE_UP=0

# ---------------------------------------------------------------- cluster
# compose's "cluster" profile: NATS + three replicas + nginx.  The NATS
# and nginx images are built here from Debian packages (no registry).
ccompose() { # bounded like compose; the cluster project and its images
	timeout 180 env CASCADED_IMAGE="$IMAGE" CASCADED_HOST_PORT=127.0.0.1: \
		CASCADED_CLUSTER_PORT=127.0.0.1: \
		CASCADED_NATS_IMAGE="$NATS_IMAGE" CASCADED_NGINX_IMAGE="$NGINX_IMAGE" \
		CASCADED_ENV_FILE="$WORK/cascaded.env" \
		"${COMPOSE[@]}" -p "${PROJ}cl" -f docker/compose.yaml \
		-f "$WORK/cluster-ports.yaml" --profile cluster "$@"
}
build_aux() { # build_aux DOCKERFILE TAG: context docker/, as make cluster-images
	timeout 300 env DOCKER_BUILDKIT=1 "$DOCKER_CLI" build -f "$1" -t "$2" docker \
		>>"$WORK/build-aux.log" 2>&1 ||
		timeout 300 env DOCKER_BUILDKIT=0 "$DOCKER_CLI" build -f "$1" -t "$2" \
			docker >>"$WORK/build-aux.log" 2>&1
}
# aux_image_ok TAG BINARY UID: runs as UID, BINARY -v names its version
aux_image_ok() {
	local user pkgs
	user=$(docker image inspect -f '{{.Config.User}}' "$1" 2>/dev/null)
	pkgs=$(timeout 30 docker run --rm --read-only --entrypoint "$2" "$1" -v 2>&1 | head -1)
	say "#   $1: $(docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'), user $user, $pkgs"
	[ "${user%%:*}" = "$3" ] || { say "#   $1 runs as '$user'"; return 1; }
	contains "$pkgs" "${2##*/}.*[0-9]\.[0-9]"
}
cluster_test() {
	local nport rep cid n code ups tags t0 i want
	declare -A rport=() rip=()
	say "# cluster profile: building $NATS_IMAGE and $NGINX_IMAGE ($(elapsed) s so far)"
	if build_aux docker/Dockerfile.nats "$NATS_IMAGE" &&
		build_aux docker/Dockerfile.nginx "$NGINX_IMAGE"; then
		ok "docker build of $NATS_IMAGE and $NGINX_IMAGE from Debian packages ($(elapsed) s so far)"
	else
		tail -20 "$WORK/build-aux.log" | sed 's/^/#   build: /'
		bad "docker build of the NATS and nginx images"
		return
	fi
	check "$NATS_IMAGE: uid 10002, nats-server runs" aux_image_ok "$NATS_IMAGE" /usr/sbin/nats-server 10002
	check "$NGINX_IMAGE: uid 10003, nginx runs" aux_image_ok "$NGINX_IMAGE" /usr/sbin/nginx 10003
	# Test-only: every replica's port on an ephemeral loopback port, to
	# ask each one directly.
	{
		echo "services:"
		for rep in replica-1 replica-2 replica-3; do
			printf '  %s:\n    ports:\n      - "127.0.0.1::8080"\n' "$rep"
		done
	} >"$WORK/cluster-ports.yaml"
	CLUSTER_UP=1
	t0=$(date +%s)
	if ccompose up -d --no-build nats replica-1 replica-2 replica-3 nginx \
		>"$WORK/cluster.log" 2>&1; then
		ok "compose --profile cluster up -d (nats, replica-1..3, nginx)"
	else
		sed 's/^/#   /' "$WORK/cluster.log" | tail -10
		bad "compose --profile cluster up -d"
		return
	fi
	nport=$(ccompose port nginx 8080 2>/dev/null | sed 's/.*://')
	declare -A rcid=()
	for rep in replica-1 replica-2 replica-3; do
		rcid[$rep]=$(ccompose ps -q "$rep" 2>/dev/null | head -1)
	done
	replica_ports() { # from the engine (compose's own `port` is slow)
		for rep in replica-1 replica-2 replica-3; do
			rport[$rep]=$(host_port "${rcid[$rep]}")
			rip[$rep]=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "${rcid[$rep]}" 2>/dev/null)
		done
	}
	replica_ports
	say "# nginx on 127.0.0.1:$nport; replicas $(for rep in replica-1 replica-2 replica-3; do printf '%s=127.0.0.1:%s(%s) ' "$rep" "${rport[$rep]}" "${rip[$rep]}"; done)"
	check "cluster: nginx published on 127.0.0.1 only" \
		contains "$(docker port "$(ccompose ps -q nginx | head -1)" 8080/tcp)" '^127\.0\.0\.1:'
	if wait_for 120 up_200 "$nport" /readyz; then
		ok "cluster: GET /readyz through nginx 200 after $(($(date +%s) - t0)) s"
	else
		ccompose logs --tail 10 2>&1 | sed 's/^/#   log: /'
		bad "cluster: /readyz through nginx not 200 within 120 s"
		return
	fi
	for rep in replica-1 replica-2 replica-3; do
		check "cluster: $rep ready (its own port)" wait_for 60 up_200 "${rport[$rep]}" /readyz
	done
	CMKT='{"price": 77.25, "volatility": 0.3}'
	check "cluster: PUT /v1/markets/CLUS through nginx" \
		http_is 201 PUT "$nport" /v1/markets/CLUS "$CMKT" "$API_KEY"
	# Reads through nginx until three different replicas have answered
	# (at most 30 reads); each must show the write.
	ups=()
	for i in $(seq 1 30); do
		req GET "$nport" /v1/markets/CLUS
		n=$(header X-Cascaded-Upstream)
		if [ "$CODE" != 200 ] || ! contains "$BODY_OUT" '77\.25'; then
			sleep 0.2	# that replica has not applied it yet
			continue
		fi
		ups+=("${n%%,*}")
		[ "$(printf '%s\n' "${ups[@]}" | sort -u | wc -l)" -ge 3 ] && break
	done
	n=$(printf '%s\n' "${ups[@]}" | sort -u | wc -l)
	say "#   read back through nginx from: $(printf '%s\n' "${ups[@]}" | sort | uniq -c | tr -s ' \n' ' ')"
	known_upstreams() {
		local u
		for u in "${ups[@]}"; do
			case " ${rip[*]} " in *" ${u%:*} "*) ;; *) say "#   $u is no replica"; return 1 ;; esac
		done
	}
	check "cluster: the write read back through nginx from $n replicas (>= 2)" \
		test "$n" -ge 2
	check "cluster: nginx's upstreams are the replicas' addresses" known_upstreams
	same_etag() { # same_etag REPLICA...: one ETag, and the write is there
		local r e
		tags=()
		for r in "$@"; do
			req GET "${rport[$r]}" /v1/markets
			[ "$CODE" = 200 ] && contains "$BODY_OUT" "$want" || return 1
			e=$(header ETag)
			[ -n "$e" ] || return 1
			tags+=("$e")
		done
		[ "$(printf '%s\n' "${tags[@]}" | sort -u | wc -l)" = 1 ]
	}
	want=CLUS
	if wait_for 30 same_etag replica-1 replica-2 replica-3; then
		ok "cluster: the three replicas answer the same ETag ${tags[0]}"
	else
		bad "cluster: replicas' ETags differ: ${tags[*]}"
	fi
	# SIGKILL replica-2: writes through nginx go on.
	cid=${rcid[replica-2]}
	docker kill -s KILL "$cid" >/dev/null 2>&1
	code=
	for i in 1 2 3 4 5 6; do
		req PUT "$nport" "/v1/markets/CLK$i" '{"price": 5, "volatility": 0.1}' "$API_KEY"
		code="$code $CODE"
	done
	check "cluster: replica-2 killed, 6 writes through nginx succeed (statuses$code)" \
		test -z "$(tr ' ' '\n' <<<"$code" | grep -v '^$' | grep -v '^20[01]$')"
	check "cluster: replica-2 stayed down during those writes" \
		test "$(docker inspect -f '{{.State.Running}}' "$cid")" = false
	want=CLK6
	check "cluster: the other replicas agree without it" \
		wait_for 30 same_etag replica-1 replica-3
	# Started again, it catches up with the writes it missed.
	t0=$(date +%s)
	if docker start "$cid" >/dev/null 2>&1; then
		r2_port() { [ -n "$(host_port "$cid")" ]; }
		wait_for 20 r2_port
		replica_ports
		if wait_for 120 up_200 "${rport[replica-2]}" /readyz; then
			ok "cluster: replica-2 restarted and ready in $(($(date +%s) - t0)) s"
		else
			bad "cluster: replica-2 not ready within 120 s of its restart"
		fi
		if wait_for 30 same_etag replica-1 replica-2 replica-3; then
			ok "cluster: replica-2 caught up: same ETag ${tags[0]} on all three"
		else
			bad "cluster: replica-2 did not catch up: ETags ${tags[*]}"
		fi
	else
		bad "cluster: docker start replica-2"
	fi
	down_ok "compose --profile cluster" ccompose && CLUSTER_UP=0
}
if [ "${CT_CLUSTER:-1}" != 0 ]; then
	cluster_test
fi

# ---------------------------------------------------------------- k8s
if [ -n "$K8S_PID" ]; then
	wait "$K8S_PID"
	k8s_rc=$?
	sed 's/^/#   k8s: /' "$WORK/k8s.log" | grep -v '^#   k8s: ok '
	if [ "$k8s_rc" = 0 ]; then
		ok "Kubernetes manifests validate ($(tail -1 "$WORK/k8s.log"))"
	else
		bad "Kubernetes manifests validate ($(tail -1 "$WORK/k8s.log"))"
	fi
else
	bad "tests/k8s-validate.sh is missing"
fi
