import Foundation
import Testing
@testable import Sampling

/// The capability probe on /proc/<pid>/status files captured on a 6.18 kernel: as root,
/// as nobody with no capabilities, and as nobody with ambient CAP_SYS_PTRACE and
/// CAP_DAC_READ_SEARCH (setpriv --ambient-caps).
struct CapabilitiesTests {
    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: Fixtures.root.appendingPathComponent("status/\(name)"), encoding: .utf8)
    }

    @Test(arguments: [
        ("root", UInt64(0x1ff_feff_ffff), ["other_users_owners", "socket_close_events", "large_netlink_buffers", "other_network_namespaces"]),
        ("nobody", UInt64(0), []),
        ("nobody-ptrace", UInt64(0x80004), ["other_users_owners"]),
    ])
    func parsesCapturedStatus(file: String, mask: UInt64, available: [String]) throws {
        let capabilities = try Capabilities.parse(status: Self.fixture(file))
        #expect(capabilities.effective == mask)
        let shown = Capabilities.Feature.all.filter { capabilities.missing(for: $0).isEmpty }.map(\.key)
        #expect(shown == available, "\(file)")
    }

    @Test func namesWhatIsMissing() throws {
        let nobody = try Capabilities.parse(status: Self.fixture("nobody"))
        #expect(nobody.missing(for: .otherUsersOwners) == [.CAP_SYS_PTRACE, .CAP_DAC_READ_SEARCH])
        #expect(nobody.summary.hasPrefix("owners of other users' sockets: unavailable, needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH; "))
        #expect(nobody.summary.contains("entering other network namespaces: unavailable, needs CAP_SYS_ADMIN"))
        let onlyPtrace = Capabilities(effective: 1 << 19)
        #expect(onlyPtrace.missing(for: .otherUsersOwners) == [.CAP_DAC_READ_SEARCH])
        let netAdmin = Capabilities(effective: 1 << 12)
        #expect(netAdmin.summary.contains("kernel socket close events: available"))
    }

    @Test("a malformed CapEff line is an error quoting it", arguments: [
        ("no CapEff line", "Name:\tcat\nCapPrm:\t0000000000000000\n", "no CapEff: line"),
        ("empty value", "CapEff:\t\n", "CapEff \"\""),
        ("not hex", "CapEff:\t00000000zz000000\n", "CapEff \"00000000zz000000\""),
        ("too long", "CapEff:\t00000000000000000001\n", "CapEff \"00000000000000000001\""),
        ("signed", "CapEff:\t+1f\n", "CapEff \"+1f\""),
    ])
    func rejectsMalformed(name: String, text: String, quoted: String) {
        #expect(throws: CapabilitiesError.self, "\(name)") { try Capabilities.parse(status: text) }
        do {
            _ = try Capabilities.parse(status: text)
        } catch {
            #expect("\(error)".contains(quoted), "\(name): \(error)")
        }
    }

    @Test func readsThisProcess() throws {
        // Whatever this process has, the probe reads a mask and names every feature.
        let capabilities = try Capabilities.read()
        #expect(capabilities.summary.components(separatedBy: "; ").count == Capabilities.Feature.all.count)
    }
}
