#ifndef NETSTATD_CHTTP_SHIM_H
#define NETSTATD_CHTTP_SHIM_H
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <microhttpd.h>

// Swift cannot call C variadic functions; these fixed-argument starters and
// accessors wrap the few that netstatd needs (checked against libmicrohttpd 0.9.75).

/// Everything MHD_start_daemon takes that netstatd sets. netstatd accepts connections
/// itself and hands them over with MHD_add_connection, so there is no bind address here
/// (flags carry MHD_USE_NO_LISTEN_SOCKET) and no per-IP limit (netstatd enforces it).
struct netstatd_mhd_config {
    unsigned int flags;
    MHD_AccessHandlerCallback handler;
    void *handler_cls;
    MHD_RequestCompletedCallback completed;  // per-request cleanup
    void *completed_cls;
    MHD_NotifyConnectionCallback notify_connection;  // connection closed
    void *notify_connection_cls;
    unsigned int threads;                    // MHD_OPTION_THREAD_POOL_SIZE
    unsigned int connection_limit;
    unsigned int timeout_seconds;
    size_t memory_limit;                     // per connection; bounds URL and header size
    const char *tls_cert;                    // PEM, or NULL
    const char *tls_key;                     // PEM, or NULL
};

static inline struct MHD_Daemon *netstatd_mhd_start(const struct netstatd_mhd_config *c) {
    struct MHD_OptionItem options[12];
    int n = 0;
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)c->completed, c->completed_cls };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)c->notify_connection, c->notify_connection_cls };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, c->threads, NULL };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, c->connection_limit, NULL };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, c->timeout_seconds, NULL };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)c->memory_limit, NULL };
    if (c->tls_cert && c->tls_key) {
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)c->tls_cert };
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)c->tls_key };
    }
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    return MHD_start_daemon(c->flags, 0, NULL, NULL, c->handler, c->handler_cls,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/// The socket of a connection, or -1 when unknown.
static inline int netstatd_mhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

// accept4(2) is a GNU extension that Glibc's Swift module does not declare.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);

/// accept4(2) with SOCK_CLOEXEC | SOCK_NONBLOCK, so an accepted socket is never
/// inherited by a child process, not even for an instant.
static inline int netstatd_accept(int listener, struct sockaddr *address, socklen_t *length) {
    return accept4(listener, address, length, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

/// The peer's address of a connection, or NULL.
static inline const struct sockaddr *netstatd_mhd_client_address(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return info ? info->client_addr : NULL;
}

#endif
