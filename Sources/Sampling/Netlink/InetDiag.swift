import Glibc
internal import CNetlink

/// inet_diag: the request that dumps one (family, protocol) socket table, and the
/// decoder of its replies into `Socket` values (include/uapi/linux/inet_diag.h).
enum InetDiag {
    /// SOCK_DIAG_BY_FAMILY, the message type of both request and replies.
    static let messageType = UInt16(SOCK_DIAG_BY_FAMILY)
    /// sizeof(struct inet_diag_msg).
    static let messageSize = 72

    /// Builds the payload of an `inet_diag_req_v2` dump request.
    /// - Parameters:
    ///   - states: bitmask of kernel states (1 << state) to include.
    ///   - tcpInfo: also ask for tcp_info (INET_DIAG_INFO).
    static func request(
        family: AddressFamily, proto: TransportProtocol, states: UInt32, tcpInfo: Bool
    ) -> [UInt8] {
        // Extensions are requested as bits 1 << (attribute - 1).
        var extensions = UInt8(1 << (Int(INET_DIAG_SKMEMINFO) - 1))
        if tcpInfo && proto == .tcp { extensions |= UInt8(1 << (Int(INET_DIAG_INFO) - 1)) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(56)
        bytes.append(UInt8(family == .ipv4 ? AF_INET : AF_INET6))
        bytes.append(UInt8(proto == .tcp ? IPPROTO_TCP : IPPROTO_UDP))
        bytes.append(extensions)
        bytes.append(0)  // pad
        NetlinkMessage.append(states, to: &bytes)
        // struct inet_diag_sockid: all zero (no filter), cookie INET_DIAG_NOCOOKIE.
        bytes.append(contentsOf: repeatElement(0, count: 40))
        NetlinkMessage.append(UInt32.max, to: &bytes)
        NetlinkMessage.append(UInt32.max, to: &bytes)
        return bytes
    }

    /// TCPDIAG_GETSOCK: the original inet_diag request type, kept by the kernel for
    /// compatibility, which dumps TCP sockets of both families in one walk of the
    /// socket hash (net/ipv4/inet_diag.c, inet_diag_dump_compat sets AF_UNSPEC). Two
    /// SOCK_DIAG_BY_FAMILY dumps would walk the shared hash twice; `ss` uses it too.
    static let compatTCPMessageType = UInt16(TCPDIAG_GETSOCK)

    /// Builds the payload of a v1 `struct inet_diag_req` (60 bytes) for TCP, both families.
    static func compatTCPRequest(states: UInt32, tcpInfo: Bool) -> [UInt8] {
        var extensions = UInt8(1 << (Int(INET_DIAG_SKMEMINFO) - 1))
        if tcpInfo { extensions |= UInt8(1 << (Int(INET_DIAG_INFO) - 1)) }
        var bytes: [UInt8] = [UInt8(AF_INET), 0, 0, extensions]
        bytes.append(contentsOf: repeatElement(0, count: 40))  // sockid: no filter
        NetlinkMessage.append(UInt32.max, to: &bytes)  // INET_DIAG_NOCOOKIE
        NetlinkMessage.append(UInt32.max, to: &bytes)
        NetlinkMessage.append(states, to: &bytes)
        NetlinkMessage.append(UInt32(0), to: &bytes)  // idiag_dbs
        return bytes
    }

    /// Decodes one reply payload (`struct inet_diag_msg` plus attributes) into a socket.
    /// Returns nil for a payload too short to be one.
    static func decode(_ payload: UnsafeRawBufferPointer, proto: TransportProtocol) -> Socket? {
        guard payload.count >= messageSize else { return nil }
        let familyCode = Int32(payload[0])
        guard familyCode == AF_INET || familyCode == AF_INET6 else { return nil }
        let family: AddressFamily = familyCode == AF_INET ? .ipv4 : .ipv6
        guard let state = SocketState(rawValue: payload[1]) else { return nil }
        let timerCode = payload[2]
        let retrans = payload[3]
        let sport = UInt16(bigEndian: payload.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        let dport = UInt16(bigEndian: payload.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        let src = address(payload, at: 8, family: family)
        let dst = address(payload, at: 24, family: family)
        let interface = payload.loadUnaligned(fromByteOffset: 40, as: UInt32.self)
        let cookieLow = payload.loadUnaligned(fromByteOffset: 44, as: UInt32.self)
        let cookieHigh = payload.loadUnaligned(fromByteOffset: 48, as: UInt32.self)
        let expires = payload.loadUnaligned(fromByteOffset: 52, as: UInt32.self)
        let rqueue = payload.loadUnaligned(fromByteOffset: 56, as: UInt32.self)
        let wqueue = payload.loadUnaligned(fromByteOffset: 60, as: UInt32.self)
        let uid = payload.loadUnaligned(fromByteOffset: 64, as: UInt32.self)
        let inode = payload.loadUnaligned(fromByteOffset: 68, as: UInt32.self)

        var socket = Socket(
            proto: proto, family: family, state: state,
            local: Endpoint(address: src, port: sport), remote: Endpoint(address: dst, port: dport),
            recvQ: rqueue, sendQ: wqueue, uid: uid, inode: UInt64(inode),
            cookie: UInt64(cookieHigh) << 32 | UInt64(cookieLow),
            boundInterface: interface)
        if let kind = SocketTimer.kind(code: timerCode) {
            socket.timer = SocketTimer(kind: kind, expiresMs: expires, retransmits: retrans)
        }
        let attributes = UnsafeRawBufferPointer(rebasing: payload[messageSize...])
        NetlinkMessage.forEachAttribute(in: attributes) { type, value in
            switch UInt32(type) {
            case UInt32(INET_DIAG_SKV6ONLY) where value.count >= 1:
                socket.v6only = value[0] != 0
            case UInt32(INET_DIAG_SKMEMINFO):
                // u32[SK_MEMINFO_VARS]; SK_MEMINFO_DROPS is index 8 (linux/sock_diag.h).
                let dropsOffset = Int(SK_MEMINFO_DROPS) * 4
                if value.count >= dropsOffset + 4 {
                    socket.drops = value.loadUnaligned(fromByteOffset: dropsOffset, as: UInt32.self)
                }
            case UInt32(INET_DIAG_INFO) where proto == .tcp:
                socket.tcpInfo = TCPInfoDecoder.decode(value)
            default:
                break
            }
        }
        // The kernel sends INET_DIAG_SKV6ONLY for full IPv6 sockets only; a TIME_WAIT or
        // request socket has none, and its v6only stays unknown.
        return socket
    }

    @inline(__always)
    private static func address(
        _ payload: UnsafeRawBufferPointer, at offset: Int, family: AddressFamily
    ) -> IPAddress {
        switch family {
        case .ipv4:
            return IPAddress(ipv4: UInt32(bigEndian: payload.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        case .ipv6:
            return IPAddress(
                ipv6: UInt64(bigEndian: payload.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
                UInt64(bigEndian: payload.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
        }
    }
}
