/// An error answered as `application/problem+json` (RFC 9457). Everything that goes
/// wrong in a handler becomes one of these at a single boundary (`APIServer`).
public struct Problem: Error, Sendable, CustomStringConvertible {
    /// HTTP status.
    public var status: Int
    /// Short, stable summary of the problem type.
    public var title: String
    /// What exactly was wrong and what would be right.
    public var detail: String
    /// The query or path parameter at fault, when there is one.
    public var parameter: String?
    /// A slug for `type` (`https://netstatd.dev/problems/<slug>` is not served; it names the kind).
    public var slug: String

    /// A problem from its parts.
    public init(status: Int, title: String, detail: String, parameter: String? = nil, slug: String) {
        self.status = status
        self.title = title
        self.detail = detail
        self.parameter = parameter
        self.slug = slug
    }

    /// 400 for a parameter whose value is wrong: says what was given and what is accepted.
    public static func badParameter(_ name: String, _ value: String, accepts: String) -> Problem {
        Problem(status: 400, title: "Invalid parameter",
                detail: "\(name)=\(value.debugDescription) is not valid: \(name) accepts \(accepts).",
                parameter: name, slug: "invalid-parameter")
    }

    /// 400 for a parameter this endpoint does not know.
    public static func unknownParameter(_ name: String, known: [String]) -> Problem {
        Problem(status: 400, title: "Unknown parameter",
                detail: "\(name) is not a parameter of this endpoint; it accepts: \(known.sorted().joined(separator: ", ")).",
                parameter: name, slug: "unknown-parameter")
    }

    /// 404 for a path that names nothing.
    public static func notFound(_ detail: String) -> Problem {
        Problem(status: 404, title: "Not found", detail: detail, slug: "not-found")
    }

    public var description: String { "\(status) \(title): \(detail)" }
}
