// SPDX-License-Identifier: GPL-2.0
/*
 * The log writer's hot path as causald runs it: N events (default one
 * million) of the causal types with three-node clocks, and a few TCP ones,
 * through clog_writer_line() and fwrite() to a file (default /dev/null).
 * Prints nanoseconds per event.
 *
 * usage: log_writer [N [FILE]]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "causal_log.h"

static void make(struct causal_event *ev, __u32 type, __u64 i)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->ts_ns = 1700000000000ULL + i * 1000;
	ev->peer = CAUSAL_EV_NO_PEER;
	if (type >= CAUSAL_EV_TCP_RETRANSMIT) {
		ev->link.family = AF_INET;
		inet_pton(AF_INET, "10.0.0.1", ev->link.saddr);
		inet_pton(AF_INET, "10.0.0.3", ev->link.daddr);
		ev->link.sport = 41000;
		ev->link.dport = 7000;
		ev->tcp_state = 1;
		ev->tcp_oldstate = 2;
		return;
	}
	ev->pid = 812;
	strcpy(ev->comm, "demo_node");
	ev->group = 7;
	ev->nodes = 3;
	ev->node = 0;
	ev->peer = 1;
	for (int k = 0; k < 3; k++)
		ev->vclock[k] = i + k * 1000;
	ev->stamp = ev->vclock[1];
	switch (type) {
	case CAUSAL_EV_SEND:
		ev->stamp = ev->vclock[0];
		ev->len = 100;
		ev->targets = 2;
		break;
	case CAUSAL_EV_ARRIVE:
		ev->len = 100;
		break;
	case CAUSAL_EV_HOLD:
		ev->wait_node = 2;
		ev->wait_stamp = ev->vclock[2];
		break;
	case CAUSAL_EV_DELIVER:
		ev->index = i;
		ev->held_ns = i * 7;
		break;
	}
}

int main(int argc, char **argv)
{
	/* A run's mix: mostly deliveries and sends, some holds, rare TCP. */
	static const __u32 mix[16] = {
		CAUSAL_EV_SEND, CAUSAL_EV_ARRIVE, CAUSAL_EV_DELIVER,
		CAUSAL_EV_SEND, CAUSAL_EV_ARRIVE, CAUSAL_EV_DELIVER,
		CAUSAL_EV_SEND, CAUSAL_EV_ARRIVE, CAUSAL_EV_DELIVER,
		CAUSAL_EV_SEND, CAUSAL_EV_ARRIVE, CAUSAL_EV_HOLD,
		CAUSAL_EV_DELIVER, CAUSAL_EV_CLOCK, CAUSAL_EV_DELIVER,
		CAUSAL_EV_TCP_STATE,
	};
	__u64 n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
	const char *path = argc > 2 ? argv[2] : "/dev/null";
	struct clog_writer *w = clog_writer_new();
	static struct causal_event evs[16];
	FILE *f = fopen(path, "w");
	struct timespec a, b;
	size_t len, bytes = 0;

	if (!w || !f) {
		perror(path);
		return 1;
	}
	for (int k = 0; k < 16; k++)
		make(&evs[k], mix[k], k);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (__u64 i = 0; i < n; i++) {
		struct causal_event *ev = &evs[i & 15];
		const char *s;

		ev->ts_ns += 1000;
		s = clog_writer_line(w, ev, "host-a", &len);
		if (!s)
			return 1;
		fwrite(s, 1, len, f);
		fputc('\n', f);
		bytes += len + 1;
	}
	fflush(f);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f ns/event (%llu events, %zu bytes)\n",
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n,
	       (unsigned long long)n, bytes);
	fclose(f);
	clog_writer_free(w);
	return 0;
}
