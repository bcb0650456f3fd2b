public import HTTP
import Rendering

extension Problem {
    /// The `application/problem+json` response (RFC 9457) for this problem.
    public func response(instance: String) -> HTTPResponse {
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        json.key("type"); json.string("https://netstatd.dev/problems/\(slug)")
        json.key("title"); json.string(title)
        json.key("status"); json.number(status)
        json.key("detail"); json.string(detail)
        json.key("instance"); json.string(instance)
        if let parameter {
            json.key("parameter"); json.string(parameter)
        }
        json.endObject()
        return HTTPResponse(status: status, contentType: "application/problem+json", body: json.bytes)
    }
}

extension HTTPResponse {
    /// A JSON body.
    static func json(_ writer: JSONWriter, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: writer.bytes)
    }
}
