/* SPDX-License-Identifier: GPL-2.0 */
/* Reading /proc/net/causal (format: docs/api.md) into JSON objects. */
#ifndef CAUSAL_PROCFS_H
#define CAUSAL_PROCFS_H

#include <stdio.h>
#include <json-c/json.h>
#include <linux/types.h>

/* An array of endpoints: {"group":7,"node":2,...,"clock":[..],
 * "channels":[{"peer":0,"state":"active",...}]}. Keys and values as in the
 * file; numbers become integers (hex ones too), "peer=-" becomes null.
 * Returns NULL with errno set on a line it does not understand.
 */
struct json_object *causal_procfs_parse(FILE *fp);

/* A parsed channel's hold_hist into @hist (CAUSAL_HIST_BUCKETS counts, see
 * causal_hist.h); returns how many messages it counts.
 */
__u64 causal_procfs_hist(struct json_object *ch, __u64 *hist);

#endif /* CAUSAL_PROCFS_H */
