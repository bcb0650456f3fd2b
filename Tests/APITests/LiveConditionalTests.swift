import API
import HTTP
import Sampling
import Service
import TestSupport
import Foundation
import Glibc
import Testing

/// Live answers name their sample in an ETag; polling with If-None-Match costs a 304.
struct LiveConditionalTests {
    @Test("If-None-Match with the newest sample's tag answers 304 without sampling, until a newer sample is due")
    func pollingBetweenSamplesIsFree() throws {
        var configuration = APIConfiguration()
        configuration.samplingInterval = 5
        let api = InProcessAPI(configuration: configuration)
        api.live.refresh()
        for path in ["/api/v1/listeners", "/api/v1/connections?state=listen", "/api/v1/stats/states", "/api/v1/processes"] {
            let first = api.get(path)
            let tag = try #require(first.header("ETag"), "\(path) has no ETag")
            #expect(first.header("Netstatd-Taken-At") != nil)
            usleep(1_200_000)  // past "current" (1 s): without the tag this would sample again
            let samples = api.live.samplerStats.samples
            let again = api.get(path, headers: [("If-None-Match", tag)])
            #expect(again.status == 304 && again.body.isEmpty, "\(path): \(again.status)")
            #expect(api.live.samplerStats.samples == samples, "\(path): a 304 took no sample")
            let other = api.get(path, headers: [("If-None-Match", "\"not-it\"")])
            #expect(other.status == 200)
        }
    }
}

/// The HTTP server's connection figures reach /metrics (idle and slow clients closed on
/// time are counted, not hidden).
@Suite(.enabled(if: TestEnvironment.hasTool("curl"), "needs curl"))
struct HTTPMetricsTests {
    final class Box: @unchecked Sendable {
        // @unchecked: set before the server starts.
        var server: HTTPServer?
    }

    @Test func connectionFiguresInMetrics() throws {
        let box = Box()
        var configuration = APIConfiguration()
        configuration.httpStatistics = { box.server?.statistics() ?? HTTPServerStatistics() }
        let api = APIServer(live: LiveView(collector: Collector(options: CollectorOptions())), configuration: configuration)
        let server = HTTPServer(configuration: LiveServer.defaultHTTP(), handler: api.handle)
        box.server = server
        try server.start()
        defer { server.stop() }
        _ = try Reply.fetch("http://127.0.0.1:\(server.port)/healthz")
        let metrics = try Reply.fetch("http://127.0.0.1:\(server.port)/metrics").text
        let accepted = metrics.split(separator: "\n").first { $0.hasPrefix("netstatd_http_connections_accepted_total ") }
        #expect((accepted?.split(separator: " ").last).flatMap { Double($0) }.map { $0 >= 2 } == true, "\(accepted ?? "missing")")
        #expect(metrics.contains("netstatd_http_connections_expired_total "))
        #expect(metrics.contains("# TYPE netstatd_http_connections_open gauge"))
    }
}
