#ifndef ENI_AGENT_CNETLINK_SHIM_H
#define ENI_AGENT_CNETLINK_SHIM_H

// libnl-3 route API, as used by ENINetlink. Every libnl function used is a plain
// C function that Swift imports directly.
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/errno.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/rule.h>
#include <netlink/route/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/if.h>

#endif
