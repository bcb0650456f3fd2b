#ifndef NETSTATD_CNETLINK_SHIM_H
#define NETSTATD_CNETLINK_SHIM_H
// The kernel's sock_diag interface, as `ss` uses it. linux/tcp.h is deliberately
// not included: it clashes with glibc's netinet/tcp.h; tcp_info is decoded by offset
// in Sampling/Netlink/TCPInfoDecoder.swift instead.
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
// setns(2), to open a sock_diag socket inside another network namespace. Glibc's Swift
// module leaves out setns and CLONE_NEWNET (they need _GNU_SOURCE), so the system
// call is wrapped here; CLONE_NEWNET is include/uapi/linux/sched.h's value.
#include <unistd.h>
#include <sys/syscall.h>
#define NETSTATD_CLONE_NEWNET 0x40000000
static inline int netstatd_setns(int fd, int nstype) { return (int)syscall(SYS_setns, fd, nstype); }
// SO_NETNS_COOKIE (include/uapi/asm-generic/socket.h, Linux 5.14): the 64-bit cookie of
// a socket's network namespace, never reused, unlike the namespace's inode.
#define NETSTATD_SO_NETNS_COOKIE 71
// eventfd(2), which Glibc's Swift module leaves out: wakes the thread polling the
// close-event sockets when the set of namespaces it follows changes.
#include <sys/eventfd.h>
#endif
