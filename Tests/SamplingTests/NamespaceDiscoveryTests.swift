import Foundation
import Glibc
import TestSupport
import Testing
@testable import Sampling

/// Namespace links and capability masks as text, then discovery on this host.
struct NamespaceDiscoveryTests {
    @Test(arguments: [
        ("net:[4026531840]", UInt64?.some(4_026_531_840)),
        ("net:[1]", 1),
        ("net:[]", nil),
        ("net:[12a]", nil),
        ("mnt:[4026531840]", nil),
        ("socket:[4026531840]", nil),
        ("net:[99999999999999999999]", nil),
        ("net:4026531840", nil),
        ("", nil),
    ])
    func namespaceLinks(text: String, inode: UInt64?) {
        #expect(NamespaceDiscovery.inode(fromLink: text) == inode)
    }

    @Test(arguments: [
        ("Name:\tx\nCapEff:\t000001ffffffffff\n", true),
        ("CapEff:\t0000000000000000\n", false),
        ("CapEff:\t0000000000200000\n", true),
        ("CapEff:\t00000000001fffff\n", false),
        ("CapInh:\t0000000000200000\n", false),
        ("CapEff:\tzz\n", false),
    ])
    func sysAdminInCapEff(status: String, expected: Bool) {
        #expect(NamespaceScope.hasEffectiveCapability(21, status: status) == expected)
    }

    @Test("the own namespace is found, marked, and is the one of /proc/self/ns/net")
    func ownNamespace() throws {
        let own = try #require(NamespaceDiscovery(procRoot: "/proc").ownOnly().first)
        var info = stat()
        #expect(stat("/proc/self/ns/net", &info) == 0)
        #expect(own.inode == UInt64(info.st_ino) && own.isOwn)
    }

    @Test(
        "a namespace held by a bind mount has its ip netns name and no pid; one held by a process has its pid",
        .enabled(if: TestEnvironment.canUseNamespaces, "needs root and ip to make namespaces"))
    func boundAndHeld() throws {
        let named = try NetworkNamespace(tag: "disc")
        let holder = try HeldProcess(["python3", TestEnvironment.namespacesScript, "holders", "1"])
        defer { holder.stop() }
        let child = try #require((holder.made["children"] as? [Int])?.first)
        let namedInode = try NamespaceTrio.inode("/run/netns/" + named.name)
        let heldInode = try NamespaceTrio.inode("/proc/\(child)/ns/net")
        let all = NetNamespace.discover()
        let bound = try #require(all.first { $0.inode == namedInode })
        #expect(bound.name == named.name && bound.pid == nil && bound.mountPath == "/run/netns/" + named.name)
        let held = try #require(all.first { $0.inode == heldInode })
        #expect(held.name == nil && held.pid == Int32(child) && held.processCount == 1)
        #expect(all.filter(\.isHost).count == 1 && all.first?.isHost == true, "the host's first, once")
        #expect(Set(all.map(\.inode)).count == all.count, "each namespace once")
        #expect(bound.isNamed(named.name) && bound.isNamed(String(namedInode)) && !bound.isNamed("host"))
    }

    @Test(
        "a leftover plain file in /run/netns is not a namespace",
        .enabled(if: TestEnvironment.isRoot, "needs root to write /run/netns"))
    func leftoverFile() throws {
        try FileManager.default.createDirectory(atPath: "/run/netns", withIntermediateDirectories: true)
        let path = "/run/netns/nsd-leftover-\(getpid())"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        defer { unlink(path) }
        #expect(!NetNamespace.discover().contains { $0.name == "nsd-leftover-\(getpid())" })
    }
}
