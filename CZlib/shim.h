#ifndef NETSTATD_CZLIB_SHIM_H
#define NETSTATD_CZLIB_SHIM_H
#include <zlib.h>
// deflateInit2 is a macro that passes the library version and stream size; Swift
// cannot expand it. windowBits 15 + 16 asks for a gzip wrapper (RFC 1952).
static inline int netstatd_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
#endif
