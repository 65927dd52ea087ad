// SPDX-License-Identifier: GPL-2.0
/* /proc/net/causal: one block per endpoint of the network namespace. */

#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>

#include "causal.h"

static const char *const causal_ch_state_names[] = {
	[CAUSAL_CH_JOINED] = "joined",
	[CAUSAL_CH_ACTIVE] = "active",
	[CAUSAL_CH_LEFT]   = "left",
	[CAUSAL_CH_BROKEN] = "broken",
	[CAUSAL_CH_FAILED] = "failed",
};

/* " key=i:v,i:v" over the nonzero @v[i], "-" when there are none; with
 * @lower the histogram's buckets are named by their lower bound.
 */
static void causal_show_sparse(struct seq_file *seq, const char *key,
			       const u64 *v, u32 n, bool lower)
{
	char sep = '=';
	u32 i;

	seq_printf(seq, " %s", key);
	for (i = 0; v && i < n; i++) {
		if (!v[i])
			continue;
		seq_printf(seq, "%c%llu:%llu", sep,
			   lower ? causal_hist_lower(i) : i, v[i]);
		sep = ',';
	}
	if (sep == '=')
		seq_puts(seq, "=-");
}

static void causal_show_hold(struct seq_file *seq, const struct causal_sock *ch,
			     u16 nodes)
{
	const struct causal_hold_stats *st = &ch->hold;

	seq_printf(seq, " hold_sum_us=%llu hold_max_us=%llu hold_missed=%llu",
		   st->sum_us, st->max_us, st->hist_missed);
	causal_show_sparse(seq, "blame_us", st->blame_us, nodes, false);
	causal_show_sparse(seq, "hold_hist", st->hist, CAUSAL_HIST_BUCKETS,
			   true);
}

static void causal_show_endpoint(struct seq_file *seq,
				 struct causal_endpoint *ep)
{
	struct causal_sock *ch;
	u64 now = ktime_get_ns();
	u16 i;

	spin_lock_bh(&ep->lock);
	seq_printf(seq, "endpoint group=%u node=%u nodes=%u flags=%#x incarnation=%016llx sockets=%u\n",
		   ep->group, ep->node, ep->nodes, ep->flags, ep->incarnation,
		   ep->nr_sockets);
	seq_puts(seq, "  clock");
	for (i = 0; i < ep->nodes; i++)
		seq_printf(seq, " %llu", ep->rule.clock[i]);
	seq_printf(seq, "\n  peers=%#llx hold_timeout_ms=%u sent=%llu delivered=%llu held_now=%llu gaps=%llu\n",
		   ep->rule.peers, ep->hold_timeout_ms, ep->sent, ep->delivered,
		   ep->held_now, ep->gaps);
	list_for_each_entry(ch, &ep->channels, ep_node) {
		struct causal_msg *m = list_first_entry_or_null(&ch->holdq,
							struct causal_msg, list);
		struct causal_link link;

		if (ch->peer == CAUSAL_PEER_NONE)
			seq_puts(seq, "  channel peer=-");
		else
			seq_printf(seq, "  channel peer=%u", ch->peer);
		seq_printf(seq, " state=%s watermark=%llu queued=%u bytes=%u oldest_hold_us=%llu sent=%llu delivered=%llu held_total=%llu gaps=%llu errors=%llu",
			   causal_ch_state_names[ch->state],
			   ch->peer == CAUSAL_PEER_NONE ? 0 :
			   ep->rule.peer[ch->peer].wm,
			   ch->holdq_len, ch->holdback_bytes,
			   m ? div_u64(now - m->arrive_ns, NSEC_PER_USEC) : 0,
			   ch->tx_sent, ch->rx_delivered, ch->rx_held_total,
			   ch->rx_gaps, ch->rx_proto_errors);
		causal_show_hold(seq, ch, ep->nodes);
		seq_printf(seq, " id=%llu", ch->id);
		if (ch->proto_err)
			seq_printf(seq, " last_error=%s",
				   causal_proto_err_name(ch->proto_err));
		/* The connection, as the tcp tracepoints name it. */
		causal_link_of(ch->sk, &link);
		if (link.family == AF_INET)
			seq_printf(seq, " local=%pI4:%u remote=%pI4:%u",
				   link.saddr, link.sport, link.daddr, link.dport);
		else
			seq_printf(seq, " local=[%pI6c]:%u remote=[%pI6c]:%u",
				   link.saddr, link.sport, link.daddr, link.dport);
		seq_putc(seq, '\n');
	}
	spin_unlock_bh(&ep->lock);
}

static int causal_proc_show(struct seq_file *seq, void *v)
{
	struct causal_net *cn = causal_net(seq_file_single_net(seq));
	struct causal_endpoint *ep;

	mutex_lock(&cn->lock);
	list_for_each_entry(ep, &cn->endpoints, list)
		causal_show_endpoint(seq, ep);
	mutex_unlock(&cn->lock);
	return 0;
}

int causal_proc_init_net(struct net *net)
{
	if (!proc_create_net_single("causal", 0444, net->proc_net,
				    causal_proc_show, NULL))
		return -ENOMEM;
	return 0;
}

void causal_proc_exit_net(struct net *net)
{
	remove_proc_entry("causal", net->proc_net);
}
