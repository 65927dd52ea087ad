// SPDX-License-Identifier: GPL-2.0
/*
 * causald: reads the module's aggregates every second, loads the causal BPF
 * programs for the rare events (all of them with --audit), keeps a live
 * model of both, writes the events to a JSON-lines log with rotation, serves
 * the model as Prometheus metrics over HTTP and to `causalctl top` over a
 * unix socket. See causald(8).
 *
 * One thread reads the ring buffer, /proc/net/causal, the log, the unix
 * socket and signals; libmicrohttpd's thread serves HTTP. model_lock keeps
 * them apart.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <microhttpd.h>
#include <bpf/libbpf.h>

#include "causal_log.h"
#include "causal_model.h"
#include "causal_cutil.h"
#include "tracer.h"

static struct env {
	const char *log_path;
	unsigned long log_max_bytes;
	unsigned int log_keep;
	const char *listen;
	const char *socket_path;
	const char *socket_group;
	const char *pid_path;
	const char *host;
	bool audit;
	unsigned long audit_for_s;	/* 0: for as long as it runs */
	struct tracer_opts tracer;
	struct causal_model_limits limits;
} env = {
	.log_path = "/var/log/causald/events.jsonl",
	.log_max_bytes = 64UL << 20,
	.log_keep = 4,
	.listen = "127.0.0.1:9477",
	.socket_path = "/run/causald.sock",
	.pid_path = "/run/causald.pid",
	.limits = CAUSAL_MODEL_DEFAULT_LIMITS,
};

/* --version: the tools' version, the loaded module's and libbpf's. */
static void print_version(FILE *f, struct argp_state *state)
{
	char mod[128];
	int m = tracer_module_version(mod, sizeof(mod));

	fprintf(f, "causald %s\nmodule %s\nlibbpf v%u.%u\n", CAUSAL_VERSION,
		!m ? mod : m == -ENOENT ? "not loaded" : "loaded, without a version",
		libbpf_major_version(), libbpf_minor_version());
}

void (*argp_program_version_hook)(FILE *, struct argp_state *) = print_version;
static const char doc[] =
"Trace causal delivery on this host: log events, serve metrics and causalctl top.\n"
"\v"
"By default it reads the module's own counts every second and takes only the\n"
"rare events (hold, peer, error, totals, TCP): nearly free. --audit takes every\n"
"event, as causalctl analyze needs, for --for DURATION or until it stops.\n"
"The event log is JSON lines (docs/events.md); it is rotated at --log-size to\n"
"FILE.1 .. FILE.N. SIGHUP reopens it (for logrotate); SIGTERM and SIGINT stop.\n"
"Metrics: http://ADDR/metrics. Use --listen none to serve no HTTP.";

enum {
	OPT_LOG_SIZE = 0x100, OPT_LOG_KEEP, OPT_SOCKET_GROUP, OPT_PIDFILE,
	OPT_TCP_ALL, OPT_RINGBUF, OPT_HOST, OPT_AUDIT, OPT_FOR,
};

static const struct argp_option opts[] = {
	{ "log", 'l', "FILE", 0, "Event log (default /var/log/causald/events.jsonl), - for stdout" },
	{ "log-size", OPT_LOG_SIZE, "MIB", 0, "Rotate the log at this size (default 64)" },
	{ "log-keep", OPT_LOG_KEEP, "N", 0, "Rotated logs to keep (default 4)" },
	{ "listen", 'L', "ADDR:PORT", 0, "HTTP metrics address (default 127.0.0.1:9477), or none" },
	{ "socket", 's', "PATH", 0, "Unix socket for causalctl top (default /run/causald.sock)" },
	{ "socket-group", OPT_SOCKET_GROUP, "GROUP", 0, "Group allowed to use the socket (default root only)" },
	{ "pidfile", OPT_PIDFILE, "PATH", 0, "Lock against a second daemon (default /run/causald.pid)" },
	{ "host", OPT_HOST, "NAME", 0, "Host name written in the log (default the hostname)" },
	{ "audit", OPT_AUDIT, NULL, 0, "Every event, not only the rare ones (costs throughput)" },
	{ "for", OPT_FOR, "DURATION", 0, "With --audit: then back to the rare events (s, m, h; default: for good)" },
	{ "group", 'g', "GROUP", 0, "Only this causal group" },
	{ "node", 'n', "NODE", 0, "Only this node id" },
	{ "tcp-all", OPT_TCP_ALL, NULL, 0, "TCP events of every connection, not only causal channels" },
	{ "ringbuf", OPT_RINGBUF, "MIB", 0, "Ring buffer size (default 8)" },
	{ "max-held", 'H', "N", 0, "Held messages tracked (default 65536)" },
	{ "verbose", 'v', NULL, 0, "libbpf's messages and the verifier's log on stderr" },
	{},
};

static unsigned long parse_num(const char *arg, unsigned long max,
			       struct argp_state *state)
{
	__u64 v;

	if (!cu_parse_u64(arg, max, &v))
		argp_error(state, "bad number '%s'", arg);
	return v;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'l':
		env.log_path = arg;
		break;
	case OPT_LOG_SIZE:
		env.log_max_bytes = parse_num(arg, 1 << 20, state) << 20;
		if (!env.log_max_bytes)
			argp_error(state, "--log-size must be at least 1");
		break;
	case OPT_LOG_KEEP:
		env.log_keep = parse_num(arg, 1000, state);
		break;
	case 'L':
		env.listen = arg;
		break;
	case 's':
		env.socket_path = arg;
		break;
	case OPT_SOCKET_GROUP:
		env.socket_group = arg;
		break;
	case OPT_PIDFILE:
		env.pid_path = arg;
		break;
	case OPT_HOST:
		env.host = arg;
		break;
	case OPT_AUDIT:
		env.audit = true;
		break;
	case OPT_FOR: {
		char *end;

		errno = 0;
		env.audit_for_s = strtoul(arg, &end, 10);
		if (errno || end == arg || *arg == '-' || !env.audit_for_s)
			argp_error(state, "bad --for '%s'", arg);
		if (!strcmp(end, "m"))
			env.audit_for_s *= 60;
		else if (!strcmp(end, "h"))
			env.audit_for_s *= 3600;
		else if (*end && strcmp(end, "s"))
			argp_error(state, "bad --for '%s': a number of s, m or h", arg);
		break;
	}
	case ARGP_KEY_END:
		if (env.audit_for_s && !env.audit)
			argp_error(state, "--for goes with --audit");
		break;
	case 'g':
		env.tracer.filter_group = true;
		env.tracer.group = parse_num(arg, UINT32_MAX, state);
		break;
	case 'n':
		env.tracer.filter_node = true;
		env.tracer.node = parse_num(arg, CAUSAL_EV_MAX_NODES - 1, state);
		break;
	case OPT_TCP_ALL:
		env.tracer.tcp_all = true;
		break;
	case OPT_RINGBUF:
		env.tracer.ringbuf_bytes = parse_num(arg, 1024, state) << 20;
		/* A power of two of at least a page, as BPF wants. */
		if (!env.tracer.ringbuf_bytes ||
		    env.tracer.ringbuf_bytes & (env.tracer.ringbuf_bytes - 1))
			argp_error(state, "--ringbuf must be a power of two");
		break;
	case 'H':
		env.limits.held = parse_num(arg, 1 << 24, state);
		break;
	case 'v':
		env.tracer.verbose = true;
		break;
	case ARGP_KEY_ARG:
		argp_usage(state);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;
static struct causal_model *model;
static char host[CLOG_HOST_MAX];
static time_t started;

/* ---- the event log ---- */

static struct {
	FILE *f;
	unsigned long bytes;	/* written to the current file */
	__u64 lost_logged[CAUSAL_EV_TYPES];	/* kernel drops already written */
	unsigned long write_errors;
} logw;

static void log_meta(void)
{
	struct clog_meta meta;

	clog_meta_now(&meta);
	clog_write(logw.f, clog_meta_json(host, &meta));
}

static int log_open(void)
{
	struct stat st;
	char *dir, *slash;

	if (!strcmp(env.log_path, "-")) {
		logw.f = stdout;
		log_meta();
		return 0;
	}
	dir = strdup(env.log_path);
	slash = dir ? strrchr(dir, '/') : NULL;
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0750);
	}
	free(dir);
	logw.f = fopen(env.log_path, "ae");
	if (!logw.f)
		return -errno;
	/* The log says who talks to whom: not for everyone's eyes. */
	fchmod(fileno(logw.f), 0640);
	logw.bytes = fstat(fileno(logw.f), &st) ? 0 : st.st_size;
	log_meta();
	return 0;
}

static void log_close(void)
{
	if (logw.f && logw.f != stdout)
		fclose(logw.f);
	else if (logw.f)
		fflush(logw.f);
	logw.f = NULL;
}

/* FILE -> FILE.1 -> ... -> FILE.N, the oldest dropped. */
static void log_rotate(void)
{
	char from[4096], to[4096];
	unsigned int i;

	log_close();
	for (i = env.log_keep; i >= 1; i--) {
		snprintf(to, sizeof(to), "%s.%u", env.log_path, i);
		if (i == 1)
			snprintf(from, sizeof(from), "%s", env.log_path);
		else
			snprintf(from, sizeof(from), "%s.%u", env.log_path, i - 1);
		if (i == env.log_keep)
			unlink(to);
		rename(from, to);
	}
	if (!env.log_keep)
		unlink(env.log_path);
	if (log_open())
		cu_warn("cannot reopen %s: %s", env.log_path, strerror(errno));
}

static void log_write(const char *s, size_t len)
{
	if (!s || !logw.f)
		return;
	if (fwrite(s, 1, len, logw.f) != len || fputc('\n', logw.f) == EOF)
		logw.write_errors++;
	logw.bytes += len + 1;
	if (logw.f != stdout && logw.bytes >= env.log_max_bytes)
		log_rotate();
}

/* Bookkeeping lines: rare, built and dropped. */
static void log_line(struct json_object *obj)
{
	const char *s;
	size_t len;

	if (!obj)
		return;
	s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE,
					      &len);
	log_write(s, len);
	json_object_put(obj);
}

/* Events: the hot path, through the log's direct line writer. */
static struct clog_writer *writer;

static int on_event(void *ctx, const struct causal_event *ev)
{
	const char *s;
	size_t len;

	pthread_mutex_lock(&model_lock);
	causal_model_add(model, ev);
	pthread_mutex_unlock(&model_lock);
	s = clog_writer_line(writer, ev, host, &len);
	log_write(s, len);
	return 0;
}

/* Kernel drops since the last check go to the log as a "lost" line. */
static __u64 lost_closed[CAUSAL_EV_TYPES];	/* by the tracers replaced */

static void check_lost(struct tracer *t)
{
	__u64 by_type[CAUSAL_EV_TYPES], lost = tracer_lost(t, by_type), fresh = 0;
	int type;

	for (type = 0; type < CAUSAL_EV_TYPES; type++) {
		by_type[type] += lost_closed[type];
		lost += lost_closed[type];
	}
	pthread_mutex_lock(&model_lock);
	causal_model_set_lost(model, lost);
	pthread_mutex_unlock(&model_lock);
	for (type = 0; type < CAUSAL_EV_TYPES; type++) {
		by_type[type] -= logw.lost_logged[type];
		logw.lost_logged[type] += by_type[type];
		fresh += by_type[type];
	}
	if (fresh)
		log_line(clog_lost_json(host, cu_mono_ns(), fresh, by_type));
}

/* ---- the module's aggregates, of every network namespace ---- */

/* The rare events: what the default mode takes from BPF. */
#define RARE_EVENTS							\
	(CAUSAL_EV_BIT(CAUSAL_EV_HOLD) | CAUSAL_EV_BIT(CAUSAL_EV_PEER) |	\
	 CAUSAL_EV_BIT(CAUSAL_EV_ERROR) | CAUSAL_EV_BIT(CAUSAL_EV_TOTALS) |	\
	 CAUSAL_EV_TCP)

static struct {
	struct stat *seen;	/* the namespaces read in this pass */
	size_t n, cap;
	int self_fd;		/* our own, to come back to */
	bool noted;		/* a bad file was reported */
} ns = { .self_fd = -1 };

/* Is the namespace at @path one not read yet in this pass? */
static bool netns_unseen(const char *path)
{
	struct stat st;
	size_t i;

	if (stat(path, &st))
		return false;
	for (i = 0; i < ns.n; i++)
		if (ns.seen[i].st_dev == st.st_dev &&
		    ns.seen[i].st_ino == st.st_ino)
			return false;
	if (ns.n == ns.cap) {
		size_t cap = ns.cap ? 2 * ns.cap : 64;
		struct stat *v = realloc(ns.seen, cap * sizeof(*v));

		if (!v)
			return false;
		ns.seen = v;
		ns.cap = cap;
	}
	ns.seen[ns.n++] = st;
	return true;
}

/* @path (a /proc/net/causal) into the model; the caller holds model_lock. */
static void read_causal(const char *path)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	if (causal_model_read_procfs(model, f) && !ns.noted) {
		cu_warn("%s: not in the format these tools know", path);
		ns.noted = true;
	}
	fclose(f);
}

/*
 * Every namespace's channels, once: by a process in it, or for a named one
 * without processes (ip netns add) by entering it with this thread.
 */
static void read_aggregates(struct tracer *t)
{
	char path[300];
	struct dirent *de;
	DIR *d;
	int fd;

	/* Drained first: a channel gone from the files has its totals in. */
	tracer_poll(t, 0);
	ns.n = 0;
	pthread_mutex_lock(&model_lock);
	causal_model_read_begin(model);
	netns_unseen("/proc/self/ns/net");
	read_causal("/proc/self/net/causal");
	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (!netns_unseen(path))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/net/causal", de->d_name);
		read_causal(path);
	}
	if (d)
		closedir(d);
	d = ns.self_fd >= 0 ? opendir("/run/netns") : NULL;
	while (d && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if (de->d_name[0] == '.' || !netns_unseen(path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!setns(fd, CLONE_NEWNET)) {
			read_causal("/proc/thread-self/net/causal");
			if (setns(ns.self_fd, CLONE_NEWNET))
				cu_die("cannot return to our network namespace: %s",
				       strerror(errno));
		}
		close(fd);
	}
	if (d)
		closedir(d);
	causal_model_read_end(model);
	pthread_mutex_unlock(&model_lock);
}

/* ---- causalctl top over a unix socket ---- */

static int top_listen(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t mode = 0600;
	int fd;

	if (strlen(env.socket_path) >= sizeof(sun.sun_path))
		cu_die("socket path too long: %s", env.socket_path);
	strcpy(sun.sun_path, env.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		cu_die("socket: %s", strerror(errno));
	/* The pid file lock says no other causald owns a stale socket. */
	unlink(env.socket_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 16))
		cu_die("%s: %s", env.socket_path, strerror(errno));
	if (env.socket_group) {
		struct group *g = getgrnam(env.socket_group);

		if (!g || chown(env.socket_path, 0, g->gr_gid))
			cu_die("--socket-group %s: %s", env.socket_group,
			       g ? strerror(errno) : "no such group");
		mode = 0660;
	}
	if (chmod(env.socket_path, mode))
		cu_die("%s: %s", env.socket_path, strerror(errno));
	return fd;
}

/* Answer one client: its request line, then the snapshot, then close. A
 * slow client is cut off after a second instead of stalling the events.
 */
static void top_serve(int lfd)
{
	struct timeval tv = { .tv_sec = 1 };
	struct json_object *snap;
	char req[64];
	const char *s;
	size_t len, off = 0;
	ssize_t n;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		n = read(fd, req, sizeof(req) - 1);
		if (n <= 0 || strncmp(req, "top", 3)) {
			close(fd);
			continue;
		}
		pthread_mutex_lock(&model_lock);
		snap = causal_model_snapshot(model, cu_mono_ns());
		pthread_mutex_unlock(&model_lock);
		json_object_object_add(snap, "version", json_object_new_int(1));
		json_object_object_add(snap, "host", json_object_new_string(host));
		json_object_object_add(snap, "pid", json_object_new_int(getpid()));
		json_object_object_add(snap, "uptime_s",
				       json_object_new_int64(time(NULL) - started));
		s = json_object_to_json_string_length(snap, JSON_C_TO_STRING_PLAIN,
						      &len);
		for (off = 0; off < len; off += n) {
			n = write(fd, s + off, len - off);
			if (n <= 0)
				break;
		}
		json_object_put(snap);
		close(fd);
	}
}

/* ---- Prometheus over HTTP ---- */

static enum MHD_Result http_static(struct MHD_Connection *conn,
				   unsigned int status, const char *type,
				   const char *body, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	if (allow)
		MHD_add_response_header(resp, "Allow", allow);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The process_* metrics of Prometheus' client libraries, from /proc. */
static void process_metrics(FILE *f)
{
	unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
	long rss = 0, tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	char buf[1024], *p;
	unsigned int fds = 0;
	struct rlimit rl;
	struct dirent *de;
	double boot = 0;
	FILE *st;
	DIR *d;

	st = fopen("/proc/self/stat", "re");
	if (st && fgets(buf, sizeof(buf), st) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %ld",
		       &utime, &stime, &start, &vsize, &rss);
	if (st)
		fclose(st);
	st = fopen("/proc/stat", "re");
	while (st && fgets(buf, sizeof(buf), st))
		if (sscanf(buf, "btime %lf", &boot) == 1)
			break;
	if (st)
		fclose(st);
	d = opendir("/proc/self/fd");
	while (d && (de = readdir(d)))
		fds += de->d_name[0] != '.';
	if (d) {
		closedir(d);
		fds--;		/* the directory's own */
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	fprintf(f, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
		"# TYPE process_cpu_seconds_total counter\n"
		"process_cpu_seconds_total %.2f\n"
		"# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
		"# TYPE process_resident_memory_bytes gauge\n"
		"process_resident_memory_bytes %ld\n"
		"# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
		"# TYPE process_virtual_memory_bytes gauge\n"
		"process_virtual_memory_bytes %llu\n"
		"# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		"# TYPE process_start_time_seconds gauge\n"
		"process_start_time_seconds %.2f\n"
		"# HELP process_open_fds Number of open file descriptors.\n"
		"# TYPE process_open_fds gauge\n"
		"process_open_fds %u\n"
		"# HELP process_max_fds Maximum number of open file descriptors.\n"
		"# TYPE process_max_fds gauge\n"
		"process_max_fds %llu\n",
		(double)(utime + stime) / tck, rss * page, vsize,
		boot + (double)start / tck, fds,
		(unsigned long long)rl.rlim_cur);
}

static const char landing[] =
"<!DOCTYPE html>\n<html><head><title>causald</title></head><body>\n"
"<h1>causald</h1>\n"
"<p>Causal delivery on this host: <a href=\"/metrics\">metrics</a> "
"(Prometheus text format). causald(8) says what each series means.</p>\n"
"</body></html>\n";

static enum MHD_Result http_answer(void *cls, struct MHD_Connection *conn,
				   const char *url, const char *method,
				   const char *version, const char *upload,
				   size_t *upload_size, void **con_cls)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return http_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				   "text/plain; charset=utf-8",
				   "causald: only GET and HEAD\n", "GET, HEAD");
	if (!strcmp(url, "/"))
		return http_static(conn, MHD_HTTP_OK, "text/html; charset=utf-8",
				   landing, NULL);
	if (strcmp(url, "/metrics"))
		return http_static(conn, MHD_HTTP_NOT_FOUND,
				   "text/plain; charset=utf-8",
				   "causald: metrics are at /metrics\n", NULL);
	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	pthread_mutex_lock(&model_lock);
	/* The mode changes when --audit --for ends, under model_lock. */
	fprintf(f, "# HELP causald_build_info causald's version and mode; the value is 1.\n"
		"# TYPE causald_build_info gauge\n"
		"causald_build_info{version=\"%s\",mode=\"%s\"} 1\n",
		CAUSAL_VERSION, env.tracer.ev_mask == RARE_EVENTS ?
		"default" : "audit");
	causal_model_prometheus(model, f);
	pthread_mutex_unlock(&model_lock);
	fprintf(f, "# HELP causald_log_write_errors_total Event log lines that could not be written.\n"
		"# TYPE causald_log_write_errors_total counter\n"
		"causald_log_write_errors_total %lu\n", logw.write_errors);
	process_metrics(f);
	fclose(f);
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type",
				"text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static struct MHD_Daemon *http_start(void)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr *sa;
	char addr[128], *colon, *end;
	struct MHD_Daemon *d;
	unsigned long port;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (!strcmp(env.listen, "none"))
		return NULL;
	snprintf(addr, sizeof(addr), "%s", env.listen);
	colon = strrchr(addr, ':');
	if (!colon)
		cu_die("--listen %s: want ADDR:PORT", env.listen);
	*colon = 0;
	port = strtoul(colon + 1, &end, 10);
	/* Port 0: any free one (tests). */
	if (end == colon + 1 || *end || port > 65535)
		cu_die("--listen %s: bad port", env.listen);
	if (addr[0] == '[') {
		addr[strlen(addr) - 1] = 0;
		if (inet_pton(AF_INET6, addr + 1, &sin6.sin6_addr) != 1)
			cu_die("--listen %s: bad address", env.listen);
		sin6.sin6_port = htons(port);
		sa = (struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
	} else {
		if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
			cu_die("--listen %s: bad address", env.listen);
		sin.sin_port = htons(port);
		sa = (struct sockaddr *)&sin;
	}
	d = MHD_start_daemon(flags, port, NULL, NULL, http_answer, NULL,
			     MHD_OPTION_SOCK_ADDR, sa,
			     MHD_OPTION_CONNECTION_LIMIT, 16U,
			     MHD_OPTION_CONNECTION_TIMEOUT, 10U,
			     MHD_OPTION_END);
	if (!d)
		cu_die("cannot serve HTTP on %s: %s", env.listen, strerror(errno));
	return d;
}

/* --audit --for ran out: the rare events again, from a new tracer (the
 * per-message programs go; the counts are the module's, nothing is lost).
 */
static struct tracer *audit_end(int efd, struct tracer *t)
{
	struct epoll_event ev = { .events = EPOLLIN };
	__u64 by_type[CAUSAL_EV_TYPES];
	struct tracer *rare;
	char err[512];
	int type;

	pthread_mutex_lock(&model_lock);
	env.tracer.ev_mask = RARE_EVENTS;
	pthread_mutex_unlock(&model_lock);
	rare = tracer_open(&env.tracer, on_event, NULL, err, sizeof(err));
	if (!rare) {
		cu_warn("audit goes on: cannot load the rare events' tracer: %s", err);
		pthread_mutex_lock(&model_lock);
		env.tracer.ev_mask = CAUSAL_EV_ALL;
		pthread_mutex_unlock(&model_lock);
		return t;
	}
	tracer_poll(t, 0);
	check_lost(t);
	tracer_lost(t, by_type);
	for (type = 0; type < CAUSAL_EV_TYPES; type++)
		lost_closed[type] += by_type[type];
	epoll_ctl(efd, EPOLL_CTL_DEL, tracer_fd(t), NULL);
	tracer_close(t);
	ev.data.fd = tracer_fd(rare);
	epoll_ctl(efd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	cu_warn("audit over: tracing the rare events");
	return rare;
}

/* ---- one daemon at a time ---- */

/* Once the pid file is ours (locked and written), whatever ends the daemon
 * removes it, a failed start (cu_die() exits) as well as a stop: while the
 * lock is still held, so that it is never another daemon's file.
 */
static bool pid_owned;

static void pid_remove(void)
{
	if (pid_owned)
		unlink(env.pid_path);
	pid_owned = false;
}

static int pid_lock(void)
{
	char buf[32];
	int fd, n;

	fd = open(env.pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		cu_die("%s: %s", env.pid_path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		buf[strcspn(buf, "\n")] = 0;
		cu_die("already running (pid %s, lock %s)", *buf ? buf : "?",
		       env.pid_path);
	}
	pid_owned = true;
	atexit(pid_remove);
	if (ftruncate(fd, 0) == 0) {
		n = snprintf(buf, sizeof(buf), "%d\n", getpid());
		if (pwrite(fd, buf, n, 0) != n)
			cu_warn("%s: %s", env.pid_path, strerror(errno));
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_arg, NULL, doc };
	struct itimerspec tick = { { 1, 0 }, { 1, 0 } };
	/* Small batches of events raise no wakeup: take them this often. */
	const int drain_ms = 100;
	struct epoll_event ev, evs[8];
	int sfd, tfd, lfd, efd, pidfd, n, i;
	struct MHD_Daemon *http;
	struct tracer *t;
	bool running = true;
	time_t audit_until;
	char err[512];
	sigset_t mask;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	if (geteuid())
		cu_die("must run as root (it loads BPF programs)");
	if (env.host) {
		snprintf(host, sizeof(host), "%s", env.host);
	} else if (gethostname(host, sizeof(host))) {
		strcpy(host, "localhost");
	}
	host[sizeof(host) - 1] = 0;
	started = time(NULL);

	pidfd = pid_lock();
	model = causal_model_new(&env.limits);
	writer = clog_writer_new();
	if (!model || !writer)
		cu_die("out of memory");
	if (log_open())
		cu_die("%s: %s", env.log_path, strerror(errno));

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);

	ns.self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	env.tracer.ev_mask = env.audit ? CAUSAL_EV_ALL : RARE_EVENTS;
	t = tracer_open(&env.tracer, on_event, NULL, err, sizeof(err));
	if (!t)
		cu_die("%s", err);
	if (!tracer_has_module(t))
		cu_warn("the causal module is not loaded: tracing TCP events only%s",
			env.tracer.tcp_all ? "" :
			"; without channels none is logged: --tcp-all logs every connection's");
	audit_until = env.audit_for_s ? time(NULL) + env.audit_for_s : 0;
	/* The HTTP thread starts with the signals blocked, as it should. */
	http = http_start();
	lfd = top_listen();
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	timerfd_settime(tfd, 0, &tick, NULL);

	efd = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.fd = tracer_fd(t);
	epoll_ctl(efd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = lfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, tfd, &ev);
	cu_warn("tracing %s (log %s, metrics %s, socket %s)",
		env.audit ? "every event" : "the rare events", env.log_path,
		env.listen, env.socket_path);
	read_aggregates(t);

	while (running) {
		n = epoll_wait(efd, evs, 8, drain_ms);
		if (n < 0 && errno != EINTR)
			cu_die("epoll_wait: %s", strerror(errno));
		if (n <= 0)
			tracer_poll(t, 0);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == tracer_fd(t)) {
				tracer_poll(t, 0);
			} else if (fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					/* logrotate moved the file away. */
					log_close();
					if (log_open())
						cu_warn("cannot reopen %s: %s",
							env.log_path, strerror(errno));
				} else if (si.ssi_signo != SIGPIPE) {
					running = false;
				}
			} else if (fd == lfd) {
				top_serve(lfd);
			} else if (fd == tfd) {
				__u64 ticks;

				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					continue;
				read_aggregates(t);
				check_lost(t);
				if (audit_until && time(NULL) >= audit_until) {
					t = audit_end(efd, t);
					audit_until = 0;
				}
				if (logw.f)
					fflush(logw.f);
			}
		}
	}

	/* Stop: take what the kernel still has, account for drops, flush. */
	tracer_poll(t, 0);
	check_lost(t);
	tracer_close(t);
	if (http)
		MHD_stop_daemon(http);
	close(lfd);
	unlink(env.socket_path);
	log_close();
	causal_model_free(model);
	clog_writer_free(writer);
	pid_remove();
	close(pidfd);
	cu_warn("stopped");
	return 0;
}
