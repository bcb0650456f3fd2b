import Foundation
import Glibc
import TestSupport
import Testing
@testable import Sampling

/// A captured proc tree (like a sosreport's proc/) read through the whole path: the
/// /proc/net tables of the fixture plus process directories with `fd` links, made in a
/// temp dir by the test (git and resource copying do not keep symlinks reliably).
final class CapturedProcRoot {
    let root: URL

    /// The fixture's tables, and process 4242 (`nginx`) holding `inodes` as fds 3, 4, ...
    /// plus a non-socket fd; and process 5151 whose fd directory cannot be read.
    init(inodes: [UInt64]) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("netstatd-captured-\(UUID().uuidString)")
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("net"), withIntermediateDirectories: true)
        for name in ["tcp", "tcp6", "udp", "udp6", "sockstat", "sockstat6"] {
            try fm.copyItem(at: Fixtures.root.appendingPathComponent("proc/net/\(name)"),
                            to: root.appendingPathComponent("net/\(name)"))
        }
        let process = root.appendingPathComponent("4242")
        try fm.createDirectory(at: process.appendingPathComponent("fd"), withIntermediateDirectories: true)
        try "4242 (nginx) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n"
            .write(to: process.appendingPathComponent("stat"), atomically: true, encoding: .utf8)
        for (offset, inode) in inodes.enumerated() {
            symlink("socket:[\(inode)]", process.appendingPathComponent("fd/\(3 + offset)").path)
        }
        symlink("/var/log/nginx/access.log", process.appendingPathComponent("fd/1").path)
        // A process whose fd directory is missing: counted as gone, never fatal.
        try fm.createDirectory(at: root.appendingPathComponent("5151"), withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }
}

struct CapturedProcRootTests {
    /// Inode of the fixture's 127.0.0.1 listener (first LISTEN line of proc/net/tcp).
    private func listenerInode() throws -> UInt64 {
        var malformed = 0
        let bytes = Array(try Data(contentsOf: Fixtures.root.appendingPathComponent("proc/net/tcp")))
        let sockets = ProcNetSockets.parse(bytes, proto: .tcp, family: .ipv4, malformed: &malformed)
        return try #require(sockets.first { $0.state == .listen && $0.local.address.isLoopback }?.inode)
    }

    @Test func collectorReadsACapturedTreeWithOwners() throws {
        let inode = try listenerInode()
        let tree = try CapturedProcRoot(inodes: [inode])
        var options = CollectorOptions()
        options.procRoot = tree.root.path
        let snapshot = Collector(options: options).sample()
        #expect(snapshot.source == .procfs, "netlink describes the live kernel, so a captured root reads procfs")
        #expect(snapshot.sockets.count == 21)
        let listener = try #require(snapshot.sockets.first { $0.inode == inode })
        #expect(listener.processes == [SocketOwner(pid: 4242, startTime: 777, name: "nginx", fd: 3)])
        #expect(snapshot.problems.processesVanished == 1)
        #expect(snapshot.sockets.filter { !$0.processes.isEmpty }.count == 1)
    }

    @Test("PROC_ROOT and --proc-root drive the CLI the same way",
          .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"))
    func cliHonoursProcRoot() throws {
        let inode = try listenerInode()
        let tree = try CapturedProcRoot(inodes: [inode])
        let binary = try #require(TestEnvironment.netstatdBinary)
        let viaFlag = try run([binary, "snapshot", "--json", "--proc-root", tree.root.path])
        let viaEnv = try run(["env", "PROC_ROOT=\(tree.root.path)", binary, "snapshot", "--json"])
        #expect(viaFlag.status == 0 && viaEnv.status == 0)
        let a = try SocketRow.parseSnapshot(viaFlag.stdout)
        let b = try SocketRow.parseSnapshot(viaEnv.stdout)
        #expect(a.count == 21 && Set(a) == Set(b))
        #expect(a.contains { $0.pids == [4242] && $0.state == SocketState.listen.rawValue })
        let table = try run([binary, "snapshot", "-tlnp", "--proc-root", tree.root.path]).text
        #expect(table.contains("4242/nginx"))
        let bad = try run([binary, "snapshot", "--proc-root", "/nonexistent"])
        #expect(bad.status == 64 && bad.stderr.contains("--proc-root"))
    }
}
