@testable import API
import Foundation
import Sampling
import TestSupport
import Testing

/// Metric names and the CLOSE_WAIT gauge, without a server.
struct MetricNameTests {
    @Test(arguments: [
        ("RetransSegs", "retrans_segs"),
        ("TCPLostRetransmit", "tcp_lost_retransmit"),
        ("MPJoinAckHMacFailure", "mp_join_ack_hmac_failure"),
        ("MPJoinSynAckHMacFailure", "mp_join_syn_ack_hmac_failure"),
        ("TCPRcvQDrop", "tcp_rcv_q_drop"),
        ("InCEPkts", "in_ce_pkts"),
        ("FragOKs", "frag_o_ks"),
        ("SomethingInMs", "something_inms"),
    ])
    func snakeCase(kernel: String, metric: String) {
        #expect(MetricsRoute.snake(kernel) == metric)
    }

    @Test("no counter of either captured kernel gets a word promtool reads as a unit", arguments: ["kernel-6.18", "kernel-3.10"])
    func noUnitLookalikes(kernel: String) {
        let root = TestEnvironment.packageRoot.appendingPathComponent("Tests/SamplingTests/Fixtures/stats/\(kernel)").path
        let stats = ProtocolStats.read(procRoot: root)
        #expect(stats.counters.count > 100)
        for prefix in MetricNames().prefixes(for: stats) {
            let line = String(decoding: prefix, as: UTF8.self).split(separator: "\n").last!
            let name = line.trimmingCharacters(in: .whitespaces)
            let words = name.split(separator: "_", omittingEmptySubsequences: false)
            #expect(!words.contains { MetricsRoute.unitAbbreviations.contains($0) }, "\(name)")
        }
    }

    @Test func closeWaitByServicePort() {
        let sockets = [
            Synthetic.socket(cookie: 1, state: .listen, local: 8080),
            Synthetic.socket(cookie: 2, state: .closeWait, local: 8080, remote: 40001),
            Synthetic.socket(cookie: 3, state: .closeWait, local: 8080, remote: 40002),
            Synthetic.socket(cookie: 4, state: .closeWait, local: 51000, remote: 5432),
            Synthetic.socket(cookie: 5, state: .established, local: 51001, remote: 5432),
            Synthetic.socket(cookie: 6, state: .closeWait, local: 51002, remote: 5432),
        ]
        let rows = CloseWaitPorts.count(Synthetic.snapshot(at: 1, sockets))
        #expect(rows == [
            CloseWaitPorts.Row(port: 8080, direction: .inbound, count: 2),
            CloseWaitPorts.Row(port: 5432, direction: .outbound, count: 2),
        ])
    }
}
