#!/usr/bin/env bash
# lint.sh - project lint: banned C functions in service/, SQL built by
# string formatting, locale changes, the layering of the sources
# (tests/layers.sh), and shell syntax of the scripts.
# Exit 1 with one line per finding.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
report() { echo "lint: $*" >&2; fail=1; }
# drop hits inside comments (" * ...", "/* ...", "// ...")
code_only() { grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|/\*|//)' || true; }

# Unbounded or error-blind libc calls.  snprintf/strtol/memcpy instead.
banned='\b(sprintf|vsprintf|strcpy|strcat|stpcpy|gets|atoi|atol|atoll|atof|strtok|tmpnam|tempnam|mktemp|alloca)[[:space:]]*\('
out=$(grep -rnE "$banned" --include='*.c' --include='*.h' service/ | code_only)
if [ -n "$out" ]; then
	while IFS= read -r l; do report "banned call: $l"; done <<<"$out"
fi

# SQL must use bound parameters: no SQL text with %s/%q formatting and no
# sqlite3_mprintf at all.
sqlfmt='printf[[:space:]]*\(.*"[[:space:]]*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|REPLACE|WITH)\b[^"]*%[-0-9.]*[sqQ]'
if out=$(grep -rnE "$sqlfmt" --include='*.c' service/); then
	while IFS= read -r l; do report "SQL built by formatting: $l"; done <<<"$out"
fi
if out=$(grep -rnE '\bsqlite3_(v?mprintf|v?snprintf)[[:space:]]*\(' --include='*.c' service/); then
	while IFS= read -r l; do report "SQL built by formatting: $l"; done <<<"$out"
fi
# string concatenation into a statement buffer
if out=$(grep -rnE '\b(strncat|strlcat)[[:space:]]*\([^,]*sql' --include='*.c' service/); then
	while IFS= read -r l; do report "SQL built by concatenation: $l"; done <<<"$out"
fi

# cJSON parses with the locale's decimal point: never change it.
if out=$(grep -rnE '\bsetlocale[[:space:]]*\(' --include='*.c' service/); then
	while IFS= read -r l; do report "setlocale: $l"; done <<<"$out"
fi

# The layers: no include and no call runs back up (tests/layers.sh has the
# order; it also keeps the model free of I/O and adapter headers).
tests/layers.sh || fail=1

for s in tests/*.sh .ci/run tools/*.sh; do
	[ -f "$s" ] || continue
	bash -n "$s" || report "shell syntax: $s"
done
python3 -m py_compile data/convert.py 2>/dev/null || report "python syntax: data/convert.py"
find data -name '__pycache__' -prune -exec rm -rf {} + 2>/dev/null || true

if [ "$fail" = 0 ]; then echo "lint: ok"; fi
exit "$fail"
