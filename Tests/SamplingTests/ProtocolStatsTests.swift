import Foundation
import Testing
@testable import Sampling

/// The counter, interface and route parsers on captured files from two kernels: this
/// machine's 6.18, and a 3.10 (RHEL 7 era) with fewer fields, no MPTcpExt, IPv6 off.
struct ProtocolStatsTests {
    private func root(_ kernel: String) -> String {
        Fixtures.root.appendingPathComponent("stats/\(kernel)").path
    }

    private func text(_ kernel: String, _ file: String) throws -> String {
        try String(contentsOfFile: root(kernel) + "/net/" + file, encoding: .utf8)
    }

    @Test(arguments: ["kernel-6.18", "kernel-3.10"])
    func snmpNamesComeFromTheHeader(kernel: String) throws {
        let counters = ProcNetSNMP.parse(try text(kernel, "snmp"))
        let byKey = Dictionary(counters.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(counters.first { $0.key == "Tcp.MaxConn" }?.printed == "-1", "signed fields stay signed")
        #expect(counters.first { $0.key == "Tcp.RtoMin" }?.printed == "200")
        #expect(byKey["Tcp.RtoMin"] == 200)
        #expect(byKey["Udp.InDatagrams"] != nil)
        #expect(byKey["Ip.OutTransmits"] == (kernel == "kernel-6.18" ? byKey["Ip.OutTransmits"] : nil), "a field the kernel lacks is absent, not zero")
        if kernel == "kernel-3.10" {
            #expect(byKey["Ip.OutTransmits"] == nil)
            #expect(byKey["Tcp.RetransSegs"] == 18_446_744_073_709_551_615, "a counter near 2^64")
            #expect(byKey["Ip.InReceives"] == 1_620_362_041)
        }
    }

    @Test func netstatGroupsAndSNMP6() throws {
        let new = ProcNetSNMP.parse(try text("kernel-6.18", "netstat"))
        #expect(Set(new.map(\.group)).isSuperset(of: ["TcpExt", "IpExt"]))
        #expect(new.contains { $0.key == "TcpExt.ListenOverflows" })
        let old = ProcNetSNMP.parse(try text("kernel-3.10", "netstat"))
        #expect(!old.contains { $0.group == "MPTcpExt" })
        #expect(old.first { $0.key == "TcpExt.ListenOverflows" }?.value == 1523)
        #expect(old.first { $0.key == "IpExt.InOctets" }?.value == 410_385_287_021)

        let six = ProcNetSNMP6.parse(try text("kernel-6.18", "snmp6"))
        #expect(six.contains { $0.group == "Ip6" && $0.name == "InReceives" })
        #expect(six.contains { $0.group == "Udp6" && $0.name == "RcvbufErrors" })
        #expect(six.contains { $0.group == "Icmp6" })
    }

    @Test func aCapturedTreeReadsWhateverIsThere() {
        let old = ProtocolStats.read(procRoot: root("kernel-3.10"))
        #expect(old.missing == ["snmp6"])
        #expect(old.interfaces.map(\.name) == ["eth0", "lo"])
        #expect(old.interfaces[0].counters["rx_bytes"] == 410_385_287_021)
        #expect(old.interfaces[0].counters["rx_drop"] == 17)
        #expect(old.interfaces[0].counters["tx_colls"] == 0)
        #expect(old.sockstat?.values["TCP"]?["tw"] == 3120)
        let new = ProtocolStats.read(procRoot: root("kernel-6.18"))
        #expect(new.missing.isEmpty)
        #expect(new.counters.count > old.counters.count)
    }

    @Test("the daemon's byte-level reader agrees with the parsers", arguments: ["kernel-6.18", "kernel-3.10"])
    func counterReaderAgrees(kernel: String) {
        let reader = CounterReader(procRoot: root(kernel))
        for _ in 0..<2 {  // the second reading reuses open files and cached headers
            let fast = reader.read()
            let slow = ProtocolStats.read(procRoot: root(kernel))
            #expect(fast.counters == slow.counters)
            #expect(fast.missing == slow.missing)
            #expect(fast.interfaces == slow.interfaces)
            #expect(fast.sockstat == slow.sockstat)
        }
    }

    @Test func malformedLinesAreSkipped() {
        let counters = ProcNetSNMP.parse("Tcp: A B C\nTcp: 1 2\nUdp: X\nUdp: notanumber\ngarbage\n")
        #expect(counters.map(\.key) == ["Tcp.A", "Tcp.B"])
        #expect(ProcNetDev.parse("nonsense").isEmpty)
    }

    @Test func routesOfBothFamilies() throws {
        let old = ProcNetRoute.parseIPv4(try text("kernel-3.10", "route"))
        #expect(old.count == 2)
        #expect(old[0].destination == IPAddress("0.0.0.0") && old[0].prefixLength == 0)
        #expect(old[0].gateway == IPAddress("192.168.1.1") && old[0].flagLetters == "UG" && old[0].metric == 100)
        #expect(old[1].destination == IPAddress("192.168.1.0") && old[1].prefixLength == 24 && old[1].flagLetters == "U")
        let six = ProcNetRoute.parseIPv6(try text("kernel-6.18", "ipv6_route"))
        #expect(six.allSatisfy { $0.family == .ipv6 })
        #expect(six.contains { $0.destination == IPAddress("fe80::") && $0.prefixLength == 64 })
    }

    @Test("rates: increases, resets (the value after it is the increase), the first reading", arguments: [
        (nil as UInt64?, 100 as UInt64, 5.0, nil as Double?, false),
        (100, 150, 5.0, 10.0, false),
        (150, 150, 5.0, 0.0, false),
        (150, 20, 5.0, 4.0, true),
        (100, 200, 0.0, nil, false),
        // Exact where a Double is not: 2^64 - 4097 and 2^64 - 1 differ by 4096.
        (18_446_744_073_709_547_519, 18_446_744_073_709_551_615, 2.0, 2048.0, false),
        (18_446_744_073_709_551_614, 18_446_744_073_709_551_615, 1.0, 1.0, false),
    ])
    func rates(previous: UInt64?, current: UInt64, seconds: Double, expected: Double?, reset: Bool) {
        let rate = CounterRate.between(previous, current, seconds: seconds)
        #expect(rate.perSecond == expected)
        #expect(rate.reset == reset)
    }
}
