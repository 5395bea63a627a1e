// SPDX-License-Identifier: GPL-2.0
/*
 * Pulls: fetching every chunk of a remote layer that is not here yet, in the
 * background.  Each worker claims the next run of chunks (as many as one
 * request may ask for) and verifies it, which hashes what the cache already
 * holds and fetches the rest, so a pull after a crash resumes where the
 * cache left off and a chunk a reader is already fetching is fetched once
 * (the chunk's lock is shared with the I/O path).
 */
#include <linux/ktime.h>
#include "chunk.h"
#include "manifest.h"
#include "pull.h"
#include "trace.h"

static struct workqueue_struct *hbx_pull_wq;

static void hbx_pull_finish(struct hbx_pull *pull)
{
	const struct hbx_chunks *c = pull->chunks;
	bool all = atomic64_read(&c->nr_verified) == c->manifest->chunk_count;

	spin_lock(&pull->lock);
	pull->end_ns = ktime_get_ns();
	if (pull->error)
		pull->state = HBX_PULL_STATE_FAILED;
	else if (all)
		pull->state = HBX_PULL_STATE_DONE;
	else
		pull->state = HBX_PULL_STATE_STOPPED;
	spin_unlock(&pull->lock);
	trace_hbx_pull_finish(pull);
}

static void hbx_pull_work(struct work_struct *work)
{
	struct hbx_pull *pull = container_of(work, struct hbx_pull_worker, work)->pull;
	struct hbx_chunks *c = pull->chunks;
	u64 count = c->manifest->chunk_count, i, last, bad;
	/* A run at a time: one request for its missing chunks (chunk.c). */
	u64 run = hbx_manifest_run_max(c->manifest);
	int err = 0;

	while (!READ_ONCE(pull->stop)) {
		i = atomic64_fetch_add(run, &pull->next);
		if (i >= count)
			break;
		last = min(i + run, count) - 1;
		err = hbx_chunks_verify(c, i, last, &bad);
		if (err) {
			/*
			 * The first error fails the pull and stops the others;
			 * one that comes of being stopped (a delete) is no
			 * failure.
			 */
			spin_lock(&pull->lock);
			if (!pull->error && !READ_ONCE(pull->stop))
				pull->error = err;
			spin_unlock(&pull->lock);
			WRITE_ONCE(pull->stop, true);
			break;
		}
		trace_hbx_pull_progress(pull, last);
	}
	if (atomic_dec_and_test(&pull->running))
		hbx_pull_finish(pull);
}

void hbx_pull_setup(struct hbx_pull *pull, struct hbx_chunks *chunks)
{
	unsigned int i;

	memset(pull, 0, sizeof(*pull));
	pull->chunks = chunks;
	pull->state = HBX_PULL_STATE_NONE;
	spin_lock_init(&pull->lock);
	for (i = 0; i < HBX_PULL_WINDOW_MAX; i++) {
		INIT_WORK(&pull->workers[i].work, hbx_pull_work);
		pull->workers[i].pull = pull;
	}
}

int hbx_pull_start(struct hbx_pull *pull, unsigned int window)
{
	unsigned int i;

	if (!window || window > HBX_PULL_WINDOW_MAX)
		return -EINVAL;
	spin_lock(&pull->lock);
	/* Running, or done (a done layer stays whole): nothing to start. */
	if (pull->state == HBX_PULL_STATE_RUNNING ||
	    pull->state == HBX_PULL_STATE_DONE) {
		spin_unlock(&pull->lock);
		return 0;
	}
	pull->state = HBX_PULL_STATE_RUNNING;
	pull->error = 0;
	pull->start_ns = ktime_get_ns();
	pull->end_ns = 0;
	pull->start_bytes = atomic64_read(&pull->chunks->bytes_fetched);
	spin_unlock(&pull->lock);
	trace_hbx_pull_start(pull, window);

	/* The last pull's workers have all finished (its state said so). */
	for (i = 0; i < pull->window; i++)
		flush_work(&pull->workers[i].work);
	pull->window = window;
	WRITE_ONCE(pull->stop, false);
	atomic64_set(&pull->next, 0);
	atomic_set(&pull->running, window);
	for (i = 0; i < window; i++)
		queue_work(hbx_pull_wq, &pull->workers[i].work);
	return 0;
}

void hbx_pull_cancel(struct hbx_pull *pull)
{
	WRITE_ONCE(pull->stop, true);
}

void hbx_pull_stop(struct hbx_pull *pull)
{
	unsigned int i;

	hbx_pull_cancel(pull);
	for (i = 0; i < HBX_PULL_WINDOW_MAX; i++)
		flush_work(&pull->workers[i].work);
}

void hbx_pull_progress(struct hbx_pull *pull, struct hbx_pull_progress *p)
{
	u64 fetched = atomic64_read(&pull->chunks->bytes_fetched);

	spin_lock(&pull->lock);
	p->state = pull->state;
	p->window = pull->window;
	p->error = -pull->error;
	p->bytes = pull->state == HBX_PULL_STATE_NONE ? 0 : fetched - pull->start_bytes;
	p->nsecs = pull->state == HBX_PULL_STATE_NONE ? 0 :
		   (pull->end_ns ?: ktime_get_ns()) - pull->start_ns;
	spin_unlock(&pull->lock);
}

int hbx_pull_init(void)
{
	/* Workers sleep on the network: unbound, and never in the I/O path. */
	hbx_pull_wq = alloc_workqueue("hyperbox_pull", WQ_UNBOUND, 0);
	return hbx_pull_wq ? 0 : -ENOMEM;
}

void hbx_pull_exit(void)
{
	destroy_workqueue(hbx_pull_wq);
}
