import API
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
