// SPDX-License-Identifier: GPL-2.0
/*
 * causalctl: look at causal delivery on a live host (status, trace, top) and
 * at event logs of several hosts (analyze, export). See causalctl(8).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <json-c/json.h>
#include <bpf/libbpf.h>

#include "causal_event.h"
#include "causal_log.h"
#include "causal_hist.h"
#include "causal_procfs.h"
#include "causal_cutil.h"
#include "causal_wire.h"
#include "causalctl.h"
#include "tracer.h"

#define CAUSALD_SOCKET	"/run/causald.sock"

struct causalctl_opts ctl;

int ctl_json_flags(void)
{
	return JSON_C_TO_STRING_NOSLASHESCAPE |
	       (ctl.pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED :
			     JSON_C_TO_STRING_PLAIN);
}

/* Print @obj as one JSON document and drop it. */
static void json_print(struct json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, ctl_json_flags()));
	json_object_put(obj);
}

int ctl_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctl.json) {
		struct json_object *obj = json_object_new_object();

		json_object_object_add(obj, "error", json_object_new_string(msg));
		json_print(obj);
		fflush(stdout);
	} else {
		fprintf(stderr, "causalctl: %s\n", msg);
	}
	return -1;
}

/* ---- options ---- */

enum {
	OPT_G_JSON = 0x1000, OPT_G_PRETTY, OPT_G_VERBOSE, OPT_G_HELP,
	OPT_TCP_ALL, OPT_HOST,
};

/* Accepted by every command, before or after it; the short letter only
 * where the command has no option of that letter.
 */
static const struct ctl_opt global_opts[] = {
	{ "json",	'j', NULL, "JSON output (errors too, as {\"error\": ...})" },
	{ "pretty",	'p', NULL, "indented JSON (implies --json)" },
	{ "verbose",	'v', NULL, "libbpf's messages and the verifier's log on stderr" },
	{ "help",	'h', NULL, "this command's usage" },
	{}
};

static bool cmd_has_key(const struct ctl_cmd *cmd, int key)
{
	const struct ctl_opt *o;

	for (o = cmd->opts; o && o->name; o++)
		if (o->key == key)
			return true;
	return false;
}

static void opt_usage(FILE *f, const struct ctl_opt *o, bool letter)
{
	char head[64];

	if (o->key < 256 && letter)
		snprintf(head, sizeof(head), "-%c, --%s%s%s", o->key, o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(head, sizeof(head), "    --%s%s%s", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(f, "  %-24s %s\n", head, o->doc);
}

static void cmd_usage(FILE *f, const struct ctl_cmd *cmd)
{
	const struct ctl_opt *o;

	fprintf(f, "usage: causalctl %s [OPTIONS]%s%s\n%s\n", cmd->name,
		cmd->args ? " " : "", cmd->args ? cmd->args : "", cmd->doc);
	if (cmd->opts && cmd->opts->name) {
		fputs("\noptions:\n", f);
		for (o = cmd->opts; o->name; o++)
			opt_usage(f, o, true);
	}
	fputs("\nglobal options (before or after the command):\n", f);
	for (o = global_opts; o->name; o++)
		opt_usage(f, o, !cmd_has_key(cmd, o->key));
	if (cmd->more)
		fprintf(f, "\n%s", cmd->more);
}

int ctl_usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_error("%s%s%s (causalctl help %s)", ctl.cmd ? ctl.cmd->name : "",
		  ctl.cmd ? ": " : "", msg, ctl.cmd ? ctl.cmd->name : "");
	return CTL_EXIT_USAGE;
}

int ctl_getopt(int argc, char **argv)
{
	static struct option longopts[64];
	static char shortopts[128];
	static const struct ctl_cmd *built;
	const struct ctl_cmd *cmd = ctl.cmd;
	const struct ctl_opt *o;
	int c, g;

	if (built != cmd) {
		size_t nl = 0, ns = 0;

		/* ':' first: missing arguments reported as ':' and no
		 * message from getopt, ours instead.
		 */
		shortopts[ns++] = ':';
		for (o = cmd->opts; o && o->name; o++) {
			longopts[nl++] = (struct option){
				o->name, o->arg ? required_argument : no_argument,
				NULL, o->key };
			if (o->key >= 256)
				continue;
			shortopts[ns++] = o->key;
			if (o->arg)
				shortopts[ns++] = ':';
		}
		for (o = global_opts; o->name; o++) {
			longopts[nl++] = (struct option){
				o->name, no_argument, NULL,
				OPT_G_JSON + (int)(o - global_opts) };
			if (!cmd_has_key(cmd, o->key))
				shortopts[ns++] = o->key;
		}
		longopts[nl] = (struct option){};
		shortopts[ns] = 0;
		built = cmd;
		/* 0, not 1: glibc re-reads the option string and permutes,
		 * so options may follow the arguments.
		 */
		optind = 0;
	}
	for (;;) {
		c = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (c >= OPT_G_JSON && c <= OPT_G_HELP) {
			g = c;
		} else if (c == '?') {
			if (optopt && optopt < 256)
				ctl_usage_error("unknown option '-%c'", optopt);
			else
				ctl_usage_error("unknown option '%s'", argv[optind - 1]);
			exit(CTL_EXIT_USAGE);
		} else if (c == ':') {
			ctl_usage_error("option '%s' needs an argument",
					argv[optind - 1]);
			exit(CTL_EXIT_USAGE);
		} else if (c > 0 && c < 256 && !cmd_has_key(cmd, c) &&
			   strchr("jpvh", c)) {
			g = OPT_G_JSON + (int)(strchr("jpvh", c) - "jpvh");
		} else {
			return c;
		}
		switch (g) {
		case OPT_G_JSON:
			ctl.json = true;
			break;
		case OPT_G_PRETTY:
			ctl.json = ctl.pretty = true;
			break;
		case OPT_G_VERBOSE:
			ctl.verbose = true;
			break;
		case OPT_G_HELP:
			cmd_usage(stdout, cmd);
			exit(0);
		}
	}
}

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	stopping = 1;
}

static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	/* No SA_RESTART: a blocking poll or read returns at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* ---- status ---- */

static const char *str_of(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return "-";
	return json_object_get_string(v);
}

static void fmt_us(char *buf, size_t len, __u64 us)
{
	if (us >= 1000000)
		snprintf(buf, len, "%.2fs", us / 1e6);
	else if (us >= 1000)
		snprintf(buf, len, "%.2fms", us / 1e3);
	else
		snprintf(buf, len, "%lluus", (unsigned long long)us);
}

/* What a channel's held messages waited: their quantiles and the nodes the
 * channel waited on, from the module's aggregates.
 */
static void status_print_holds(struct json_object *ch)
{
	static __u64 hist[CAUSAL_HIST_BUCKETS];
	char p50[16], p99[16], max[16], t[16];
	struct json_object *blame, *v;
	__u64 held = causal_procfs_hist(ch, hist);
	const char *sep = "; waited on node";

	if (!held)
		return;
	fmt_us(p50, sizeof(p50), causal_hist_quantile(hist, 50, 100));
	fmt_us(p99, sizeof(p99), causal_hist_quantile(hist, 99, 100));
	fmt_us(max, sizeof(max),
	       json_object_object_get_ex(ch, "hold_max_us", &v) ?
	       json_object_get_uint64(v) : 0);
	printf("        held %llu: p50 %s, p99 %s, max %s",
	       (unsigned long long)held, p50, p99, max);
	if (json_object_object_get_ex(ch, "blame_us", &blame) &&
	    json_object_is_type(blame, json_type_object)) {
		json_object_object_foreach(blame, node, us) {
			fmt_us(t, sizeof(t), json_object_get_uint64(us));
			printf("%s %s %s", sep, node, t);
			sep = ",";
		}
	}
	putchar('\n');
}

static void status_print(struct json_object *eps)
{
	size_t i, j, n = json_object_array_length(eps);

	if (!n) {
		puts("no causal endpoints in this network namespace");
		return;
	}
	for (i = 0; i < n; i++) {
		struct json_object *ep = json_object_array_get_idx(eps, i);
		struct json_object *chs, *clock;

		printf("group %s node %s of %s: sent %s, delivered %s, held now %s, gaps %s\n",
		       str_of(ep, "group"), str_of(ep, "node"),
		       str_of(ep, "nodes"), str_of(ep, "sent"),
		       str_of(ep, "delivered"), str_of(ep, "held_now"),
		       str_of(ep, "gaps"));
		if (json_object_object_get_ex(ep, "clock", &clock))
			printf("  clock %s\n", json_object_to_json_string(clock));
		printf("  %-5s %-7s %9s %6s %8s %10s %9s %9s %6s  %-21s %s\n",
		       "PEER", "STATE", "WATERMARK", "QUEUED", "BYTES",
		       "OLDEST_US", "SENT", "DELIVERED", "ERRORS", "LOCAL",
		       "REMOTE");
		json_object_object_get_ex(ep, "channels", &chs);
		for (j = 0; j < json_object_array_length(chs); j++) {
			struct json_object *ch = json_object_array_get_idx(chs, j);

			printf("  %-5s %-7s %9s %6s %8s %10s %9s %9s %6s  %-21s %s%s%s\n",
			       str_of(ch, "peer"), str_of(ch, "state"),
			       str_of(ch, "watermark"), str_of(ch, "queued"),
			       str_of(ch, "bytes"), str_of(ch, "oldest_hold_us"),
			       str_of(ch, "sent"), str_of(ch, "delivered"),
			       str_of(ch, "errors"), str_of(ch, "local"),
			       str_of(ch, "remote"),
			       json_object_object_get_ex(ch, "last_error", NULL) ?
			       "  last error: " : "",
			       json_object_object_get_ex(ch, "last_error", NULL) ?
			       str_of(ch, "last_error") : "");
			status_print_holds(ch);
		}
	}
}

int cmd_status(int argc, char **argv)
{
	const char *path = "/proc/net/causal";
	struct json_object *eps;
	FILE *fp;

	while (ctl_getopt(argc, argv) != -1)
		;
	if (optind < argc)
		return ctl_usage_error("status takes no arguments ('%s')",
				       argv[optind]);
	fp = fopen(path, "r");
	if (!fp)
		return ctl_error(errno == ENOENT ?
				 "%s does not exist: is the causal module loaded (modprobe causal)?" :
				 "%s: %s", path, strerror(errno));
	eps = causal_procfs_parse(fp);
	fclose(fp);
	if (!eps)
		return ctl_error("%s: unexpected format", path);
	if (ctl.json) {
		json_print(eps);
		return 0;
	}
	status_print(eps);
	json_object_put(eps);
	return 0;
}

/* ---- trace ---- */

struct trace_state {
	const char *host;
	struct clog_writer *writer;	/* -j: the log's own line format */
	struct clog_meta meta;		/* the clocks as the trace began */
	unsigned long events;
};

static void fmt_ns(char *buf, size_t len, __u64 ns)
{
	if (ns >= 1000000000ULL)
		snprintf(buf, len, "%.2fs", ns / 1e9);
	else if (ns >= 1000000)
		snprintf(buf, len, "%.2fms", ns / 1e6);
	else
		snprintf(buf, len, "%.1fus", ns / 1e3);
}

/* The DETAIL column: what the event says beyond its identity. */
static void trace_detail(char *buf, size_t len, const struct causal_event *ev)
{
	char t[32], link[128];

	switch (ev->type) {
	case CAUSAL_EV_SEND:
		snprintf(buf, len, "%u bytes to %u channel%s", ev->len,
			 ev->targets, ev->targets == 1 ? "" : "s");
		break;
	case CAUSAL_EV_ARRIVE:
		snprintf(buf, len, "%u bytes", ev->len);
		break;
	case CAUSAL_EV_HOLD:
		snprintf(buf, len, "waits for %u:%llu", ev->wait_node,
			 (unsigned long long)ev->wait_stamp);
		break;
	case CAUSAL_EV_DELIVER:
		fmt_ns(t, sizeof(t), ev->held_ns);
		snprintf(buf, len, "held %s%s", t, ev->gap ? " GAP" : "");
		break;
	case CAUSAL_EV_PEER:
		clog_link_str(&ev->link, link, sizeof(link));
		snprintf(buf, len, "%s %s", ev->joined ? "joined" : "left", link);
		break;
	case CAUSAL_EV_ERROR:
		snprintf(buf, len, "channel failed: %s",
			 causal_proto_err_name(ev->err));
		break;
	case CAUSAL_EV_TCP_RETRANSMIT:
	case CAUSAL_EV_TCP_RESET:
		clog_link_str(&ev->link, link, sizeof(link));
		snprintf(buf, len, "%s%s", link,
			 ev->type == CAUSAL_EV_TCP_RESET ?
			 (ev->tcp_rx ? " reset received" : " reset sent") : "");
		break;
	case CAUSAL_EV_TCP_STATE:
		clog_link_str(&ev->link, link, sizeof(link));
		snprintf(buf, len, "%s %s -> %s", link,
			 clog_tcp_state_name(ev->tcp_oldstate),
			 clog_tcp_state_name(ev->tcp_state));
		break;
	default:
		buf[0] = 0;
	}
}

static int trace_event(void *ctx, const struct causal_event *ev)
{
	struct trace_state *st = ctx;
	char detail[192], peer[8], time_s[32], pid[12];
	bool tcp = ev->type >= CAUSAL_EV_TCP_RETRANSMIT;
	__s64 wall_ns;
	time_t sec;
	struct tm tm;

	st->events++;
	if (ctl.json) {
		const char *line;
		size_t len;

		line = clog_writer_line(st->writer, ev, st->host, &len);
		if (!line || fwrite(line, 1, len, stdout) != len ||
		    putchar('\n') == EOF)
			return -EIO;
		return 0;
	}
	/* When it happened: its CLOCK_MONOTONIC time on the wall clock of
	 * the trace's start.
	 */
	wall_ns = (__s64)st->meta.realtime_ns +
		  ((__s64)ev->ts_ns - (__s64)st->meta.started_ts);
	sec = wall_ns / 1000000000;
	localtime_r(&sec, &tm);
	strftime(time_s, sizeof(time_s), "%H:%M:%S", &tm);
	snprintf(time_s + strlen(time_s), sizeof(time_s) - strlen(time_s),
		 ".%06lld", (long long)(wall_ns % 1000000000 / 1000));
	if (ev->peer == CAUSAL_EV_NO_PEER)
		snprintf(peer, sizeof(peer), "-");
	else
		snprintf(peer, sizeof(peer), "%u", ev->peer);
	if (ev->pid)
		snprintf(pid, sizeof(pid), "%u", ev->pid);
	else
		snprintf(pid, sizeof(pid), "-");
	trace_detail(detail, sizeof(detail), ev);
	if (tcp)
		printf("%-15s %-14s %-10s %-4s %-4s %-8s %-7s %-15s %s\n", time_s,
		       clog_type_name(ev->type), "-", "-", "-", "-", pid,
		       ev->pid && ev->comm[0] ? ev->comm : "-", detail);
	else
		printf("%-15s %-14s %-10u %-4u %-4s %-8llu %-7s %-15s %s\n",
		       time_s, clog_type_name(ev->type), ev->group, ev->node,
		       peer, (unsigned long long)ev->stamp, pid,
		       ev->pid && ev->comm[0] ? ev->comm : "-", detail);
	return 0;
}

const struct ctl_opt trace_opts[] = {
	{ "group",	'g', "GROUP",	"only this causal group" },
	{ "node",	'n', "NODE",	"only this node id" },
	{ "pid",	'p', "PID",	"only this process's endpoints (and what they receive)" },
	{ "events",	'e', "TYPES",	"only these event types, comma-separated (below)" },
	{ "addr",	'a', "ADDR",	"only connections with this IPv4/IPv6 address at an end" },
	{ "port",	'P', "PORT",	"only connections with this port at an end" },
	{ "tcp-all",	OPT_TCP_ALL, NULL, "TCP events of every connection, not only channels'" },
	{ "duration",	'd', "SECONDS",	"stop after this long (default: at SIGINT, SIGTERM)" },
	{ "host",	OPT_HOST, "NAME", "host name of the -j lines (default the hostname)" },
	{}
};

const char trace_more[] =
"TYPES: send, arrive, hold, deliver, clock, peer, error, tcp_retransmit,\n"
"tcp_state, tcp_reset; causal or tcp for each kind.\n"
"TIME is when the event happened, on the wall clock, to the microsecond.\n"
"PID and COMM of TCP rows: the task of a state change made in a system call\n"
"(connect, listen, close), else -. --addr and --port keep the events that\n"
"have a connection (TCP, peer). Without the module, TCP events only: of no\n"
"channel unless --tcp-all. -j: the event log's lines (docs/events.md), a\n"
"meta line first, as causald writes them.\n"
"\nexamples:\n"
"  causalctl trace -g 7 -e hold,deliver     holds and deliveries of group 7\n"
"  causalctl trace --tcp-all --port 5000    TCP events of port 5000\n"
"  causalctl trace -j -d 60 > host.jsonl    a minute's log for analyze\n"
"exit status: 0, 1 when tracing fails, 2 on bad usage\n";

/* @s as a number up to @max; clears *ok when it is not one. */
static unsigned long parse_ulong(const char *s, unsigned long max, bool *ok)
{
	__u64 v = 0;

	*ok = cu_parse_u64(s, max, &v) && *ok;
	return v;
}

int cmd_trace(int argc, char **argv)
{
	struct tracer_opts o = {};
	struct trace_state st = {};
	char err[512], host[256];
	unsigned long duration = 0;
	struct tracer *t;
	time_t end = 0;
	bool ok = true;
	__u64 lost;
	long mask;
	int c;

	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = 0;
	st.host = host;
	while ((c = ctl_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'g':
			o.filter_group = true;
			o.group = parse_ulong(optarg, UINT32_MAX, &ok);
			break;
		case 'n':
			o.filter_node = true;
			o.node = parse_ulong(optarg, CAUSAL_EV_MAX_NODES - 1, &ok);
			break;
		case 'p':
			o.pid = parse_ulong(optarg, INT32_MAX, &ok);
			break;
		case 'e':
			mask = tracer_parse_types(optarg);
			if (mask <= 0)
				return ctl_usage_error("unknown event type in '%s'",
						       optarg);
			o.ev_mask = mask;
			break;
		case 'a':
			if (tracer_parse_addr(&o, optarg))
				return ctl_usage_error("'%s' is not an IPv4 or IPv6 address",
						       optarg);
			break;
		case 'P':
			o.port = parse_ulong(optarg, 65535, &ok);
			ok = ok && o.port;
			break;
		case 'd':
			duration = parse_ulong(optarg, 86400 * 365, &ok);
			break;
		case OPT_TCP_ALL:
			o.tcp_all = true;
			break;
		case OPT_HOST:
			st.host = optarg;
			break;
		}
		if (!ok)
			return ctl_usage_error("bad value '%s'", optarg);
	}
	if (optind < argc)
		return ctl_usage_error("unexpected '%s'", argv[optind]);
	o.verbose = ctl.verbose;

	/* A channel's totals are causald's, not a line of the trace. */
	o.ev_mask = (o.ev_mask ? o.ev_mask : CAUSAL_EV_ALL) &
		    ~CAUSAL_EV_BIT(CAUSAL_EV_TOTALS);
	if (!o.ev_mask)
		return ctl_usage_error("-e totals: causald reads them, trace does not");
	st.writer = clog_writer_new();
	if (!st.writer)
		return ctl_error("out of memory");
	t = tracer_open(&o, trace_event, &st, err, sizeof(err));
	if (!t) {
		clog_writer_free(st.writer);
		return ctl_error("%s", err);
	}
	/* Event times are CLOCK_MONOTONIC: this line puts them on the wall
	 * clock, for the rows and for analyze.
	 */
	clog_meta_now(&st.meta);
	if (!tracer_has_module(t))
		fprintf(stderr,
			"causalctl: the causal module is not loaded: tracing TCP events only%s\n",
			o.tcp_all ? "" :
			"; without channels none is shown: --tcp-all shows every connection's");
	if (ctl.json) {
		int ret = clog_write(stdout, clog_meta_json(st.host, &st.meta));

		if (ret) {
			tracer_close(t);
			clog_writer_free(st.writer);
			return ctl_error("writing the meta line: %s",
					 strerror(-ret));
		}
	} else {
		printf("%-15s %-14s %-10s %-4s %-4s %-8s %-7s %-15s %s\n", "TIME",
		       "EVENT", "GROUP", "NODE", "PEER", "STAMP", "PID", "COMM",
		       "DETAIL");
	}
	fflush(stdout);
	catch_stop_signals();
	if (duration)
		end = time(NULL) + duration;
	while (!stopping && (!end || time(NULL) < end)) {
		int n = tracer_poll(t, 200);

		/* Once per batch: a pipe sees events as they come, at the
		 * cost of one write per batch instead of one per event.
		 */
		fflush(stdout);
		if (n < 0 && n != -EINTR) {
			tracer_close(t);
			clog_writer_free(st.writer);
			return ctl_error("reading events: %s", strerror(-n));
		}
	}
	/* What is still in the ring buffer, then the drop count. */
	tracer_poll(t, 0);
	fflush(stdout);
	lost = tracer_lost(t, NULL);
	if (lost)
		fprintf(stderr, "causalctl: %llu events lost (ring buffer full)\n",
			(unsigned long long)lost);
	tracer_close(t);
	clog_writer_free(st.writer);
	return 0;
}

/* ---- top ---- */

/* One snapshot of causald's model: a JSON document, read to EOF. */
static struct json_object *top_fetch(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct json_tokener *tok;
	struct json_object *obj = NULL;
	char buf[65536];
	ssize_t n;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		snprintf(err, errlen, errno == EACCES ?
			 "%s: permission denied (root, or the group causald was given with --socket-group)" :
			 errno == ENOENT || errno == ECONNREFUSED ?
			 "%s: causald is not running" : "%s: %s",
			 path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (write(fd, "top\n", 4) != 4) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	tok = json_tokener_new();
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		obj = json_tokener_parse_ex(tok, buf, n);
		if (obj || json_tokener_get_error(tok) != json_tokener_continue)
			break;
	}
	if (!obj)
		snprintf(err, errlen, "%s: no valid answer from causald", path);
	json_tokener_free(tok);
	close(fd);
	return obj;
}

static __u64 u64_of(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ?
	       json_object_get_uint64(v) : 0;
}

static void top_print(struct json_object *snap)
{
	struct json_object *groups, *peers, *held;
	char p50[16], p99[16], max[16], blame[16], when[16];
	size_t i, j;
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("causalctl top - %s  causald pid %llu, up %llus, %llu events, %llu lost, %llu dropped from tables\n",
	       when, (unsigned long long)u64_of(snap, "pid"),
	       (unsigned long long)u64_of(snap, "uptime_s"),
	       (unsigned long long)u64_of(snap, "events"),
	       (unsigned long long)u64_of(snap, "lost"),
	       (unsigned long long)u64_of(snap, "table_drops"));
	if (!json_object_object_get_ex(snap, "groups", &groups) ||
	    !json_object_array_length(groups)) {
		puts("no causal traffic seen yet");
		return;
	}
	for (i = 0; i < json_object_array_length(groups); i++) {
		struct json_object *g = json_object_array_get_idx(groups, i);

		printf("\ngroup %llu  health %llu/100: %s\n",
		       (unsigned long long)u64_of(g, "group"),
		       (unsigned long long)u64_of(g, "health"),
		       str_of(g, "health_reason"));
		printf("%-4s %-4s %9s %7s %8s %9s %9s %9s %9s %7s\n", "NODE",
		       "PEER", "DELIVERED", "HELD", "HELD_NOW", "HOLD_P50",
		       "HOLD_P99", "HOLD_MAX", "BLAMED", "RETRANS");
		json_object_object_get_ex(g, "peers", &peers);
		for (j = 0; j < json_object_array_length(peers); j++) {
			struct json_object *p = json_object_array_get_idx(peers, j);

			fmt_ns(p50, sizeof(p50), u64_of(p, "hold_p50_ns"));
			fmt_ns(p99, sizeof(p99), u64_of(p, "hold_p99_ns"));
			fmt_ns(max, sizeof(max), u64_of(p, "hold_max_ns"));
			fmt_ns(blame, sizeof(blame), u64_of(p, "blamed_ns"));
			printf("%-4llu %-4llu %9llu %7llu %8llu %9s %9s %9s %9s %7llu\n",
			       (unsigned long long)u64_of(p, "node"),
			       (unsigned long long)u64_of(p, "peer"),
			       (unsigned long long)u64_of(p, "delivered"),
			       (unsigned long long)u64_of(p, "held"),
			       (unsigned long long)u64_of(p, "held_now"),
			       p50, p99, max, blame,
			       (unsigned long long)u64_of(p, "retransmits"));
		}
		if (json_object_object_get_ex(g, "held_now", &held) &&
		    json_object_array_length(held)) {
			puts("held now:");
			for (j = 0; j < json_object_array_length(held) && j < 10; j++) {
				struct json_object *h = json_object_array_get_idx(held, j);

				fmt_ns(max, sizeof(max), u64_of(h, "age_ns"));
				printf("  node %llu holds %llu:%llu for %s, waiting for %llu:%llu\n",
				       (unsigned long long)u64_of(h, "node"),
				       (unsigned long long)u64_of(h, "peer"),
				       (unsigned long long)u64_of(h, "stamp"), max,
				       (unsigned long long)u64_of(h, "wait_node"),
				       (unsigned long long)u64_of(h, "wait_stamp"));
			}
		}
	}
}

const struct ctl_opt top_opts[] = {
	{ "delay",	'd', "SECONDS",	"between refreshes (default 1)" },
	{ "count",	'n', "COUNT",	"refreshes, then exit (default: until SIGINT)" },
	{ "socket",	's', "SOCKET",	"causald's socket (default " CAUSALD_SOCKET ")" },
	{}
};

const char top_more[] =
"A live view of causald's per-group, per-peer model: it needs causald.\n"
"\nexamples:\n"
"  causalctl top                  refreshed every second\n"
"  causalctl top -j -n 1          one snapshot as JSON\n";

int cmd_top(int argc, char **argv)
{
	const char *path = CAUSALD_SOCKET;
	unsigned long delay = 1, count = 0, i;
	bool ok = true, tty = isatty(STDOUT_FILENO);
	struct json_object *snap;
	char err[512];
	int c;

	while ((c = ctl_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'd':
			delay = parse_ulong(optarg, 3600, &ok);
			break;
		case 'n':
			count = parse_ulong(optarg, ULONG_MAX, &ok);
			break;
		case 's':
			path = optarg;
			break;
		}
		if (!ok)
			return ctl_usage_error("bad value '%s'", optarg);
	}
	if (optind < argc)
		return ctl_usage_error("unexpected '%s'", argv[optind]);
	catch_stop_signals();
	for (i = 0; !stopping && (!count || i < count); i++) {
		if (i)
			sleep(delay ? delay : 1);
		if (stopping)
			break;
		snap = top_fetch(path, err, sizeof(err));
		if (!snap)
			return ctl_error("%s", err);
		if (ctl.json) {
			json_print(snap);
		} else {
			if (tty)
				fputs("\033[H\033[2J", stdout);
			top_print(snap);
			json_object_put(snap);
		}
		fflush(stdout);
	}
	return 0;
}

/* ---- main ---- */

static const char status_more[] =
"From /proc/net/causal of this network namespace; no daemon needed.\n"
"\nexamples:\n"
"  causalctl status\n"
"  causalctl status -j | jq '.[].channels[].oldest_hold_us'\n"
"exit status: 0, 1 when the module is not loaded, 2 on bad usage\n";

static const char help_more[] =
"\nexamples:\n"
"  causalctl help trace\n";

static int cmd_help(int argc, char **argv);

/* The commands: dispatch, usage and completion (tools/completion) follow
 * this table.
 */
static const struct ctl_cmd cmds[] = {
	{ "status",  cmd_status,  NULL, "endpoints, channels, clocks, counters (/proc/net/causal)",
	  NULL, status_more },
	{ "trace",   cmd_trace,   NULL, "live events of the module and of its TCP connections",
	  trace_opts, trace_more },
	{ "top",     cmd_top,     NULL, "live per-group, per-peer view from causald",
	  top_opts, top_more },
	{ "analyze", cmd_analyze, "LOG...", "merge event logs, check causality, rank causes",
	  analyze_opts, analyze_more },
	{ "export",  cmd_export,  "LOG...", "ShiViz log or space-time diagram of event logs",
	  export_opts, export_more },
	{ "why",     cmd_why,     "GROUP NODE SENDER:STAMP LOG...",
	  "why one message was held: its causal chain, the cause, what to do",
	  NULL, why_more },
	{ "help",    cmd_help,    "[COMMAND]", "this text, or a command's usage",
	  NULL, help_more },
};

#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	const struct ctl_opt *o;
	size_t i;

	fprintf(f, "usage: causalctl [OPTIONS] COMMAND [ARGS]\n"
		   "       causalctl help COMMAND, causalctl COMMAND --help: a command's usage\n"
		   "\ncommands:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].doc);
	fputs("\noptions (also after the command):\n", f);
	for (o = global_opts; o->name; o++)
		if (o->key != 'h')
			opt_usage(f, o, true);
	fputs("  -V, --version            the tools', the loaded module's and libbpf's versions\n"
	      "  -h, --help               this text\n", f);
}

/* Like bpftool, any unambiguous prefix names a command; NULL after saying
 * why not.
 */
static const struct ctl_cmd *find_cmd(const char *name)
{
	const struct ctl_cmd *found = NULL;
	size_t i, len = strlen(name);

	for (i = 0; i < NCMDS && len; i++) {
		if (strncmp(cmds[i].name, name, len))
			continue;
		if (strlen(cmds[i].name) == len)
			return &cmds[i];
		if (found) {
			ctl_error("'%s' is ambiguous (causalctl help)", name);
			return NULL;
		}
		found = &cmds[i];
	}
	if (!found)
		ctl_error("unknown command '%s' (causalctl help)", name);
	return found;
}

static int cmd_help(int argc, char **argv)
{
	const struct ctl_cmd *cmd;

	while (ctl_getopt(argc, argv) != -1)
		;
	if (optind >= argc) {
		usage(stdout);
		return 0;
	}
	if (argc - optind > 1)
		return ctl_usage_error("one COMMAND at most");
	cmd = find_cmd(argv[optind]);
	if (!cmd)
		return CTL_EXIT_USAGE;
	cmd_usage(stdout, cmd);
	return 0;
}

/* The tools' version, the loaded module's (MODULE_VERSION) and libbpf's. */
static int print_version(void)
{
	char mod[128], lib[32];
	int m = tracer_module_version(mod, sizeof(mod));

	snprintf(lib, sizeof(lib), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
	if (ctl.json) {
		struct json_object *obj = json_object_new_object();

		json_object_object_add(obj, "version",
				       json_object_new_string(CAUSAL_VERSION));
		json_object_object_add(obj, "module_loaded",
				       json_object_new_boolean(m != -ENOENT));
		json_object_object_add(obj, "module_version",
				       m ? NULL : json_object_new_string(mod));
		json_object_object_add(obj, "libbpf_version",
				       json_object_new_string(lib));
		json_print(obj);
		return 0;
	}
	printf("causalctl %s\n", CAUSAL_VERSION);
	printf("module %s\n", !m ? mod : m == -ENOENT ? "not loaded" :
	       "loaded, without a version");
	printf("libbpf v%s\n", lib);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json",	no_argument, NULL, 'j' },
		{ "pretty",	no_argument, NULL, 'p' },
		{ "verbose",	no_argument, NULL, 'v' },
		{ "help",	no_argument, NULL, 'h' },
		{ "version",	no_argument, NULL, 'V' },
		{}
	};
	const struct ctl_cmd *cmd;
	bool version = false;
	int c;

	/* The options before the command; the command's parser takes these
	 * too, after it, and its own.
	 */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jpvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctl.json = true;
			break;
		case 'p':
			ctl.json = ctl.pretty = true;
			break;
		case 'v':
			ctl.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			version = true;
			break;
		default:
			ctl_error("unknown option '%s' (causalctl help)",
				  argv[optind - 1]);
			return CTL_EXIT_USAGE;
		}
	}
	opterr = 1;
	if (version)
		return print_version();
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	cmd = find_cmd(argv[optind]);
	if (!cmd)
		return CTL_EXIT_USAGE;
	ctl.cmd = cmd;
	c = cmd->fn(argc - optind, argv + optind);
	return c < 0 ? 1 : c;
}
