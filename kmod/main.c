// SPDX-License-Identifier: GPL-2.0
/*
 * hyperbox.ko: container layers as verified block devices.
 */
#include <linux/module.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include "fetch.h"
#include "layer.h"
#include "netlink.h"
#include "peer.h"
#include "pull.h"
#include "rxbuf.h"
#include "version.h"

/*
 * A network namespace that goes takes its peers and exports with it, in
 * pre_exit while their sockets can still be shut down.  Peers and exports
 * do not keep a namespace alive; a live handed-in socket does, as any open
 * socket would, and a socket that fails is released at once.
 */
static void __net_exit hbx_net_pre_exit(struct net *net)
{
	hbx_peers_net_exit(net);	/* servers read layers: stop them first */
	hbx_layers_net_exit(net);
}

static struct pernet_operations hbx_net_ops = {
	.pre_exit	= hbx_net_pre_exit,
};

static int __init hbx_init(void)
{
	int err;

	err = hbx_pull_init();
	if (err)
		return err;
	err = hbx_peer_init();
	if (err)
		goto err_pull;
	err = hbx_layer_init();
	if (err)
		goto err_peer;
	err = register_pernet_subsys(&hbx_net_ops);
	if (err)
		goto err_layer;
	err = hbx_netlink_init();
	if (err)
		goto err_pernet;
	pr_info("hyperbox " HBX_VERSION " loaded (protocol %d)\n",
		HBX_PROTOCOL_VERSION);
	return 0;

err_pernet:
	unregister_pernet_subsys(&hbx_net_ops);
err_layer:
	hbx_layer_exit();
err_peer:
	hbx_peer_exit();
err_pull:
	hbx_pull_exit();
	return err;
}

static void __exit hbx_exit(void)
{
	/* Netlink first: no request can create a layer while they go. */
	hbx_netlink_exit();
	hbx_fetch_exit();	/* manifest fetches under way end */
	unregister_pernet_subsys(&hbx_net_ops);
	hbx_peer_exit();	/* servers read layers: stop them first */
	hbx_layer_exit();	/* ends the pulls */
	hbx_pull_exit();
	hbx_rxbuf_exit();	/* no reply is held any more */
	pr_info("hyperbox unloaded\n");
}

module_init(hbx_init);
module_exit(hbx_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("HyperBox developers");
MODULE_DESCRIPTION("HyperBox: verified container layers as block devices");
MODULE_VERSION(HBX_VERSION);
MODULE_ALIAS_GENL_FAMILY(HBX_GENL_NAME);
