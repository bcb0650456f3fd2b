import Foundation
import Glibc
import Sampling
import Store
import TestSupport
import Testing

/// Cgroup ids named as paths (a real cgroup2 mount and cgroup made by the test), through
/// the Recorder to history's JSON.
@Suite(.enabled(if: TestEnvironment.isRoot, "mounting cgroup2 needs root"))
struct CgroupHistoryTests {
    @Test("a cgroup id is named by its path in the cgroup2 hierarchy, and history serves the unit it names")
    func cgroupIDsAreNamed() throws {
        guard let cgroup = TestCgroup.makeOrSkip() else { return }
        var info = stat()
        #expect(stat(cgroup.directory, &info) == 0)
        let paths = CgroupPaths()
        #expect(paths.path(of: UInt64(info.st_ino)) == cgroup.relative)
        #expect(paths.path(of: 0xdead_beef_0000) == nil, "an id no cgroup has")
        // A cgroup made after the last walk is found by walking again once it is due.
        let later = cgroup.directory + "/late.scope"
        mkdir(later, 0o755)
        defer { rmdir(later) }
        #expect(stat(later, &info) == 0)
        usleep(1_100_000)
        #expect(paths.path(of: UInt64(info.st_ino)) == cgroup.relative + "/late.scope")

        // An event with that id (as a kernel that sends INET_DIAG_CGROUP_ID would
        // give it), through naming and the Recorder to history's JSON.
        #expect(stat(cgroup.directory, &info) == 0)
        let socket = Socket(proto: .tcp, family: .ipv4, state: .close,
                            local: Endpoint(address: IPAddress("127.0.0.1")!, port: 41000),
                            remote: Endpoint(address: IPAddress("127.0.0.1")!, port: 5432),
                            recvQ: 0, sendQ: 0, uid: 0, inode: 0, cookie: 77, processes: [])
        var events = [CloseEvent(socket: socket, at: Clock.wallSeconds(), cgroupID: UInt64(info.st_ino))]
        paths.name(&events)
        #expect(events[0].cgroupPath == cgroup.relative)
        let directory = try Synthetic.temporaryDirectory("cgroup-history")
        defer { try? FileManager.default.removeItem(at: directory) }
        let api = try InProcessAPI.withHistory(in: directory) { recorder in
            try recorder.record(Synthetic.snapshot(at: Clock.wallSeconds() - 1, []))
            try recorder.record(Synthetic.snapshot(at: Clock.wallSeconds(), []), closeEvents: events)
        }
        let answer = api.get("/api/v1/history/connections?from=-1m&remote_port=5432")
        let item = try #require((answer.json["items"] as? [[String: Any]])?.first)
        #expect(item["cgroup"] as? String == cgroup.relative)
        let container = item["container"] as? [String: Any]
        #expect(container?["runtime"] as? String == "systemd" && container?["id"] as? String == cgroup.unitName)
    }
}
