import HTTP
import Rendering
import Sampling

/// `/healthz`, `/api/v1/status` and `/openapi.yaml`.
enum MetaRoutes {
    /// 200 when sampling works, 503 (with the reason) when it does not.
    static func health(_ context: RouteContext) throws -> HTTPResponse {
        let snapshot = context.live.current(maxAge: max(2, context.configuration.maxSnapshotAge))
        let problems = snapshot.problems
        var reasons: [String] = []
        if problems.socketTablesUnreadable.count >= 4 {
            reasons.append("no socket table could be read: \(problems.socketTablesUnreadable.joined(separator: "; "))")
        }
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        json.key("status"); json.string(reasons.isEmpty ? "ok" : "failing")
        json.key("taken_at"); json.string(Timestamp.rfc3339(snapshot.takenAt))
        json.key("sockets"); json.number(snapshot.sockets.count)
        json.key("reasons"); json.beginArray()
        for reason in reasons { json.string(reason) }
        json.endArray()
        json.endObject()
        return .json(json, status: reasons.isEmpty ? 200 : 503)
    }

    /// Version, uptime, the last sample's time and cost, and what went wrong.
    static func status(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown([])
        let stats = context.live.samplerStats
        let newest = context.live.newest
        var json = JSONWriter(capacity: 1024)
        json.beginObject()
        json.key("version"); json.string(APIVersion.string)
        json.key("uptime_seconds"); json.number((monotonicNow() - context.startedAt).rounded())
        json.key("samples"); json.number(stats.samples)
        json.key("samples_with_problems"); json.number(stats.samplesWithProblems)
        json.key("last_sample")
        if let newest {
            json.beginObject()
            json.key("taken_at"); json.string(Timestamp.rfc3339(newest.takenAt))
            json.key("duration_ms"); json.number((newest.duration * 1e6).rounded() / 1e3)
            json.key("sockets"); json.number(newest.sockets.count)
            json.key("source"); json.string(newest.source.rawValue)
            json.key("problems"); SnapshotJSON.problems(newest.problems, to: &json)
            json.endObject()
        } else {
            json.null()
        }
        json.key("auth"); json.bool(context.configuration.token != nil)
        json.endObject()
        return .json(json)
    }

    /// The API contract.
    static func openAPI(_ context: RouteContext) throws -> HTTPResponse {
        HTTPResponse(status: 200, contentType: "application/yaml", body: Array(context.configuration.openAPIDocument.utf8))
    }
}

/// The version the API reports; the executable passes its own.
public enum APIVersion {
    /// Set once at start by the executable.
    nonisolated(unsafe) public static var string = "0.0.0"
}
