// SPDX-License-Identifier: GPL-2.0
/*
 * readbench: the read patterns `make bench` measures, the same way on every
 * device under test.
 *   readbench seq DEV [BLOCK]      whole device, BLOCK-sized (1 MiB) O_DIRECT reads
 *   readbench rand DEV COUNT       COUNT 4 KiB O_DIRECT reads at random blocks
 * With READBENCH_BUFFERED=1 in the environment the reads go through the
 * page cache instead (the warm cases: what a hit costs).  READBENCH_PASSES=N
 * reads the whole device N times in one seq run: a warm pass of 256 MiB
 * takes well under a second, too short to time alone.
 * Prints one JSON object: bytes, seconds, mb_per_s, iops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(unsigned long long bytes, unsigned long long ios, double secs)
{
	printf("{\"bytes\":%llu,\"seconds\":%.6f,\"mb_per_s\":%.2f,\"iops\":%.1f}\n",
	       bytes, secs, bytes / secs / 1e6, ios / secs);
}

int main(int argc, char **argv)
{
	const char *buffered, *passes_env;
	unsigned long long size, bytes = 0, ios = 0, count;
	unsigned long passes = 1;
	size_t block = 1 << 20;
	double start;
	void *buf;
	int fd;

	if (argc < 3 || (strcmp(argv[1], "seq") && strcmp(argv[1], "rand"))) {
		fprintf(stderr, "usage: readbench seq DEV [BLOCK] | rand DEV COUNT\n");
		return 2;
	}
	buffered = getenv("READBENCH_BUFFERED");
	fd = open(argv[2], O_RDONLY | (buffered && *buffered ? 0 : O_DIRECT));
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size)) {
		fprintf(stderr, "readbench: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (!strcmp(argv[1], "seq") && argc > 3)
		block = strtoul(argv[3], NULL, 0);
	passes_env = getenv("READBENCH_PASSES");
	if (passes_env && *passes_env)
		passes = strtoul(passes_env, NULL, 0);
	if (!block || !passes) {
		fprintf(stderr, "readbench: block size and passes must be positive\n");
		return 2;
	}
	if (posix_memalign(&buf, 4096, block))
		return 1;

	start = now();
	if (!strcmp(argv[1], "seq")) {
		for (unsigned long pass = 0; pass < passes; pass++)
			for (unsigned long long off = 0; off < size; off += block) {
				ssize_t n = pread(fd, buf, block, off);

				if (n <= 0) {
					fprintf(stderr, "readbench: read at %llu: %s\n", off,
						n < 0 ? strerror(errno) : "end of device");
					return 1;
				}
				bytes += n;
				ios++;
			}
	} else {
		count = argc > 3 ? strtoull(argv[3], NULL, 0) : 2000;
		srandom(42);	/* the same offsets on every device */
		for (ios = 0; ios < count; ios++) {
			off_t off = (off_t)(random() % (size / 4096)) * 4096;

			if (pread(fd, buf, 4096, off) != 4096) {
				fprintf(stderr, "readbench: read at %lld: %s\n",
					(long long)off, strerror(errno));
				return 1;
			}
			bytes += 4096;
		}
	}
	report(bytes, ios, now() - start);
	return 0;
}
