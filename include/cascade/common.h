/*
 * common.h - shared vocabulary of the cascade model library (prefix lc_).
 *
 * The model library (service/model/, public headers in include/cascade/) is
 * pure C11 + <math.h>: no I/O, no globals, reentrant.  Every function that
 * can fail returns an enum lc_status and writes results through pointers.
 * Inputs are const and borrowed; outputs go to caller-owned structs.  Heap
 * objects inside caller structs are released with the matching _release().
 */
#ifndef CASCADE_COMMON_H
#define CASCADE_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum lc_status {
	LC_OK = 0,
	LC_EINVAL,	/* invalid argument (bad input, violated precondition) */
	LC_EDOMAIN,	/* valid input but result out of domain */
	LC_ELIMIT,	/* a size limit was exceeded */
	LC_ENOMEM	/* allocation failed */
};

/* Side of a depth curve. */
enum lc_side {
	LC_BID = 0,	/* what can be sold before the price falls */
	LC_ASK = 1	/* what can be bought before the price rises */
};

/* Direction of a price move / cascade.  DOWN uses the bid curve. */
enum lc_dir {
	LC_DOWN = 0,
	LC_UP = 1
};

/* Largest magnitude accepted for prices, amounts and quantities (docs/model.md 1). */
#define LC_MAX_VALUE 1e15
/* Largest accepted volatility (docs/model.md 1). */
#define LC_MAX_VOL 100.0
/* Most ladder steps per loan (docs/model.md 3.1). */
#define LC_MAX_STEPS 64

const char *lc_status_str(enum lc_status st);

#endif
