import Glibc
public import HTTP
import Rendering
import Sampling
public import Service
import Store

/// netstatd's HTTP API: the routes, and the one boundary where everything a handler
/// throws becomes a problem+json response. `handle` is the whole API as a function,
/// so tests can call it in-process as well as through the real server.
public final class APIServer: Sendable {
    private let router: Router<RouteHandler>
    private let live: LiveView
    private let configuration: APIConfiguration
    private let startedAt = Clock.monotonicSeconds()
    private let history: HistoryAccess?
    private let stats: StatsView
    private let procRoot: String

    /// The API over `live`, and over `history` when it is recorded.
    public init(live: LiveView, configuration: APIConfiguration, history: HistoryAccess? = nil, stats: StatsView? = nil) {
        self.live = live
        self.configuration = configuration
        self.history = history
        procRoot = live.procRoot
        self.stats = stats ?? StatsView(procRoot: live.procRoot)
        var router = Router<RouteHandler>()
        router.add("GET", "/", PageRoute.page)
        router.add("GET", "/healthz", MetaRoutes.health)
        router.add("GET", "/openapi.yaml", MetaRoutes.openAPI)
        router.add("GET", "/api/v1/status", MetaRoutes.status)
        router.add("GET", "/api/v1/connections", ConnectionRoutes.list)
        router.add("GET", "/api/v1/listeners", ListenerRoutes.list)
        router.add("GET", "/api/v1/ports/{port}", ConnectionRoutes.port)
        router.add("GET", "/api/v1/namespaces", NamespaceRoutes.list)
        router.add("GET", "/api/v1/processes", ProcessRoutes.list)
        router.add("GET", "/api/v1/processes/{pid}", ProcessRoutes.one)
        router.add("GET", "/api/v1/stats/states", StatsRoutes.states)
        router.add("GET", "/api/v1/stats/protocols", ProtocolRoutes.protocols)
        router.add("GET", "/api/v1/stats/sockets", ProtocolRoutes.sockets)
        router.add("GET", "/api/v1/interfaces", ProtocolRoutes.interfaces)
        router.add("GET", "/api/v1/routes", ProtocolRoutes.routes)
        router.add("GET", "/metrics", MetricsRoute.metrics)
        router.add("GET", "/api/v1/history/connections", HistoryRoutes.connections)
        router.add("GET", "/api/v1/history/states", HistoryRoutes.states)
        router.add("GET", "/api/v1/history/ports/{port}", HistoryRoutes.port)
        router.add("GET", "/api/v1/history/samples", HistoryRoutes.samples)
        router.add("GET", "/api/v1/history/protocols", HistoryRoutes.protocols)
        router.add("GET", "/api/v1/history/interfaces", HistoryRoutes.interfaces)
        router.add("GET", "/api/v1/history/flows", FlowRoutes.flows)
        router.add("GET", "/api/v1/events", HistoryRoutes.events)
        self.router = router
    }

    /// Answers one request. Never throws, never traps.
    @Sendable public func handle(_ request: HTTPRequest) -> HTTPResponse {
        var response = route(request)
        if let origin = configuration.corsOrigin {
            response.setHeader("Access-Control-Allow-Origin", origin)
            response.setHeader("Vary", "Origin")
        }
        // Live answers change with every sample; a route that knows better says so.
        if response.header("Cache-Control") == nil { response.setHeader("Cache-Control", "no-store") }
        if configuration.logRequests {
            let line = Self.logLine(request, response)
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
        return response
    }

    private func route(_ request: HTTPRequest) -> HTTPResponse {
        if request.method == "OPTIONS" && configuration.corsOrigin != nil {
            // CORS preflight: browsers send it without credentials.
            return HTTPResponse(status: 204, headers: [
                ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
                ("Access-Control-Allow-Headers", "Authorization, Accept, Accept-Encoding"),
                ("Access-Control-Max-Age", "600"),
            ])
        }
        // Without a token: /healthz for probes, and / (the page), which holds no data and
        // must load before it can ask the user for the token (see PageRoute).
        if let token = configuration.token, request.path != "/healthz", request.path != "/",
           !Self.authorized(request, token: token) {
            var response = Problem(
                status: 401, title: "Unauthorized",
                detail: "This netstatd requires a token: send 'Authorization: Bearer <token>' (curl -H \"Authorization: Bearer $NETSTATD_TOKEN\").",
                slug: "unauthorized"
            ).response(instance: request.path)
            response.setHeader("WWW-Authenticate", "Bearer realm=\"netstatd\"")
            return response
        }
        switch router.match(method: request.method, path: request.path) {
        case .notFound:
            return Problem.notFound("no such path: \(request.path); see /openapi.yaml for the paths netstatd serves")
                .response(instance: request.path)
        case .methodNotAllowed(let allowed):
            var response = Problem(
                status: 405, title: "Method not allowed",
                detail: "\(request.method) is not allowed on \(request.path); use \(allowed.joined(separator: ", ")).",
                slug: "method-not-allowed"
            ).response(instance: request.path)
            response.setHeader("Allow", allowed.joined(separator: ", "))
            return response
        case .found(let handler, let parameters):
            let context = RouteContext(
                request: request, parameters: parameters, query: QueryParameters(request.query), live: live,
                configuration: configuration, startedAt: startedAt, history: history, stats: stats, procRoot: procRoot)
            do {
                return try handler(context)
            } catch let problem as Problem {
                return problem.response(instance: request.path)
            } catch let error as StoreError {
                if case .corrupt = error {
                    return Problem(status: 503, title: "History unavailable",
                                   detail: "the history file is damaged; live endpoints still answer. See /healthz.", slug: "history-damaged")
                        .response(instance: request.path)
                }
                return internalError(error, request)
            } catch {
                return internalError(error, request)
            }
        }
    }

    /// The `--log-requests` line. The method and path are the client's text: escaped,
    /// so a URL can neither forge a log line nor reach the terminal with an escape.
    static func logLine(_ request: HTTPRequest, _ response: HTTPResponse) -> String {
        "netstatd: \(request.remoteAddress) \(UntrustedText.terminal(request.method)) \(UntrustedText.terminal(request.path)) \(response.status) \(response.body.count)B\n"
    }

    /// A 500: the details (SQL included) go to the log under an id; the client gets
    /// the id, to find that line, and nothing of the internals.
    private func internalError(_ error: any Error, _ request: HTTPRequest) -> HTTPResponse {
        let id = String(UInt64.random(in: 0..<(1 << 48)), radix: 16)
        let line = "netstatd: error \(id) answering \(UntrustedText.terminal(request.path)): \(UntrustedText.terminal(String(describing: error)))\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        return Problem(status: 500, title: "Internal error",
                       detail: "netstatd could not answer this request; its log has the details under error id \(id).", slug: "internal-error")
            .response(instance: request.path)
    }

    /// Compares the bearer token in constant time (no early exit on the first wrong byte).
    static func authorized(_ request: HTTPRequest, token: String) -> Bool {
        guard let header = request.header("Authorization") else { return false }
        // The scheme name is case-insensitive (RFC 9110 section 11.1); the token is not.
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let given = Array(parts[1].drop { $0 == " " }.utf8)
        let expected = Array(token.utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for index in 0..<max(given.count, expected.count) {
            let a = index < given.count ? given[index] : 0
            let b = index < expected.count ? expected[index] : 0
            difference |= a ^ b
        }
        return difference == 0
    }
}
