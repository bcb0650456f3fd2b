import Foundation
import TestSupport
import Testing
@testable import Sampling

/// The /proc/net reader on captured files: the zoo's tables captured together with
/// `ss -tuanp` (Fixtures/proc), and older-kernel lines with odd content (Fixtures/proc-old).
struct ProcNetSocketsTests {
    private func fixture(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: Fixtures.root.appendingPathComponent(path)))
    }

    private func parse(_ path: String, _ proto: TransportProtocol, _ family: AddressFamily) throws -> (sockets: [Socket], malformed: Int) {
        var malformed = 0
        let sockets = ProcNetSockets.parse(try fixture(path), proto: proto, family: family, malformed: &malformed)
        return (sockets, malformed)
    }

    @Test("every table of the captured zoo matches what ss printed at the same moment")
    func capturedZooMatchesSS() throws {
        var problems = SamplingProblems()
        let root = Fixtures.root.appendingPathComponent("proc").path
        let sockets = ProcNetSockets.read(procRoot: root, problems: &problems)
        #expect(problems.isEmpty)
        let ss = SocketRow.parseSS(String(decoding: try fixture("proc/ss-tuanp.txt"), as: UTF8.self))
        let ours = sockets.map { socket in
            SocketRow(proto: socket.proto.rawValue, state: socket.state.rawValue,
                      local: "\(socket.local.address):\(socket.local.port)",
                      remote: "\(socket.remote.address):\(socket.remote.port)",
                      recvQ: Int(socket.recvQ), sendQ: Int(socket.sendQ), pids: [])
        }
        #expect(Set(ours.map(\.key)) == Set(ss.map(\.key)))
        for row in ours {
            guard let theirs = ss.first(where: { $0.key == row.key }) else { continue }
            #expect(row.state == theirs.state, "\(row) vs \(theirs)")
            #expect(row.recvQ == theirs.recvQ, "\(row) vs \(theirs)")
            if row.state != SocketState.listen.rawValue {
                #expect(row.sendQ == theirs.sendQ, "\(row) vs \(theirs)")  // listeners: procfs has no backlog
            }
        }
    }

    @Test func ipv4MappedAddressesInTCP6() throws {
        let (sockets, malformed) = try parse("proc/net/tcp6", .tcp, .ipv6)
        #expect(malformed == 0)
        let mapped = sockets.filter { $0.local.address.ipv4Mapped != nil }
        #expect(mapped.count == 2)
        #expect(mapped.allSatisfy { $0.local.address.description == "::ffff:127.0.0.1" && $0.family == .ipv6 })
        #expect(sockets.contains { $0.local.address.description == "::1" && $0.state == .listen })
        #expect(sockets.contains { $0.local.address.isUnspecified && $0.state == .listen })
    }

    @Test("older kernels: fewer trailing fields, garbage lines, extreme values")
    func oddLines() throws {
        let (tcp, malformed) = try parse("proc-old/net/tcp", .tcp, .ipv4)
        #expect(malformed == 1, "the garbage line is counted, not fatal")
        #expect(tcp.count == 3)
        #expect(tcp[0].inode == 4_294_967_295 && tcp[0].uid == 113 && tcp[0].state == .listen)
        #expect(tcp[0].local == Endpoint(address: IPAddress("127.0.0.1")!, port: 3306))
        #expect(tcp[1].remote.address == IPAddress("1.0.0.10"))
        #expect(tcp[1].sendQ == 16)
        #expect(tcp[1].timer?.kind == .keepalive && tcp[1].timer?.expiresMs ?? 0 > 0)
        #expect(tcp[2].state == .timeWait && tcp[2].inode == 0 && tcp[2].timer?.kind == .timewait)

        let (udp, udpMalformed) = try parse("proc-old/net/udp", .udp, .ipv4)
        #expect(udpMalformed == 0)
        #expect(udp.map(\.stateName) == ["UNCONN", "UNCONN"])
        #expect(udp[0].drops == 4_294_967_295)
        #expect(udp[1].drops == 7 && udp[1].recvQ == 0xD00 && udp[1].local.address == IPAddress("127.0.0.53"))
    }

    @Test("a missing table is named in problems and the rest is still read")
    func missingTable() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("netstatd-proc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("net"), withIntermediateDirectories: true)
        for name in ["tcp", "udp", "udp6"] {
            try Data(try fixture("proc/net/\(name)")).write(to: root.appendingPathComponent("net/\(name)"))
        }
        var problems = SamplingProblems()
        let sockets = ProcNetSockets.read(procRoot: root.path, problems: &problems)
        #expect(problems.socketTablesUnreadable.count == 1)
        #expect(problems.socketTablesUnreadable.first?.hasPrefix("tcp/ipv6") == true)
        #expect(sockets.contains { $0.proto == .tcp } && !sockets.contains { $0.proto == .tcp && $0.family == .ipv6 })
    }

    @Test(arguments: [
        ("garbage", "   0: nonsense"),
        ("short address", "   0: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1"),
        ("bad state", "   0: 0100007F:0016 00000000:0000 FF 00000000:00000000 00:00000000 00000000 0 0 1"),
        ("port too big", "   0: 0100007F:10000 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1"),
        ("no inode", "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0"),
    ])
    func malformedLineIsCounted(name: String, line: String) {
        var malformed = 0
        let sockets = ProcNetSockets.parse(Array(("header\n" + line + "\n").utf8), proto: .tcp, family: .ipv4, malformed: &malformed)
        #expect(sockets.isEmpty, "\(name)")
        #expect(malformed == 1, "\(name)")
    }
}
