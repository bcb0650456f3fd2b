import Foundation
import Sampling
import TestSupport
import Testing

/// The note about namespaces sharing the host's TCP table: when it is given, its
/// wording, and the real `serve` saying it once enough namespaces exist.
struct SharedTCPTableTests {
    @Test func adviceOnlyWhenManyNamespacesShareTheTable() {
        let shared = SharedTCPTable(childEntries: 0, hostBuckets: 262_144)
        #expect(shared.advice(namespaces: SharedTCPTable.adviceThreshold - 1) == nil, "few namespaces: a few walks")
        let advice = shared.advice(namespaces: 100)
        #expect(advice?.contains("100 network namespaces") == true)
        #expect(advice?.contains("all 262144 buckets") == true)
        #expect(advice?.contains("sysctl -w net.ipv4.tcp_child_ehash_entries=1024") == true)
        #expect(SharedTCPTable(childEntries: 1024, hostBuckets: 262_144).advice(namespaces: 100) == nil, "already set")
        #expect(SharedTCPTable(childEntries: nil, hostBuckets: nil).advice(namespaces: 100) == nil, "a kernel without it")
        #expect(SharedTCPTable(childEntries: 0, hostBuckets: nil).advice(namespaces: 100)?.contains("walks all of it.") == true)
    }

    @Test func readsTheSettingsFromAProcTree() throws {
        let root = try Synthetic.temporaryDirectory("sysctl")
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("sys/net/ipv4")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "0\n".write(to: directory.appendingPathComponent("tcp_child_ehash_entries"), atomically: true, encoding: .utf8)
        try "65536\n".write(to: directory.appendingPathComponent("tcp_ehash_entries"), atomically: true, encoding: .utf8)
        #expect(SharedTCPTable.read(procRoot: root.path) == SharedTCPTable(childEntries: 0, hostBuckets: 65536))
        try "-65536\n".write(to: directory.appendingPathComponent("tcp_ehash_entries"), atomically: true, encoding: .utf8)
        #expect(SharedTCPTable.read(procRoot: root.path).hostBuckets == 65536, "a namespace sharing the host's shows it negated")
        try "junk\n".write(to: directory.appendingPathComponent("tcp_ehash_entries"), atomically: true, encoding: .utf8)
        #expect(SharedTCPTable.read(procRoot: root.path) == SharedTCPTable(childEntries: 0, hostBuckets: nil))
        #expect(SharedTCPTable.read(procRoot: root.path + "/absent") == SharedTCPTable(childEntries: nil, hostBuckets: nil))
    }

    @Test(
        "serve says it once when it samples ten namespaces that share the table",
        .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"),
        .enabled(if: TestEnvironment.canUseNamespaces, "needs root and ip to make network namespaces"))
    func serveSaysItOnce() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let setting = SharedTCPTable.read(procRoot: "/proc")
        let directory = try Synthetic.temporaryDirectory("sharedtable")
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = (0..<SharedTCPTable.adviceThreshold).map { "nsd-shared-\(getpid())-\($0)" }
        defer { for name in names { _ = try? run(["ip", "netns", "del", name]) } }
        for name in names { #expect(try run(["ip", "netns", "add", name]).status == 0) }

        let serve = try ServeProcess(["--listen", "127.0.0.1:0", "--no-history", "--interval", "0.2"], binary: binary, directory: directory)
        _ = try serve.port()
        usleep(600_000)  // a few more samples: the note is not repeated
        let notes = serve.log.components(separatedBy: "share the host's TCP table").count - 1
        if setting.childEntries == 0 {
            #expect(notes == 1, "\(serve.log)")
            #expect(serve.log.contains("net.ipv4.tcp_child_ehash_entries = 0"))
        } else {
            #expect(notes == 0, "the host has the setting (\(String(describing: setting.childEntries))): \(serve.log)")
        }
        #expect(serve.stop() == 0)
    }
}
