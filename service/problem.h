/*
 * problem.h - RFC 9457 problem details, built by any adapter and rendered
 * by the HTTP server (application/problem+json).
 *
 * A struct problem collects every offending field of a request as a JSON
 * pointer and a detail, so one 4xx answer lists all errors.  The strings
 * are copied in; problem_release() frees them (safe on an empty problem).
 */
#ifndef CASCADED_PROBLEM_H
#define CASCADED_PROBLEM_H

#include <stddef.h>

struct problem_error {
	char *pointer;	/* JSON pointer ("/positions/0/size", "/query/step") */
	char *detail;
};

struct problem {
	int status;		/* 0: no problem */
	const char *type;	/* URI or slug ("validation"); static string */
	const char *title;	/* static string */
	char *detail;
	size_t nerrors;
	size_t cap;
	struct problem_error *errors;
};

/* type URIs: "https://cascaded.dev/problems/<slug>" */
#define PROBLEM_BASE "https://cascaded.dev/problems/"

void problem_init(struct problem *p);
void problem_release(struct problem *p);
/* Set status, type slug (e.g. "validation"), title and printf-style detail. */
void problem_set(struct problem *p, int status, const char *slug,
    const char *title, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Append one field error; a validation problem becomes 422 if unset. */
void problem_add(struct problem *p, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Default title of an HTTP status ("Not found"); static string. */
const char *problem_status_title(int status);
/*
 * Render as problem+json text: type (a slug gets PROBLEM_BASE in front),
 * title (default: the status's), status (500 when unset), detail (default:
 * the title), instance when not NULL, errors when any.  The text is
 * malloc'd and NUL-terminated; NULL on ENOMEM.
 */
char *problem_render(const struct problem *p, const char *instance);

#endif
