/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the causal fuzzers (selftests/causal_fuzz_*.c): a seeded
 * generator with independent streams, the run's budget from the environment,
 * class lists, errno tallies and a watchdog. Include after
 * kselftest_harness.h and causal_util.h.
 *
 * Common environment (each fuzzer documents its own on top):
 *   CAUSAL_FUZZ_SEED     run seed (decimal or 0x hex); printed at start
 *   CAUSAL_FUZZ_SECONDS  stop starting new rounds after this long
 *   CAUSAL_FUZZ_ROUND    run only this round (replay of a reported failure)
 *   CAUSAL_FUZZ_CLASSES  comma list of classes: "all", "none", NAME, -NAME
 */
#ifndef CAUSAL_FUZZ_H
#define CAUSAL_FUZZ_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FUZZ_DEFAULT_SEED	0x9c0ffee5eedULL

/* splitmix64: tiny, fast, and every (seed, stream) pair gives its own
 * sequence, so one round or one peer replays without the others.
 */
struct fuzz_rng {
	uint64_t s;
};

static inline uint64_t fuzz_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void fuzz_rng_init(struct fuzz_rng *r, uint64_t seed,
				 uint64_t a, uint64_t b)
{
	r->s = fuzz_mix(seed ^ fuzz_mix(a + 0x9e3779b97f4a7c15ULL) ^
			fuzz_mix(b * 0x2545f4914f6cdd1dULL + 1));
}

static inline uint64_t fuzz_next(struct fuzz_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return fuzz_mix(r->s);
}

/* Uniform in [0, n); 0 when n is 0. */
static inline uint64_t fuzz_below(struct fuzz_rng *r, uint64_t n)
{
	return n ? fuzz_next(r) % n : 0;
}

/* Uniform in [lo, hi]. */
static inline uint64_t fuzz_range(struct fuzz_rng *r, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	if (hi - lo == UINT64_MAX)
		return fuzz_next(r);
	return lo + fuzz_below(r, hi - lo + 1);
}

/* True with probability pct / 100. */
static inline bool fuzz_chance(struct fuzz_rng *r, unsigned int pct)
{
	return fuzz_below(r, 100) < pct;
}

/* Sizes spread over orders of magnitude: mostly small, sometimes up to max. */
static inline uint64_t fuzz_size(struct fuzz_rng *r, uint64_t min, uint64_t max)
{
	uint64_t span = max - min, lim = 16;

	while (lim < span && fuzz_chance(r, 35))
		lim <<= 2;
	return min + fuzz_below(r, (lim < span ? lim : span) + 1);
}

static inline void fuzz_fill(struct fuzz_rng *r, void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t v = 0;

	for (size_t i = 0; i < len; i++) {
		if (!(i & 7))
			v = fuzz_next(r);
		p[i] = v >> ((i & 7) * 8);
	}
}

static inline uint64_t fuzz_env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	uint64_t x;

	if (!v || !*v)
		return def;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "# %s=%s: not a number, using %llu\n", name, v,
			(unsigned long long)def);
		return def;
	}
	return x;
}

/* What a run may spend: a count of the fuzzer's unit (frames, operations)
 * and a time; whichever runs out first ends it, between rounds.
 */
struct fuzz_budget {
	uint64_t seed;
	uint64_t limit;		/* units; 0: no limit */
	uint64_t seconds;	/* 0: no limit */
	int64_t only_round;	/* -1: every round */
	uint64_t start_ns;
};

static inline void fuzz_budget_init(struct fuzz_budget *b, const char *count_env,
				    uint64_t def_count, uint64_t def_seconds)
{
	b->seed = fuzz_env_u64("CAUSAL_FUZZ_SEED", FUZZ_DEFAULT_SEED);
	b->limit = fuzz_env_u64(count_env, def_count);
	b->seconds = fuzz_env_u64("CAUSAL_FUZZ_SECONDS", def_seconds);
	b->only_round = getenv("CAUSAL_FUZZ_ROUND") ?
			(int64_t)fuzz_env_u64("CAUSAL_FUZZ_ROUND", 0) : -1;
	b->start_ns = cu_mono_ns();
}

static inline double fuzz_elapsed(const struct fuzz_budget *b)
{
	return (cu_mono_ns() - b->start_ns) / 1e9;
}

/* May round @round start, @done units spent so far? */
static inline bool fuzz_budget_left(const struct fuzz_budget *b, uint64_t round,
				    uint64_t done)
{
	if (b->only_round >= 0)
		return round == (uint64_t)b->only_round;
	if (b->limit && done >= b->limit)
		return false;
	return !b->seconds || fuzz_elapsed(b) < b->seconds;
}

/* The rounds to run: all from 0, or just the one asked for. */
static inline uint64_t fuzz_first_round(const struct fuzz_budget *b)
{
	return b->only_round >= 0 ? (uint64_t)b->only_round : 0;
}

/* CAUSAL_FUZZ_CLASSES: comma-separated tokens applied left to right on top
 * of @def: "all", "none", NAME (add), -NAME (remove). Unknown names are
 * reported and ignored.
 */
static inline uint64_t fuzz_classes(const char *const *names, int n,
				    uint64_t def)
{
	const char *env = getenv("CAUSAL_FUZZ_CLASSES");
	uint64_t all = n >= 64 ? ~0ULL : (1ULL << n) - 1, mask = def;
	char buf[512], *tok, *save;

	if (!env)
		return mask;
	snprintf(buf, sizeof(buf), "%s", env);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		bool del = *tok == '-';
		const char *name = tok + del;
		int i;

		if (!strcmp(name, "all")) {
			mask = del ? 0 : all;
			continue;
		}
		if (!strcmp(name, "none")) {
			mask = 0;
			continue;
		}
		for (i = 0; i < n; i++)
			if (!strcmp(name, names[i]))
				break;
		if (i == n) {
			fprintf(stderr, "# CAUSAL_FUZZ_CLASSES: no class '%s'\n",
				name);
			continue;
		}
		if (del)
			mask &= ~(1ULL << i);
		else
			mask |= 1ULL << i;
	}
	return mask;
}

static inline void fuzz_format_classes(char *buf, size_t len,
				       const char *const *names, int n,
				       uint64_t mask)
{
	size_t off = 0;

	buf[0] = 0;
	for (int i = 0; i < n && off < len; i++)
		if (mask & (1ULL << i))
			off += snprintf(buf + off, len - off, "%s%s",
					off ? "," : "", names[i]);
}

/* How often each errno came back. */
#define FUZZ_MAX_ERRNO	160

struct fuzz_errnos {
	uint64_t n[FUZZ_MAX_ERRNO];
};

static inline void fuzz_errno_add(struct fuzz_errnos *e, int err)
{
	e->n[err > 0 && err < FUZZ_MAX_ERRNO ? err : 0]++;
}

/* "EPROTO:12 EEXIST:3", or "-" when empty. */
static inline void fuzz_errno_format(const struct fuzz_errnos *e, char *buf,
				     size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (int i = 0; i < FUZZ_MAX_ERRNO && off < len; i++) {
		const char *name;

		if (!e->n[i])
			continue;
		name = i ? strerrorname_np(i) : "other";
		off += snprintf(buf + off, len - off, "%s%s:%llu",
				off ? " " : "", name ? name : "?",
				(unsigned long long)e->n[i]);
	}
	if (!off)
		snprintf(buf, len, "-");
}

/* Print /proc/net/causal to stderr, each line prefixed for TAP. */
static inline void fuzz_dump_proc(const char *why)
{
	char line[512];
	FILE *f = fopen("/proc/net/causal", "r");

	fprintf(stderr, "# --- /proc/net/causal (%s) ---\n", why);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "#   %s", line);
	fclose(f);
}

/* User and system clock ticks of thread @tid, from its stat file. */
static inline int fuzz_thread_times(pid_t pid, int tid, unsigned long *ut,
				    unsigned long *st)
{
	char path[64], buf[1024], *p;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	p = ok ? strrchr(buf, ')') : NULL;
	/* After "(comm)": state and 10 fields, then utime and stime. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 ut, st) != 2)
		return -1;
	return 0;
}

/* Where this process's threads are (root only): the kernel stack of each,
 * its system call, and whether it burns user or system time, to tell a call
 * asleep in the kernel from one spinning there and from a loop of our own.
 */
static inline void fuzz_dump_stacks(void)
{
	unsigned long ut0[64] = {}, st0[64] = {}, ut, st;
	char path[64], line[256];
	pid_t pid = getpid();

	for (int i = 0; i < 64; i++)
		fuzz_thread_times(pid, pid + i, &ut0[i], &st0[i]);
	usleep(500 * 1000);
	for (int i = 0; i < 64; i++) {
		int tid = pid + i;
		FILE *f;

		if (fuzz_thread_times(pid, tid, &ut, &st))
			continue;
		fprintf(stderr, "# --- thread %d: %lu user and %lu system ticks in 0.5 s ---\n",
			tid, ut - ut0[i], st - st0[i]);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
		f = fopen(path, "r");
		if (f && fgets(line, sizeof(line), f))
			fprintf(stderr, "#   syscall: %s", line);
		if (f)
			fclose(f);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", pid, tid);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			fprintf(stderr, "#   %s", line);
		if (f)
			fclose(f);
	}
}

/* A thread that ends the process when the fuzzer stops making progress:
 * a syscall stuck in the kernel would otherwise hang the run until the VM's
 * timeout, with nothing said about where.
 */
struct fuzz_watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	uint64_t last_ns;
	uint64_t limit_ns;
	bool stop;
	char where[256];
};

static void *fuzz_watchdog_fn(void *arg)
{
	struct fuzz_watchdog *w = arg;

	for (;;) {
		uint64_t now;

		usleep(200 * 1000);
		pthread_mutex_lock(&w->lock);
		now = cu_mono_ns();
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		if (now - w->last_ns > w->limit_ns) {
			fprintf(stderr, "# watchdog: no progress for %llu s at %s\n",
				(unsigned long long)(w->limit_ns / 1000000000ULL),
				w->where);
			fuzz_dump_stacks();
			fuzz_dump_proc("watchdog");
			fflush(stderr);
			_exit(1);
		}
		pthread_mutex_unlock(&w->lock);
	}
}

static inline int fuzz_watchdog_start(struct fuzz_watchdog *w,
				      unsigned int seconds)
{
	pthread_mutex_init(&w->lock, NULL);
	w->limit_ns = seconds * 1000000000ULL;
	w->last_ns = cu_mono_ns();
	w->stop = false;
	snprintf(w->where, sizeof(w->where), "start");
	return pthread_create(&w->thread, NULL, fuzz_watchdog_fn, w);
}

/* Progress: say where we are, for the watchdog's message. */
static inline void __attribute__((format(printf, 2, 3)))
fuzz_watchdog_kick(struct fuzz_watchdog *w, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&w->lock);
	w->last_ns = cu_mono_ns();
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(w->where, sizeof(w->where), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&w->lock);
}

static inline void fuzz_watchdog_stop(struct fuzz_watchdog *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
}

#endif /* CAUSAL_FUZZ_H */
