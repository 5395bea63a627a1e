/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One operations table for both generic netlink APIs.  With split ops a
 * command that has both do and dump needs two entries; with genl_ops it must
 * have exactly one (duplicates are rejected at registration).
 */
#ifndef HBX_COMPAT_GENL_H
#define HBX_COMPAT_GENL_H

#include <net/genetlink.h>

#define HBX_POLICY(_policy) .policy = (_policy), .maxattr = ARRAY_SIZE(_policy) - 1

#ifdef HBX_HAVE_SPLIT_OPS
typedef struct genl_split_ops hbx_genl_op;
#define HBX_GENL_OPS(_table) .split_ops = (_table), .n_split_ops = ARRAY_SIZE(_table)

#define HBX_GENL_DO(_cmd, _doit, _policy, _flags)			\
	{ .cmd = (_cmd), .doit = (_doit), HBX_POLICY(_policy),		\
	  .flags = (_flags) | GENL_CMD_CAP_DO }
#define HBX_GENL_DO_DUMP(_cmd, _doit, _dumpit, _policy, _flags)		\
	HBX_GENL_DO(_cmd, _doit, _policy, _flags),			\
	{ .cmd = (_cmd), .dumpit = (_dumpit),				\
	  .flags = (_flags) | GENL_CMD_CAP_DUMP }
#else
typedef struct genl_ops hbx_genl_op;
#define HBX_GENL_OPS(_table) .ops = (_table), .n_ops = ARRAY_SIZE(_table)

#define HBX_GENL_DO(_cmd, _doit, _policy, _flags)			\
	{ .cmd = (_cmd), .doit = (_doit), HBX_POLICY(_policy), .flags = (_flags) }
/* genl_ops shares one policy between do and dump. */
#define HBX_GENL_DO_DUMP(_cmd, _doit, _dumpit, _policy, _flags)		\
	{ .cmd = (_cmd), .doit = (_doit), .dumpit = (_dumpit),		\
	  HBX_POLICY(_policy), .flags = (_flags) }
#endif

#endif /* HBX_COMPAT_GENL_H */
