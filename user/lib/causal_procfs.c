// SPDX-License-Identifier: GPL-2.0
/* /proc/net/causal into JSON: see causal_procfs.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "causal_hist.h"
#include "causal_procfs.h"

/* Keys whose value is a list of i:v pairs. */
static bool is_sparse(const char *key)
{
	return !strcmp(key, "blame_us") || !strcmp(key, "hold_hist");
}

/* "i:v,i:v" (blame_us, hold_hist) into {"i": v, ...}; "-" is empty. */
static struct json_object *sparse_of(const char *val)
{
	struct json_object *obj = json_object_new_object();
	unsigned long long v;
	char key[24], *end;
	const char *p = val;

	if (!strcmp(val, "-"))
		return obj;
	for (;;) {
		const char *colon = strchr(p, ':');

		if (!colon || colon == p || colon - p >= (long)sizeof(key))
			goto bad;
		memcpy(key, p, colon - p);
		key[colon - p] = 0;
		strtoull(key, &end, 10);
		if (*end)
			goto bad;
		errno = 0;
		v = strtoull(colon + 1, &end, 10);
		if (end == colon + 1 || errno || (*end && *end != ','))
			goto bad;
		json_object_object_add(obj, key, json_object_new_uint64(v));
		if (!*end)
			return obj;
		p = end + 1;
	}
bad:
	json_object_put(obj);
	return NULL;
}

/* "123", "0x1f" and "00000000deadbeef" (the incarnation) are numbers. */
static struct json_object *value_of(const char *key, const char *val)
{
	unsigned long long n;
	char *end;
	int base = !strcmp(key, "incarnation") ? 16 : 0;

	if (is_sparse(key))
		return sparse_of(val);
	if (!strcmp(val, "-"))
		return NULL;
	errno = 0;
	n = strtoull(val, &end, base);
	if (*val && !*end && !errno)
		return json_object_new_uint64(n);
	return json_object_new_string(val);
}

/* Add the key=value words of @line to @obj. */
static int add_pairs(struct json_object *obj, char *line)
{
	char *save = NULL, *word, *eq;
	struct json_object *val;

	for (word = strtok_r(line, " \t\n", &save); word;
	     word = strtok_r(NULL, " \t\n", &save)) {
		eq = strchr(word, '=');
		if (!eq)
			return -1;
		*eq = 0;
		val = value_of(word, eq + 1);
		if (!val && is_sparse(word))
			return -1;
		json_object_object_add(obj, word, val);
	}
	return 0;
}

struct json_object *causal_procfs_parse(FILE *fp)
{
	struct json_object *eps = json_object_new_array(), *ep = NULL, *chs;
	char *line = NULL, *p;
	size_t cap = 0;

	while (getline(&line, &cap, fp) > 0) {
		if (!strncmp(line, "endpoint ", 9)) {
			ep = json_object_new_object();
			json_object_array_add(eps, ep);
			json_object_object_add(ep, "channels",
					       json_object_new_array());
			if (add_pairs(ep, line + 9))
				goto bad;
		} else if (ep && !strncmp(line, "  clock", 7)) {
			struct json_object *clock = json_object_new_array();
			char *save = NULL;

			json_object_object_add(ep, "clock", clock);
			for (p = strtok_r(line + 7, " \n", &save); p;
			     p = strtok_r(NULL, " \n", &save))
				json_object_array_add(clock,
					json_object_new_uint64(strtoull(p, NULL, 10)));
		} else if (ep && !strncmp(line, "  channel ", 10)) {
			struct json_object *ch = json_object_new_object();

			json_object_object_get_ex(ep, "channels", &chs);
			json_object_array_add(chs, ch);
			if (add_pairs(ch, line + 10))
				goto bad;
		} else if (ep && !strncmp(line, "  ", 2)) {
			if (add_pairs(ep, line + 2))
				goto bad;
		} else {
			goto bad;
		}
	}
	free(line);
	return eps;

bad:
	free(line);
	json_object_put(eps);
	errno = EPROTO;
	return NULL;
}

__u64 causal_procfs_hist(struct json_object *ch, __u64 *hist)
{
	struct json_object *obj;
	__u64 total = 0;

	memset(hist, 0, CAUSAL_HIST_BUCKETS * sizeof(*hist));
	if (!json_object_object_get_ex(ch, "hold_hist", &obj) ||
	    !json_object_is_type(obj, json_type_object))
		return 0;
	json_object_object_foreach(obj, lower, count) {
		__u64 n = json_object_get_uint64(count);

		hist[causal_hist_bucket(strtoull(lower, NULL, 10))] += n;
		total += n;
	}
	return total;
}
