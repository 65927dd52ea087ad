/* SPDX-License-Identifier: GPL-2.0 */
/*
 * causalctl: shared by its commands. The shape follows bpftool: an object
 * and a command per invocation, -j/--json for machine-readable output, and
 * in JSON mode errors as {"error": "..."} on stdout.
 */
#ifndef CAUSALCTL_H
#define CAUSALCTL_H

#include <stdbool.h>

struct causalctl_opts {
	bool json;		/* -j/--json: JSON output */
	bool pretty;		/* -p/--pretty: indented JSON (implies -j) */
};

extern struct causalctl_opts ctl;

/* Flags for json_object_to_json_string_ext() per -j/-p. */
int ctl_json_flags(void);

/* Report an error: "causalctl: ..." on stderr, or {"error":"..."} on
 * stdout in JSON mode. Returns -1 for "return ctl_error(...)".
 */
int ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Commands; argv[0] is the command's name. Return the exit status. */
int cmd_status(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_why(int argc, char **argv);

#endif /* CAUSALCTL_H */
