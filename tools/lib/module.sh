# SPDX-License-Identifier: GPL-2.0
# unload_module: rmmod causal. Sockets drop their module reference shortly
# after close(), not at once, so it retries for five seconds.
unload_module() {
	for _ in $(seq 50); do
		rmmod causal 2>/dev/null && return 0
		sleep 0.1
	done
	rmmod causal
}
