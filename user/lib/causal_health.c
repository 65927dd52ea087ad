// SPDX-License-Identifier: GPL-2.0
/* The health score: see causal_health.h. */
#include <math.h>
#include <stdio.h>

#include "causal_health.h"

static double clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

void causal_health_score(const struct causal_health_in *in,
			 struct causal_health *out)
{
	double ms = in->p99_hold_ns / 1e6, total, worst;
	__u64 n = in->deliveries ? in->deliveries : 1;
	__u64 ch = in->channels ? in->channels : 1;

	out->latency = ms > 1 ? 40 * clamp01(log10(ms) / 3) : 0;
	out->held = 20.0 * in->held / n;
	out->gaps = 20 * clamp01(10.0 * in->gaps / n);
	out->errors = 20 * clamp01((double)in->errors / ch);
	total = out->latency + out->held + out->gaps + out->errors;
	out->score = total >= 100 ? 0 : (unsigned int)lround(100 - total);

	if (in->violations) {
		out->score = 0;
		snprintf(out->reason, sizeof(out->reason),
			 "%llu deliveries broke happens-before",
			 (unsigned long long)in->violations);
		return;
	}
	worst = out->latency;
	snprintf(out->reason, sizeof(out->reason),
		 "p99 hold %.1f ms (-%.0f)", ms, out->latency);
	if (out->held > worst) {
		worst = out->held;
		snprintf(out->reason, sizeof(out->reason),
			 "%.0f%% of deliveries waited for a cause (-%.0f)",
			 100.0 * in->held / n, out->held);
	}
	if (out->gaps > worst) {
		worst = out->gaps;
		snprintf(out->reason, sizeof(out->reason),
			 "%llu deliveries skipped a lost cause (hold timeout) (-%.0f)",
			 (unsigned long long)in->gaps, out->gaps);
	}
	if (out->errors > worst) {
		worst = out->errors;
		snprintf(out->reason, sizeof(out->reason),
			 "%llu channel failures or TCP resets (-%.0f)",
			 (unsigned long long)in->errors, out->errors);
	}
	if (worst < 0.5)
		snprintf(out->reason, sizeof(out->reason),
			 "no holds, gaps or errors");
}
