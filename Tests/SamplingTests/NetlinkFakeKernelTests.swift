import Glibc
@testable import Sampling
import Testing

/// NetlinkSocket and SockDiagReader fed canned kernel replies through a socketpair:
/// multi-part dumps, an error reply, a truncated message, and a dump the kernel flags
/// interrupted (NLM_F_DUMP_INTR), which is taken again.
struct NetlinkFakeKernelTests {
    /// A datagram socketpair: the reader adopts one end; replies are queued on the other.
    final class FakeKernel {
        let ours: Int32
        let kernel: Int32

        init() {
            var fds: [Int32] = [0, 0]
            socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0, &fds)
            ours = fds[0]
            kernel = fds[1]
        }

        deinit { close(kernel) }

        /// Queues one datagram holding `messages` (type, flags, sequence, payload).
        func reply(_ messages: [(type: UInt16, flags: UInt16, sequence: UInt32, payload: [UInt8])]) {
            var datagram: [UInt8] = []
            for message in messages {
                var bytes: [UInt8] = []
                func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) } }
                put(UInt32(16 + message.payload.count)); put(message.type); put(message.flags); put(message.sequence); put(UInt32(0))
                bytes += message.payload
                while bytes.count % 4 != 0 { bytes.append(0) }
                datagram += bytes
            }
            _ = datagram.withUnsafeBytes { send(kernel, $0.baseAddress, $0.count, 0) }
        }
    }

    /// An inet_diag_msg for an ESTABLISHED IPv4 TCP socket 127.0.0.1:`port` -> :80.
    static func socketMessage(port: UInt16, inode: UInt32) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(AF_INET), 1, 0, 0]
        withUnsafeBytes(of: port.bigEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(80).bigEndian) { bytes.append(contentsOf: $0) }
        bytes += [127, 0, 0, 1] + [UInt8](repeating: 0, count: 12) + [127, 0, 0, 1] + [UInt8](repeating: 0, count: 12)
        bytes += [UInt8](repeating: 0, count: 4 + 8 + 4 + 4 + 4 + 4)  // if, cookie, expires, rqueue, wqueue, uid
        withUnsafeBytes(of: inode) { bytes.append(contentsOf: $0) }
        return bytes
    }

    static let diag: UInt16 = 20  // SOCK_DIAG_BY_FAMILY
    static let done: UInt16 = 3   // NLMSG_DONE
    static let error: UInt16 = 2  // NLMSG_ERROR
    static let multi: UInt16 = 2  // NLM_F_MULTI
    static let interrupted: UInt16 = 0x10  // NLM_F_DUMP_INTR
    static let doneMessage = (type: done, flags: multi, sequence: UInt32(0), payload: [UInt8](repeating: 0, count: 4))

    static func read(_ kernel: FakeKernel) throws -> (sockets: [Socket], restarts: Int, reader: SockDiagReader) {
        let reader = SockDiagReader(socket: NetlinkSocket(adopting: kernel.ours), tcpTableBuckets: nil)
        var sockets: [Socket] = []
        try reader.dump(family: .ipv4, proto: .tcp, states: ~0, tcpInfo: false, buffer: NetlinkReceiveBuffer(), into: &sockets)
        return (sockets, reader.takeRestarts(), reader)
    }

    @Test("a dump in several datagrams is read whole, until NLMSG_DONE")
    func multiPart() throws {
        let kernel = FakeKernel()
        kernel.reply([(Self.diag, Self.multi, 1, Self.socketMessage(port: 1000, inode: 1)), (Self.diag, Self.multi, 1, Self.socketMessage(port: 1001, inode: 2))])
        kernel.reply([(Self.diag, Self.multi, 1, Self.socketMessage(port: 1002, inode: 3))])
        var done = Self.doneMessage; done.sequence = 1
        kernel.reply([done])
        let (sockets, restarts, _) = try Self.read(kernel)
        #expect(sockets.map(\.local.port) == [1000, 1001, 1002])
        #expect(restarts == 0)
    }

    @Test("a dump the kernel flags interrupted is taken again; what it gave first is dropped")
    func interruptedDumpIsRestarted() throws {
        let kernel = FakeKernel()
        var done1 = Self.doneMessage; done1.sequence = 1
        var done2 = Self.doneMessage; done2.sequence = 2
        kernel.reply([(Self.diag, Self.multi | Self.interrupted, 1, Self.socketMessage(port: 2000, inode: 1)), done1])
        kernel.reply([(Self.diag, Self.multi, 2, Self.socketMessage(port: 2001, inode: 2)), done2])
        let (sockets, restarts, _) = try Self.read(kernel)
        #expect(sockets.map(\.local.port) == [2001], "only the consistent dump's sockets")
        #expect(restarts == 1)
    }

    @Test("an error reply is thrown with the kernel's errno; a truncated message is not read past")
    func errorsAndTruncation() throws {
        let kernel = FakeKernel()
        withUnsafeBytes(of: Int32(-EPERM)) { errno in
            kernel.reply([(Self.error, 0, 1, Array(errno) + [UInt8](repeating: 0, count: 16))])
        }
        do {
            _ = try Self.read(kernel)
            Issue.record("an NLMSG_ERROR reply was not thrown")
        } catch let error as NetlinkError {
            #expect(error.errno == EPERM)
        }

        let truncated = FakeKernel()
        var datagram = Self.socketMessage(port: 3000, inode: 1)
        datagram.removeLast(10)  // the header says more than arrives
        truncated.reply([(Self.diag, Self.multi, 1, datagram)])
        var done = Self.doneMessage; done.sequence = 1
        truncated.reply([done])
        let (sockets, _, _) = try Self.read(truncated)
        #expect(sockets.isEmpty, "a message too short for an inet_diag_msg is skipped, not decoded")
    }
}
