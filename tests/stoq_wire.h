/* SPDX-License-Identifier: GPL-2.0 */
/* STOQ frames over a plain socket, for the test helpers (stoq_fetch, stoq_liar). */
#ifndef HBX_TESTS_STOQ_WIRE_H
#define HBX_TESTS_STOQ_WIRE_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/hyperbox.h>

/* Send or receive exactly len bytes: 0, or -1 when the socket failed or closed. */
static inline int stoq_xfer(int fd, void *buf, size_t len, int sending)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = sending ? send(fd, (char *)buf + done, len - done, MSG_NOSIGNAL) :
				      recv(fd, (char *)buf + done, len - done, 0);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

/* One frame: header, then len bytes of p. */
static inline int stoq_send_frame(int fd, uint8_t type, uint16_t status, uint64_t id,
				  const void *p, uint32_t len)
{
	struct hbx_stoq_hdr h = {
		.magic = htobe32(HBX_STOQ_MAGIC), .version = HBX_STOQ_VERSION,
		.type = type, .status = htobe16(status), .len = htobe32(len),
		.id = htobe64(id),
	};

	return stoq_xfer(fd, &h, sizeof(h), 1) || stoq_xfer(fd, (void *)p, len, 1) ? -1 : 0;
}

#endif
