/* SPDX-License-Identifier: GPL-2.0 */
/*
 * causalctl: shared by its commands. The shape follows bpftool: an object
 * and a command per invocation, -j/--json for machine-readable output, and
 * in JSON mode errors as {"error": "..."} on stdout.
 */
#ifndef CAUSALCTL_H
#define CAUSALCTL_H

#include <stdbool.h>

#define CTL_EXIT_USAGE	2	/* bad usage, as every command exits */

/* One option of a command: its long name, short letter (or a key above
 * 255 for a long option only), the name of its argument (NULL: a flag) and
 * one line for its usage.
 */
struct ctl_opt {
	const char *name;
	int key;
	const char *arg;
	const char *doc;
};

/* One command of the table in causalctl.c: usage, help and option parsing
 * all come from it.
 */
struct ctl_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;		/* what follows the options */
	const char *doc;		/* one line */
	const struct ctl_opt *opts;	/* ended by {} */
	const char *more;		/* details, examples, exit status */
};

struct causalctl_opts {
	bool json;		/* -j/--json: JSON output */
	bool pretty;		/* -p/--pretty: indented JSON (implies -j) */
	bool verbose;		/* -v/--verbose: libbpf's messages */
	const struct ctl_cmd *cmd;	/* the command being run */
};

extern struct causalctl_opts ctl;

/* getopt_long() over the running command's options and the global ones
 * (-j/--json, -p/--pretty, -v/--verbose, -h/--help), which it handles
 * itself; a short letter the command has is the command's. Options and
 * arguments may come in any order, "--" ends the options. --help prints
 * the command's usage and exits 0; a bad option exits 2. Returns the
 * option's key or -1 at the end, with optind at the first argument.
 */
int ctl_getopt(int argc, char **argv);

/* A usage error of the running command: the message and where to read
 * more; returns CTL_EXIT_USAGE.
 */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Flags for json_object_to_json_string_ext() per -j/-p. */
int ctl_json_flags(void);

/* Report an error: "causalctl: ..." on stderr, or {"error":"..."} on
 * stdout in JSON mode. Returns -1 for "return ctl_error(...)".
 */
int ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The options and details of the commands in causalctl_analyze.c. */
extern const struct ctl_opt trace_opts[], top_opts[], analyze_opts[],
	export_opts[];
extern const char trace_more[], top_more[], analyze_more[], export_more[],
	why_more[];

/* Commands; argv[0] is the command's name. Return the exit status. */
int cmd_status(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_why(int argc, char **argv);

#endif /* CAUSALCTL_H */
