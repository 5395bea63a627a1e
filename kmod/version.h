/* SPDX-License-Identifier: GPL-2.0 */
/* The one place the release version lives: module, hbx and dkms.conf agree. */
#ifndef HBX_VERSION_H
#define HBX_VERSION_H

#define HBX_VERSION "0.1.0"

#endif
