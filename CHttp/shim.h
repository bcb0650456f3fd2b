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

/// Everything MHD_start_daemon takes that netstatd sets.
struct netstatd_mhd_config {
    unsigned int flags;
    const struct sockaddr *address;          // bind address (MHD_OPTION_SOCK_ADDR)
    MHD_AccessHandlerCallback handler;
    void *handler_cls;
    MHD_RequestCompletedCallback completed;  // per-request cleanup
    void *completed_cls;
    unsigned int threads;                    // MHD_OPTION_THREAD_POOL_SIZE
    unsigned int connection_limit;
    unsigned int per_ip_limit;
    unsigned int timeout_seconds;
    size_t memory_limit;                     // per connection; bounds URL and header size
    const char *tls_cert;                    // PEM, or NULL
    const char *tls_key;                     // PEM, or NULL
};

static inline struct MHD_Daemon *netstatd_mhd_start(const struct netstatd_mhd_config *c) {
    struct MHD_OptionItem options[12];
    int n = 0;
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, (void *)c->address };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)c->completed, c->completed_cls };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, c->threads, NULL };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, c->connection_limit, NULL };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->per_ip_limit, NULL };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, c->timeout_seconds, NULL };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)c->memory_limit, NULL };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL };
    if (c->tls_cert && c->tls_key) {
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)c->tls_cert };
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)c->tls_key };
    }
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    return MHD_start_daemon(c->flags, 0, NULL, NULL, c->handler, c->handler_cls,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/// The port the daemon is bound to (for port 0), or 0 when unknown.
static inline uint16_t netstatd_mhd_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

/// The peer's address of a connection, or NULL.
static inline const struct sockaddr *netstatd_mhd_client_address(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return info ? info->client_addr : NULL;
}

#endif
