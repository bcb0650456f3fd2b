/// Maps (method, path) to a handler. Patterns are literal segments and `{name}`
/// parameters (`/api/v1/ports/{port}`). Independent of the server, so routing is
/// tested in-process, and generic over the handler so this module knows nothing of
/// the API's types.
public struct Router<Handler: Sendable>: Sendable {
    /// The outcome of matching a request.
    public enum Match: Sendable {
        /// A route matched; its handler and the path parameters by name.
        case found(Handler, [String: String])
        /// No route has this path.
        case notFound
        /// Routes have this path, but not for this method; the methods they allow.
        case methodNotAllowed([String])
    }

    private struct Route: Sendable {
        var method: String
        var segments: [Substring]
        var handler: Handler
    }

    private var routes: [Route] = []

    /// An empty router.
    public init() {}

    /// Adds a route. HEAD is answered by GET routes.
    public mutating func add(_ method: String, _ pattern: String, _ handler: Handler) {
        routes.append(Route(method: method, segments: pattern.split(separator: "/"), handler: handler))
    }

    /// Finds the route for `method` and `path`.
    public func match(method: String, path: String) -> Match {
        let segments = path.split(separator: "/")
        var allowed: [String] = []
        for route in routes {
            guard let parameters = Self.bind(route.segments, to: segments) else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET") {
                return .found(route.handler, parameters)
            }
            allowed.append(route.method)
        }
        if allowed.isEmpty { return .notFound }
        if allowed.contains("GET") { allowed.append("HEAD") }
        return .methodNotAllowed(Array(Set(allowed)).sorted())
    }

    private static func bind(_ pattern: [Substring], to path: [Substring]) -> [String: String]? {
        guard pattern.count == path.count else { return nil }
        var parameters: [String: String] = [:]
        for (expected, actual) in zip(pattern, path) {
            if expected.hasPrefix("{") && expected.hasSuffix("}") {
                parameters[String(expected.dropFirst().dropLast())] = String(actual)
            } else if expected != actual {
                return nil
            }
        }
        return parameters
    }
}
