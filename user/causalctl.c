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

#include "causal_event.h"
#include "causal_log.h"
#include "causal_hist.h"
#include "causal_procfs.h"
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

	if (argc > 1)
		return ctl_error("status takes no arguments");
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
	char detail[192], peer[8], time_s[16];
	bool tcp = ev->type >= CAUSAL_EV_TCP_RETRANSMIT;
	struct timespec ts;
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
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(time_s, sizeof(time_s), "%H:%M:%S", &tm);
	if (ev->peer == CAUSAL_EV_NO_PEER)
		snprintf(peer, sizeof(peer), "-");
	else
		snprintf(peer, sizeof(peer), "%u", ev->peer);
	trace_detail(detail, sizeof(detail), ev);
	if (tcp)
		printf("%-8s %-14s %-10s %-4s %-4s %-8s %-7s %-15s %s\n", time_s,
		       clog_type_name(ev->type), "-", "-", "-", "-", "-", "-",
		       detail);
	else
		printf("%-8s %-14s %-10u %-4u %-4s %-8llu %-7u %-15s %s\n",
		       time_s, clog_type_name(ev->type), ev->group, ev->node,
		       peer, (unsigned long long)ev->stamp, ev->pid,
		       ev->pid ? ev->comm : "-", detail);
	return 0;
}

static const char trace_usage[] =
"usage: causalctl trace [-g GROUP] [-n NODE] [-p PID] [-e TYPES] [--tcp-all]\n"
"       [-d SECONDS] [--host NAME]\n"
"  TYPES: comma-separated send,arrive,hold,deliver,clock,peer,error,\n"
"         tcp_retransmit,tcp_state,tcp_reset, or causal, tcp\n";

static unsigned long parse_ulong(const char *s, unsigned long max, bool *ok)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	*ok = *ok && !errno && end != s && !*end && *s != '-' && v <= max;
	return v;
}

int cmd_trace(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "group",	required_argument, NULL, 'g' },
		{ "node",	required_argument, NULL, 'n' },
		{ "pid",	required_argument, NULL, 'p' },
		{ "events",	required_argument, NULL, 'e' },
		{ "duration",	required_argument, NULL, 'd' },
		{ "tcp-all",	no_argument,	   NULL, 'T' },
		{ "host",	required_argument, NULL, 'H' },
		{ "help",	no_argument,	   NULL, 'h' },
		{}
	};
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
	optind = 1;
	while ((c = getopt_long(argc, argv, "g:n:p:e:d:h", longopts, NULL)) != -1) {
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
				return ctl_error("unknown event type in '%s'\n%s",
						 optarg, trace_usage);
			o.ev_mask = mask;
			break;
		case 'd':
			duration = parse_ulong(optarg, 86400 * 365, &ok);
			break;
		case 'T':
			o.tcp_all = true;
			break;
		case 'H':
			st.host = optarg;
			break;
		case 'h':
			fputs(trace_usage, stdout);
			return 0;
		default:
			return ctl_error("bad arguments\n%s", trace_usage);
		}
		if (!ok)
			return ctl_error("bad value '%s' for -%c", optarg, c);
	}
	if (optind < argc)
		return ctl_error("unexpected '%s'\n%s", argv[optind], trace_usage);

	/* A channel's totals are causald's, not a line of the trace. */
	o.ev_mask = (o.ev_mask ? o.ev_mask : CAUSAL_EV_ALL) &
		    ~CAUSAL_EV_BIT(CAUSAL_EV_TOTALS);
	if (!o.ev_mask)
		return ctl_error("-e totals: causald reads them, trace does not");
	st.writer = clog_writer_new();
	if (!st.writer)
		return ctl_error("out of memory");
	t = tracer_open(&o, trace_event, &st, err, sizeof(err));
	if (!t) {
		clog_writer_free(st.writer);
		return ctl_error("%s", err);
	}
	if (!tracer_has_module(t))
		fprintf(stderr,
			"causalctl: the causal module is not loaded: tracing TCP events only\n");
	if (!ctl.json)
		printf("%-8s %-14s %-10s %-4s %-4s %-8s %-7s %-15s %s\n", "TIME",
		       "EVENT", "GROUP", "NODE", "PEER", "STAMP", "PID", "COMM",
		       "DETAIL");
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

static const char top_usage[] =
"usage: causalctl top [-d SECONDS] [-n COUNT] [-s SOCKET]\n"
"  A live view of causald's per-group, per-peer model (needs causald).\n";

int cmd_top(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "delay",	required_argument, NULL, 'd' },
		{ "count",	required_argument, NULL, 'n' },
		{ "socket",	required_argument, NULL, 's' },
		{ "help",	no_argument,	   NULL, 'h' },
		{}
	};
	const char *path = CAUSALD_SOCKET;
	unsigned long delay = 1, count = 0, i;
	bool ok = true, tty = isatty(STDOUT_FILENO);
	struct json_object *snap;
	char err[512];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:n:s:h", longopts, NULL)) != -1) {
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
		case 'h':
			fputs(top_usage, stdout);
			return 0;
		default:
			return ctl_error("bad arguments\n%s", top_usage);
		}
		if (!ok)
			return ctl_error("bad value '%s' for -%c", optarg, c);
	}
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

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "status",  cmd_status,  "endpoints, channels, clocks, counters (/proc/net/causal)" },
	{ "trace",   cmd_trace,   "live events of the module and of its TCP connections" },
	{ "top",     cmd_top,     "live per-group, per-peer view from causald" },
	{ "analyze", cmd_analyze, "merge event logs, check causality, rank causes" },
	{ "export",  cmd_export,  "ShiViz log or space-time diagram of event logs" },
	{ "why",     cmd_why,     "why one message was held: its causal chain, the cause, what to do" },
	{ "help",    NULL,	  "this text" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: causalctl [-j|--json] [-p|--pretty] COMMAND [ARGS]\n"
		   "       causalctl COMMAND --help\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json",	no_argument, NULL, 'j' },
		{ "pretty",	no_argument, NULL, 'p' },
		{ "help",	no_argument, NULL, 'h' },
		{ "version",	no_argument, NULL, 'V' },
		{}
	};
	const struct cmd *found = NULL;
	size_t i, len;
	int c;

	/* Options before the command only; the command parses its own. */
	while ((c = getopt_long(argc, argv, "+jphV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctl.json = true;
			break;
		case 'p':
			ctl.json = ctl.pretty = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("causalctl %s\n", CAUSAL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	/* Like bpftool, any unambiguous prefix names a command. */
	len = strlen(argv[optind]);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strncmp(cmds[i].name, argv[optind], len))
			continue;
		if (found && strlen(cmds[i].name) != len) {
			ctl_error("'%s' is ambiguous", argv[optind]);
			return 2;
		}
		found = &cmds[i];
		if (strlen(cmds[i].name) == len)
			break;
	}
	if (!found) {
		ctl_error("unknown command '%s' (causalctl help)", argv[optind]);
		return 2;
	}
	if (!found->fn) {
		usage(stdout);
		return 0;
	}
	c = found->fn(argc - optind, argv + optind);
	return c < 0 ? 1 : c;
}
