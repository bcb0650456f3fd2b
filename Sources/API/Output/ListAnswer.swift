import HTTP
import Rendering
import Sampling
import Service

/// The headers every list and live answer carries, made in one place:
/// - `Netstatd-Taken-At`: the sample the answer describes (RFC 3339), in every format;
/// - `ETag`: names that sample and the request, so a client polling with
///   `If-None-Match` gets `304 Not Modified` until a new sample exists;
/// - `Link: <...>; rel="next"`: the next page, in every format.
extension RouteContext {
    /// The entity tag of an answer about the sample taken at `takenAt` to this request
    /// (path, query and the negotiated representation).
    func entityTag(takenAt: Double) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        func mix(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
            hash ^= 0xff
            hash = hash &* 0x100_0000_01b3
        }
        mix(request.path)
        for item in request.query { mix(item.name); mix(item.value) }
        mix(request.header("Accept") ?? "")
        return "\"\(String(Clock.milliseconds(takenAt), radix: 36))-\(String(hash, radix: 36))\""
    }

    /// `304 Not Modified` before any sampling when `If-None-Match` names the answer
    /// about the newest periodic sample and the next one is not due yet: a dashboard
    /// polling faster than the interval costs no sample and no rendering.
    func unchangedSinceNewest() -> HTTPResponse? {
        guard configuration.samplingInterval > 0, request.header("If-None-Match") != nil,
              let newest = live.newest, Clock.wallSeconds() - newest.takenAt < configuration.samplingInterval + 0.5
        else { return nil }
        return notModified(takenAt: newest.takenAt)
    }

    /// `304 Not Modified` when the request's `If-None-Match` names this answer's tag.
    func notModified(takenAt: Double) -> HTTPResponse? {
        guard let condition = request.header("If-None-Match") else { return nil }
        let tag = entityTag(takenAt: takenAt)
        let listed = condition.split(separator: ",").map { $0.trimmingCharacters(in: " ").replacingWeakPrefix() }
        guard listed.contains(tag) || listed.contains("*") else { return nil }
        var response = HTTPResponse(status: 304)
        response.setHeader("ETag", tag)
        response.setHeader("Netstatd-Taken-At", Timestamp.rfc3339(takenAt))
        return response
    }

    /// A list or live answer: the body with its content type and the headers above.
    func answer(_ body: [UInt8], contentType: String, takenAt: Double?, next: String? = nil) -> HTTPResponse {
        var response = HTTPResponse(status: 200, contentType: contentType, body: body)
        if let takenAt {
            response.setHeader("Netstatd-Taken-At", Timestamp.rfc3339(takenAt))
            response.setHeader("ETag", entityTag(takenAt: takenAt))
        }
        if let next { response.setHeader("Link", "<\(link(cursor: next))>; rel=\"next\"") }
        return response
    }

    /// This request's path and query with `cursor` set to `next`.
    func link(cursor next: String, parameter: String = "cursor") -> String {
        var items = request.query.filter { $0.name != parameter }
        items.append((parameter, next))
        return request.path + "?" + items.map { Self.percentEncoded($0.name) + "=" + Self.percentEncoded($0.value) }.joined(separator: "&")
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ","), UInt8(ascii: ":"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count < 2 ? "0" + hex : hex)
            }
        }
        return out
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text.removeFirst() }
        while text.last == set { text.removeLast() }
        return String(text)
    }

    /// A weak tag (`W/"..."`) compares equal to the strong one for If-None-Match (RFC 9110 13.1.2).
    fileprivate func replacingWeakPrefix() -> String {
        hasPrefix("W/") ? String(dropFirst(2)) : self
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String { String(self).trimmingCharacters(in: set) }
}
