import Foundation
import Sampling
import TestSupport
import Testing

/// The note about namespaces sharing the host's TCP table: when it is given, its
/// wording, and the real `serve` saying it once enough namespaces exist.
struct SharedTCPTableTests {
    /// `shared` namespaces on the host's table of 262,144 buckets, `own` with tables of their own.
    private func namespaces(shared: Int, own: Int) -> [NetNamespace] {
        var all = [NetNamespace(inode: 1, isHost: true)]
        all[0].tcpTableBuckets = 262_144
        for index in 0..<(shared + own) {
            var namespace = NetNamespace(inode: UInt64(100 + index))
            namespace.tcpTableBuckets = index < shared ? -262_144 : 1024
            all.append(namespace)
        }
        all.append(NetNamespace(inode: 99))  // not entered: unknown
        return all
    }

    @Test func adviceOnlyWhenManyNamespacesShareTheTable() {
        let unset = SharedTCPTable(childEntries: 0)
        #expect(unset.advice(for: namespaces(shared: SharedTCPTable.adviceThreshold - 1, own: 50)) == nil, "few share it: a few walks")
        let advice = unset.advice(for: namespaces(shared: 90, own: 8))
        #expect(advice?.contains("90 of the 100 network namespaces sampled share the host's TCP table") == true, "\(advice ?? "")")
        #expect(advice?.contains("all 262144 buckets") == true)
        #expect(advice?.contains("sysctl -w net.ipv4.tcp_child_ehash_entries=1024") == true)
        let set = SharedTCPTable(childEntries: 1024).advice(for: namespaces(shared: 12, own: 0))
        #expect(set?.contains("still share") == true && set?.contains("is 1024 in netstatd's namespace") == true
                && set?.contains("made again") == true, "set, but these namespaces are older than the setting")
        #expect(SharedTCPTable(childEntries: nil).advice(for: namespaces(shared: 100, own: 0)) == nil, "a kernel without it")
    }

    @Test func readsTheSettingsFromAProcTree() throws {
        let root = try Synthetic.temporaryDirectory("sysctl")
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("sys/net/ipv4")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "0\n".write(to: directory.appendingPathComponent("tcp_child_ehash_entries"), atomically: true, encoding: .utf8)
        try "65536\n".write(to: directory.appendingPathComponent("tcp_ehash_entries"), atomically: true, encoding: .utf8)
        #expect(SharedTCPTable.read(procRoot: root.path) == SharedTCPTable(childEntries: 0))
        #expect(SharedTCPTable.ownBuckets(procRoot: root.path) == 65536)
        try "-65536\n".write(to: directory.appendingPathComponent("tcp_ehash_entries"), atomically: true, encoding: .utf8)
        #expect(SharedTCPTable.ownBuckets(procRoot: root.path) == -65536, "a namespace sharing the host's shows it negated")
        try "junk\n".write(to: directory.appendingPathComponent("tcp_ehash_entries"), atomically: true, encoding: .utf8)
        #expect(SharedTCPTable.ownBuckets(procRoot: root.path) == nil)
        #expect(SharedTCPTable.read(procRoot: root.path + "/absent") == SharedTCPTable(childEntries: nil))
    }

    @Test(
        "serve tells which namespaces share the host's table, and says once what to do when ten do",
        .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"),
        .enabled(if: TestEnvironment.canUseNamespaces, "needs root and ip to make network namespaces"),
        .enabled(if: TestEnvironment.hasTool("curl"), "needs curl"))
    func serveSaysItOnce() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let directory = try Synthetic.temporaryDirectory("sharedtable")
        defer { try? FileManager.default.removeItem(at: directory) }
        let sysctl = "/proc/sys/net/ipv4/tcp_child_ehash_entries"
        let setting = SharedTCPTable.read(procRoot: "/proc")
        let hostBuckets = SharedTCPTable.ownBuckets(procRoot: "/proc")  // the test runs in the host's namespace
        // Ten namespaces made with the kernel's default (the host's table), one with a
        // table of its own; the setting is put back at once (it only decides how a
        // namespace is made).
        let shared = (0..<SharedTCPTable.adviceThreshold).map { "nsd-shared-\(getpid())-\($0)" }
        let own = "nsd-own-\(getpid())"
        defer { for name in shared + [own] { _ = try? run(["ip", "netns", "del", name]) } }
        if let original = setting.childEntries {
            defer { try? "\(original)\n".write(toFile: sysctl, atomically: false, encoding: .utf8) }
            try "0\n".write(toFile: sysctl, atomically: false, encoding: .utf8)
            for name in shared { #expect(try run(["ip", "netns", "add", name]).status == 0) }
            try "1024\n".write(toFile: sysctl, atomically: false, encoding: .utf8)
            #expect(try run(["ip", "netns", "add", own]).status == 0)
        } else {
            for name in shared + [own] { #expect(try run(["ip", "netns", "add", name]).status == 0) }
        }

        let serve = try ServeProcess(["--listen", "127.0.0.1:0", "--no-history", "--interval", "0.2"], binary: binary, directory: directory)
        let port = try serve.port()
        usleep(600_000)  // a few more samples: the note is not repeated
        let reply = try CurlReply.get("http://127.0.0.1:\(port)/api/v1/namespaces")
        #expect(reply.status == 200)
        let items = reply.json["items"] as? [[String: Any]] ?? []
        func table(_ name: String) -> [String: Any]? { items.first { $0["name"] as? String == name }?["tcp_table"] as? [String: Any] }
        let notes = serve.log.components(separatedBy: "share the host's TCP table").count - 1
        guard setting.childEntries != nil else {
            #expect(notes == 0, "a kernel without the setting: \(serve.log)")
            #expect(table(own) == nil && items.contains { $0["name"] as? String == own })
            return
        }
        for name in shared {
            #expect(table(name)?["shared_with_host"] as? Bool == true, "\(name): \(reply.body)")
            #expect(table(name)?["buckets"] as? Int == hostBuckets)
        }
        #expect(table(own)?["shared_with_host"] as? Bool == false && table(own)?["buckets"] as? Int == 1024, "\(reply.body)")
        let host = items.first { $0["host"] as? Bool == true }?["tcp_table"] as? [String: Any]
        #expect(host?["shared_with_host"] as? Bool == false && host?["buckets"] as? Int == hostBuckets)
        #expect(notes == 1, "\(serve.log)")
        let counted = serve.log.firstMatch(of: #/note: (\d+) of the (\d+) network namespaces sampled/#)
        #expect((counted.flatMap { Int($0.1) } ?? 0) >= shared.count, "\(serve.log)")
        #expect(serve.stop() == 0)
    }
}
