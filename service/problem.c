/*
 * problem.c - RFC 9457 problem details: collect errors, render JSON.
 *
 * The `type` member holds either a full URI or a slug ("validation"); a
 * slug is rendered as PROBLEM_BASE + slug.  Allocation failures while
 * collecting errors drop that error silently: the answer still carries the
 * status and every error that could be stored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "problem.h"

static char *
vformat(const char *fmt, va_list ap)
{
	va_list ap2;
	char *s;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

void
problem_init(struct problem *p)
{
	memset(p, 0, sizeof(*p));
}

void
problem_release(struct problem *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nerrors; i++) {
		free(p->errors[i].pointer);
		free(p->errors[i].detail);
	}
	free(p->errors);
	free(p->detail);
	problem_init(p);
}

void
problem_set(struct problem *p, int status, const char *slug,
    const char *title, const char *fmt, ...)
{
	va_list ap;

	p->status = status;
	p->type = slug;
	p->title = title;
	free(p->detail);
	p->detail = NULL;
	if (fmt != NULL) {
		va_start(ap, fmt);
		p->detail = vformat(fmt, ap);
		va_end(ap);
	}
}

void
problem_add(struct problem *p, const char *pointer, const char *fmt, ...)
{
	struct problem_error *e;
	va_list ap;
	char *ptr = NULL, *det = NULL;

	if (p->status == 0) {
		p->status = 422;
		p->type = "validation";
		p->title = "Unprocessable request";
	}
	if (p->nerrors == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 8;

		e = realloc(p->errors, ncap * sizeof(*e));
		if (e == NULL)
			return;
		p->errors = e;
		p->cap = ncap;
	}
	ptr = strdup(pointer != NULL ? pointer : "");
	va_start(ap, fmt);
	det = vformat(fmt, ap);
	va_end(ap);
	if (ptr == NULL || det == NULL) {
		free(ptr);
		free(det);
		return;
	}
	p->errors[p->nerrors].pointer = ptr;
	p->errors[p->nerrors].detail = det;
	p->nerrors++;
}

const char *
problem_status_title(int status)
{
	switch (status) {
	case 400: return "Bad request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not found";
	case 405: return "Method not allowed";
	case 409: return "Conflict";
	case 413: return "Payload too large";
	case 415: return "Unsupported media type";
	case 422: return "Unprocessable request";
	case 429: return "Too many requests";
	case 500: return "Internal server error";
	case 503: return "Service unavailable";
	default: return "Error";
	}
}

char *
problem_render(const struct problem *p, const char *instance)
{
	cJSON *root = NULL, *arr, *o;
	char *out = NULL, *type = NULL;
	const char *slug = p->type != NULL ? p->type : "about:blank";
	size_t i, n;
	int status = p->status ? p->status : 500;

	root = cJSON_CreateObject();
	if (root == NULL)
		goto out;
	if (strncmp(slug, "http", 4) == 0 || strncmp(slug, "about:", 6) == 0) {
		type = strdup(slug);
	} else {
		n = strlen(PROBLEM_BASE) + strlen(slug) + 1;
		type = malloc(n);
		if (type != NULL)
			snprintf(type, n, "%s%s", PROBLEM_BASE, slug);
	}
	if (type == NULL)
		goto out;
	if (cJSON_AddStringToObject(root, "type", type) == NULL ||
	    cJSON_AddStringToObject(root, "title", p->title != NULL ?
	    p->title : problem_status_title(status)) == NULL ||
	    cJSON_AddNumberToObject(root, "status", status) == NULL ||
	    cJSON_AddStringToObject(root, "detail", p->detail != NULL ?
	    p->detail : problem_status_title(status)) == NULL)
		goto out;
	if (instance != NULL &&
	    cJSON_AddStringToObject(root, "instance", instance) == NULL)
		goto out;
	if (p->nerrors > 0) {
		arr = cJSON_AddArrayToObject(root, "errors");
		if (arr == NULL)
			goto out;
		for (i = 0; i < p->nerrors; i++) {
			o = cJSON_CreateObject();
			if (o == NULL)
				goto out;
			if (!cJSON_AddItemToArray(arr, o)) {
				cJSON_Delete(o);
				goto out;
			}
			if (cJSON_AddStringToObject(o, "pointer",
			    p->errors[i].pointer) == NULL ||
			    cJSON_AddStringToObject(o, "detail",
			    p->errors[i].detail) == NULL)
				goto out;
		}
	}
	out = cJSON_PrintUnformatted(root);
out:
	free(type);
	cJSON_Delete(root);
	return out;
}
