public import HTTP
public import Sampling

/// What the API serves and to whom.
public struct APIConfiguration: Sendable {
    /// Bearer token every path but /healthz requires; nil serves without auth.
    public var token: String? {
        get { bearer.current }
        set { bearer = BearerToken(newValue) }
    }
    /// Holds `token`; `serve` replaces its value when SIGHUP re-reads the token file.
    public var bearer = BearerToken(nil)
    /// The capabilities probed at start, served by /api/v1/status; nil when not probed.
    public var capabilities: Capabilities?
    /// Origin allowed to read the API from a browser (`Access-Control-Allow-Origin`), or `*`.
    public var corsOrigin: String?
    /// Serve process command lines (they can hold secrets).
    public var exposeCommandLines = false
    /// Label /metrics' socket and listener series with their network namespace
    /// (`netns`): one series per namespace, so off by default on hosts with many.
    public var metricsNamespaces = false
    /// "Current" means a snapshot at most this many seconds old.
    public var maxSnapshotAge = 1.0
    /// Seconds between the sampler's samples (0 when nothing samples periodically): a
    /// conditional request naming the newest sample gets 304 while no newer one is due,
    /// without taking a sample of its own.
    public var samplingInterval = 0.0
    /// The HTTP server's connection figures, for /metrics (set once the server exists).
    public var httpStatistics: (@Sendable () -> HTTPServerStatistics)?
    /// The openapi.yaml text served at /openapi.yaml.
    public var openAPIDocument: String = OpenAPIDocument.yaml
    /// Log one line per request to stderr.
    public var logRequests = false

    /// Defaults: no auth (loopback), no CORS.
    public init() {}
}
