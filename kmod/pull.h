/* SPDX-License-Identifier: GPL-2.0 */
#ifndef HBX_PULL_H
#define HBX_PULL_H

#include <linux/atomic.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/hyperbox.h>

struct hbx_chunks;
struct hbx_pull;

struct hbx_pull_worker {
	struct work_struct	work;
	struct hbx_pull		*pull;
};

/*
 * A pull: window workers walk a remote layer's chunks in order, each
 * verifying (and so fetching) one chunk at a time.  The device's own reads
 * do not queue behind it: they send their requests at once, behind at most
 * window requests of the pull.
 */
struct hbx_pull {
	struct hbx_chunks	*chunks;
	struct hbx_pull_worker	workers[HBX_PULL_WINDOW_MAX];
	unsigned int		window;		/* workers of the current pull */
	atomic64_t		next;		/* next chunk to claim */
	atomic_t		running;	/* workers not finished */
	bool			stop;		/* workers end after their chunk */

	spinlock_t		lock;		/* the fields below */
	u32			state;		/* enum hbx_pull_state */
	int			error;
	u64			start_ns, end_ns;
	u64			start_bytes;	/* chunks->bytes_fetched at start */
};

struct hbx_pull_progress {
	u32	state;
	u32	window;
	u32	error;		/* positive errno */
	u64	bytes;
	u64	nsecs;
};

int hbx_pull_init(void);
void hbx_pull_exit(void);

void hbx_pull_setup(struct hbx_pull *pull, struct hbx_chunks *chunks);
/* Start a pull; one already running is left alone.  0 or -errno. */
int hbx_pull_start(struct hbx_pull *pull, unsigned int window);
/* Ask a pull to end; hbx_pull_stop() also waits until it has. */
void hbx_pull_cancel(struct hbx_pull *pull);
void hbx_pull_stop(struct hbx_pull *pull);
void hbx_pull_progress(struct hbx_pull *pull, struct hbx_pull_progress *p);

#endif
