/// An `http://` URL a client sends to: where to connect, the request target, and the
/// credentials it carries (`http://user:password@host:port/path?query`, RFC 3986 §3).
/// Only plain HTTP: an `https://` URL is refused with the way out (a TLS proxy on
/// this host), since netstatd links no TLS client.
public struct HTTPClientURL: Sendable, Equatable {
    /// The host to connect to: a name, or an IPv4 or IPv6 literal (without brackets).
    public let host: String
    /// The TCP port (80 when the URL names none).
    public let port: UInt16
    /// The request target: path and query (`/` at least), as written.
    public let target: String
    /// The user and password of the URL's userinfo, percent-decoded.
    public let user: String?
    public let password: String?
    /// The URL as given.
    public let text: String

    /// Parses `text`; throws naming what is wrong and what would be right.
    public init(_ text: String) throws(HTTPClientURLError) {
        self.text = text
        let lower = text.lowercased()
        if lower.hasPrefix("https://") {
            throw HTTPClientURLError(text, "https is not supported: netstatd sends plain HTTP only. Run a TLS proxy on this host (stunnel, haproxy, nginx) and give its http://127.0.0.1:PORT/ address, or reach the receiver over a private network")
        }
        guard lower.hasPrefix("http://") else {
            throw HTTPClientURLError(text, "expected an http:// URL, e.g. http://clickhouse:8123/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow")
        }
        var rest = Substring(text.dropFirst("http://".count))
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        target = path.isEmpty ? "/" : path.hasPrefix("?") ? "/" + path : String(path)
        guard target.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\u{7f}" && ($0.asciiValue ?? 0) >= 0x20 }) else {
            throw HTTPClientURLError(text, "the path and query must be percent-encoded ASCII without spaces (write %20 for a space)")
        }
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                user = Self.percentDecoded(userinfo[..<colon])
                password = Self.percentDecoded(userinfo[userinfo.index(after: colon)...])
            } else {
                user = Self.percentDecoded(userinfo)
                password = nil
            }
        } else {
            user = nil
            password = nil
        }
        var portText: Substring = ""
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw HTTPClientURLError(text, "an IPv6 host needs its closing bracket: http://[::1]:8123/") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw HTTPClientURLError(text, "expected :PORT after the IPv6 host's bracket") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
            if host.contains(":") { throw HTTPClientURLError(text, "put an IPv6 host in brackets: http://[::1]:8123/") }
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw HTTPClientURLError(text, "the URL names no host") }
        if portText.isEmpty {
            port = 80
        } else {
            guard let number = UInt16(portText), number > 0 else { throw HTTPClientURLError(text, "the port must be a number from 1 to 65535") }
            port = number
        }
    }

    /// The URL with its secrets replaced by `***`: the userinfo's password and a
    /// `password=` query parameter (ClickHouse's HTTP interface takes either). Safe
    /// to log, serve in /api/v1/status and use as a metric label.
    public var redacted: String {
        var out = "http://"
        if let user {
            out += Self.percentEncoded(user)
            if password != nil { out += ":***" }
            out += "@"
        }
        out += host.contains(":") ? "[\(host)]" : host
        if port != 80 { out += ":\(port)" }
        guard let question = target.firstIndex(of: "?") else { return out + target }
        out += target[...question]
        let parameters = target[target.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { parameter -> String in
            let name = parameter.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            return name.lowercased() == "password" ? "\(name)=***" : String(parameter)
        }
        return out + parameters.joined(separator: "&")
    }

    /// `text` with its password hidden: redacted when it parses, else with its
    /// whole userinfo replaced by `***` (for messages about a URL that is refused).
    public static func redacting(_ text: String) -> String {
        (try? HTTPClientURL(text))?.redacted ?? HTTPClientURLError.hidingUserinfo(text)
    }

    /// The `Host` header's value.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? name : "\(name):\(port)"
    }

    /// `Basic` credentials (RFC 7617) when the URL carries a user.
    var authorization: String? {
        guard let user else { return nil }
        return "Basic " + Base64.encode(Array("\(user):\(password ?? "")".utf8))
    }

    private static func percentDecoded(_ text: Substring) -> String {
        let utf8 = Array(text.utf8)
        var bytes: [UInt8] = []
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count,
               let value = UInt8(String(decoding: utf8[index + 1...index + 2], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if byte < 0x80 && (Character(scalar).isLetter || Character(scalar).isNumber || "-._~".unicodeScalars.contains(scalar)) {
                out.unicodeScalars.append(scalar)
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

/// A URL the client cannot use: the URL (its password hidden) and why.
public struct HTTPClientURLError: Error, CustomStringConvertible, Sendable {
    /// The URL as given, with any password replaced by `***`.
    public let url: String
    /// What is wrong, and what would be right.
    public let problem: String

    init(_ url: String, _ problem: String) {
        self.url = Self.hidingUserinfo(url)
        self.problem = problem
    }

    public var description: String { "\(url): \(problem)" }

    /// `scheme://user:secret@host/...` -> `scheme://***@host/...`: the URL did not
    /// parse, so where its password ends is not known for sure.
    static func hidingUserinfo(_ url: String) -> String {
        let characters = Array(url)
        guard let colon = characters.indices.dropLast(2).first(where: { String(characters[$0..<$0 + 3]) == "://" }) else { return url }
        let authorityStart = colon + 3
        let authorityEnd = characters[authorityStart...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? characters.endIndex
        guard let at = characters[authorityStart..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(characters[..<authorityStart]) + "***" + String(characters[at...])
    }
}

/// Base64 (RFC 4648 §4) for the Authorization header.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0..<4 {
                out.append(position <= chunk.count ? alphabet[Int(value >> (18 - 6 * UInt32(position)) & 0x3f)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
