#ifndef NETSTATD_CNETLINK_SHIM_H
#define NETSTATD_CNETLINK_SHIM_H
// The kernel's sock_diag interface, as `ss` uses it. linux/tcp.h is deliberately
// not included: it clashes with glibc's netinet/tcp.h; tcp_info is decoded by offset
// in Sampling/Netlink/TCPInfoDecoder.swift instead.
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#endif
