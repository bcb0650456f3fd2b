/// The body formats list endpoints offer: `format=` wins, else the `Accept` header.
public enum OutputFormat: String, Sendable, CaseIterable {
    case json, ndjson, csv, table

    /// The Content-Type of a body in this format.
    public var contentType: String {
        switch self {
        case .json: return "application/json"
        case .ndjson: return "application/x-ndjson"
        case .csv: return "text/csv; charset=utf-8"
        case .table: return "text/plain; charset=utf-8"
        }
    }

    /// The format asked for by `format=` or, failing that, by `Accept`.
    public static func negotiate(query: QueryParameters, accept: String?) throws -> OutputFormat {
        if let text = try query.string("format") {
            guard let format = OutputFormat(rawValue: text.lowercased()) else {
                throw Problem.badParameter("format", text, accepts: "json, ndjson, csv or table")
            }
            return format
        }
        guard let accept = accept?.lowercased() else { return .json }
        // First listed type we know wins; q-values are rare from scripts and ignored.
        for part in accept.split(separator: ",") {
            let type = String(part.split(separator: ";").first ?? "").filter { $0 != " " && $0 != "\t" }
            switch type {
            case "application/json", "application/*", "*/*": return .json
            case "application/x-ndjson", "application/ndjson", "application/jsonl": return .ndjson
            case "text/csv": return .csv
            case "text/plain", "text/*": return .table
            default: continue
            }
        }
        return .json
    }
}

