/*
 * metrics_read.h - reading one value out of Prometheus exposition text
 * (GET /metrics, or metrics_render() in process), for the suites that
 * assert on counters.
 */
#ifndef CASCADED_METRICS_READ_H
#define CASCADED_METRICS_READ_H

/*
 * The value of the first line of text that is `series` (the metric name
 * with its labels exactly as rendered, "name{a=\"x\"}", or a bare name)
 * followed by a space; -1 when there is no such line.  A series that is
 * only the start of another ("x_count" vs "x_count_total") never
 * matches, nor does one in the middle of a line.
 */
double metrics_read_value(const char *text, const char *series);

#endif
