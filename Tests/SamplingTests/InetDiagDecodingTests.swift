import Glibc
import Testing
@testable import Sampling

/// inet_diag replies decoded from bytes laid out as the kernel sends them
/// (struct inet_diag_msg, then netlink attributes), without a socket.
struct InetDiagDecodingTests {
    // Attribute numbers from include/uapi/linux/inet_diag.h (enum INET_DIAG_*).
    let INET_DIAG_INFO: UInt16 = 2
    let INET_DIAG_SKMEMINFO: UInt16 = 7
    let INET_DIAG_SKV6ONLY: UInt16 = 11

    /// Builds one reply payload: an inet_diag_msg and the given attributes.
    private func message(
        family: Int32, state: UInt8, timer: UInt8 = 0, retrans: UInt8 = 0,
        sport: UInt16, dport: UInt16, src: [UInt8], dst: [UInt8],
        cookie: UInt64 = 0, expires: UInt32 = 0, rqueue: UInt32, wqueue: UInt32,
        uid: UInt32, inode: UInt32, attributes: [(UInt16, [UInt8])] = []
    ) -> [UInt8] {
        var b: [UInt8] = [UInt8(family), state, timer, retrans]
        b += withUnsafeBytes(of: sport.bigEndian, Array.init)
        b += withUnsafeBytes(of: dport.bigEndian, Array.init)
        b += src + [UInt8](repeating: 0, count: 16 - src.count)
        b += dst + [UInt8](repeating: 0, count: 16 - dst.count)
        b += withUnsafeBytes(of: UInt32(0), Array.init)  // idiag_if
        b += withUnsafeBytes(of: UInt32(truncatingIfNeeded: cookie), Array.init)
        b += withUnsafeBytes(of: UInt32(truncatingIfNeeded: cookie >> 32), Array.init)
        for value in [expires, rqueue, wqueue, uid, inode] { b += withUnsafeBytes(of: value, Array.init) }
        for (type, value) in attributes {
            b += withUnsafeBytes(of: UInt16(4 + value.count), Array.init)
            b += withUnsafeBytes(of: type, Array.init)
            b += value
            b += [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
        }
        return b
    }

    @Test func decodesAnIPv4Listener() throws {
        var meminfo = [UInt8](repeating: 0, count: 9 * 4)
        meminfo[32] = 7  // SK_MEMINFO_DROPS
        let bytes = message(
            family: AF_INET, state: 10, sport: 22, dport: 0, src: [127, 0, 0, 1], dst: [],
            cookie: 0x1_0000_002a, rqueue: 3, wqueue: 128, uid: 1000, inode: 4242,
            attributes: [(7, meminfo)])
        let socket = try #require(bytes.withUnsafeBytes { InetDiag.decode($0, proto: .tcp) })
        #expect(socket.state == .listen)
        #expect(socket.family == .ipv4)
        #expect(socket.local == Endpoint(address: IPAddress("127.0.0.1")!, port: 22))
        #expect(socket.remote.address.isUnspecified && socket.remote.port == 0)
        #expect(socket.recvQ == 3 && socket.sendQ == 128)
        #expect(socket.uid == 1000 && socket.inode == 4242)
        #expect(socket.cookie == 0x1_0000_002a)
        #expect(socket.drops == 7)
        #expect(socket.v6only == nil)
        #expect(socket.timer == nil)
    }

    @Test func decodesAnIPv6SocketWithV6OnlyAndTimer() throws {
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]
        let bytes = message(
            family: AF_INET6, state: 1, timer: 2, retrans: 1, sport: 443, dport: 51000,
            src: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], dst: mapped,
            expires: 9500, rqueue: 0, wqueue: 17, uid: 0, inode: 99,
            attributes: [(INET_DIAG_SKV6ONLY, [1])])
        let socket = try #require(bytes.withUnsafeBytes { InetDiag.decode($0, proto: .tcp) })
        #expect(socket.local.address.description == "2001:db8::1")
        #expect(socket.remote.address.description == "::ffff:10.1.2.3")
        #expect(socket.remote.address.ipv4Mapped == IPAddress("10.1.2.3"))
        #expect(socket.v6only == true)
        #expect(socket.timer == SocketTimer(kind: .keepalive, expiresMs: 9500, retransmits: 1))
    }

    @Test func decodesTCPInfoOfAnOlderKernelWithoutTheNewerFields() throws {
        // 104 bytes: the struct as kernels before 4.1 sent it; bytes_acked and later are absent.
        var info = [UInt8](repeating: 0, count: 104)
        func put(_ value: UInt32, at offset: Int) {
            withUnsafeBytes(of: value) { for (i, b) in $0.enumerated() { info[offset + i] = b } }
        }
        put(1500, at: 68)  // rtt
        put(250, at: 72)  // rttvar
        put(10, at: 80)  // cwnd
        put(3, at: 100)  // total_retrans
        let bytes = message(
            family: AF_INET, state: 1, sport: 1, dport: 2, src: [127, 0, 0, 1], dst: [127, 0, 0, 1],
            rqueue: 0, wqueue: 0, uid: 0, inode: 5, attributes: [(INET_DIAG_INFO, info)])
        let socket = try #require(bytes.withUnsafeBytes { InetDiag.decode($0, proto: .tcp) })
        let tcp = try #require(socket.tcpInfo)
        #expect(tcp.rttUs == 1500 && tcp.rttVarUs == 250 && tcp.sendCwnd == 10 && tcp.totalRetrans == 3)
        #expect(tcp.bytesAcked == nil && tcp.bytesSent == nil && tcp.minRttUs == nil)
    }

    @Test("a payload too short, or of a foreign family, is rejected, not misread")
    func rejectsMalformedPayloads() {
        let short = [UInt8](repeating: 0, count: 40)
        #expect(short.withUnsafeBytes { InetDiag.decode($0, proto: .tcp) } == nil)
        var unix = message(family: AF_INET, state: 1, sport: 1, dport: 1, src: [], dst: [], rqueue: 0, wqueue: 0, uid: 0, inode: 1)
        unix[0] = UInt8(AF_UNIX)
        #expect(unix.withUnsafeBytes { InetDiag.decode($0, proto: .tcp) } == nil)
    }

    @Test func attributeWalkStopsAtATruncatedAttribute() {
        // Length says 12 but only 6 bytes follow: the walk must stop, not read past the end.
        let bytes: [UInt8] = [12, 0, 5, 0, 1, 2]
        var seen = 0
        bytes.withUnsafeBytes { NetlinkMessage.forEachAttribute(in: $0) { _, _ in seen += 1 } }
        #expect(seen == 0)
    }

    @Test func requestAsksForEveryDecodedStateAndTheRightExtensions() {
        let request = InetDiag.request(family: .ipv6, proto: .tcp, states: SocketState.allStatesMask, tcpInfo: true)
        #expect(request.count == 56)  // sizeof(struct inet_diag_req_v2)
        #expect(request[0] == UInt8(AF_INET6) && request[1] == UInt8(IPPROTO_TCP))
        #expect(request[2] & UInt8(1 << (INET_DIAG_INFO - 1)) != 0)
        #expect(request[2] & UInt8(1 << (INET_DIAG_SKMEMINFO - 1)) != 0)
        // Every state netstatd decodes (1 ESTABLISHED to 12 NEW_SYN_RECV), not 13
        // (TCP_BOUND_INACTIVE), which walks the shared bind hash.
        #expect(Array(request[4...7]) == [0xfe, 0x1f, 0, 0])
    }
}
