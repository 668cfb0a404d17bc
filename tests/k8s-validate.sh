#!/usr/bin/env bash
# tests/k8s-validate.sh - validate docker/k8s/*.yaml against the Kubernetes
# schema (kubernetes-models), strictly (TypeScript, unknown fields) and
# against this deployment's policy; see tests/k8s/validate.mjs.
# Installs its npm dependencies into tests/k8s/node_modules when missing
# (from tests/k8s/package-lock.json).  Needs node >= 20 and npm.
# Prints `N passed, N failed` last; exits 1 on any failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
K=$ROOT/tests/k8s
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "FAIL - node and npm are needed (apt-get install nodejs npm)"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ! -f "$K/node_modules/.package-lock.json" ] ||
	[ "$K/package-lock.json" -nt "$K/node_modules/.package-lock.json" ]; then
	echo "# installing tests/k8s npm dependencies"
	(cd "$K" && timeout 180 npm ci --no-audit --no-fund --loglevel=error \
		--engine-strict=false >/dev/null) || {
		echo "FAIL - npm ci in tests/k8s"
		echo "0 passed, 1 failed"
		exit 1
	}
fi
exec node "$K/validate.mjs" "$@"
