/*
 * fuzz_target.c - the libFuzzer main of one target: tests/fuzz.mk
 * compiles it once per target with -DFZ_ENTRY=fz_<name> (fuzz_common.h).
 * A broken invariant aborts, so libFuzzer keeps the input as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"

#ifndef FZ_ENTRY
#error "compile with -DFZ_ENTRY=fz_score (or fz_depth, fz_levels, fz_writes)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (FZ_ENTRY(data, size) != 0)
		abort();
	return 0;
}
