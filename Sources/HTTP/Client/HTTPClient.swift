// For the socket constants (SOCK_STREAM, ...), which reach this module through
// CHttp's <sys/socket.h> rather than Glibc's module.
internal import CHttp
import Glibc

/// A small blocking HTTP/1.1 client for netstatd's own outbound requests (the event
/// exporter): one POST per TCP connection (`Connection: close`), plain HTTP only,
/// every wait bounded by a deadline and cut short by a `Cancellation`. No TLS, no
/// redirects, no proxies: what a receiver on the local network needs.
public struct HTTPClient: Sendable {
    /// Seconds to resolve the host and establish the TCP connection.
    public var connectTimeout = 5.0
    /// Seconds from connected to the whole answer read (a receiver that accepts and
    /// never answers fails here).
    public var responseTimeout = 30.0
    /// Answer bodies are read up to this many bytes; the rest is not waited for.
    public var maximumBody = 1 << 20

    public init() {}

    /// POSTs `body` to `url` and returns the answer, whatever its status. With `gzip`
    /// the body goes compressed (`Content-Encoding: gzip`). Throws `HTTPClientError`
    /// when no answer came: the host unresolvable, the connection refused or dropped,
    /// a deadline passed, an answer that is not HTTP, or `cancellation` given.
    public func post(
        _ url: HTTPClientURL, body: [UInt8], contentType: String, gzip: Bool = false,
        headers: [(name: String, value: String)] = [], cancellation: Cancellation? = nil
    ) throws(HTTPClientError) -> HTTPClientResponse {
        let peer = url.hostHeader
        let descriptor = try connect(url, deadline: monotonicNow() + connectTimeout, cancellation: cancellation)
        defer { close(descriptor) }
        let connection = Connection(descriptor: descriptor, peer: peer, cancellation: cancellation,
                                    deadline: monotonicNow() + responseTimeout, timeout: responseTimeout)
        var payload = body
        var fields: [(String, String)] = [
            ("Host", url.hostHeader), ("User-Agent", "netstatd"), ("Content-Type", contentType), ("Connection", "close"),
        ]
        if gzip, let compressed = Gzip.compress(body) {
            payload = compressed
            fields.append(("Content-Encoding", "gzip"))
        }
        fields.append(("Content-Length", String(payload.count)))
        if let authorization = url.authorization { fields.append(("Authorization", authorization)) }
        for (name, value) in headers where !(name + value).contains(where: { $0 == "\r" || $0 == "\n" }) {
            fields.append((name, value))
        }
        var head = "POST \(url.target) HTTP/1.1\r\n"
        for (name, value) in fields { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try connection.send(Array(head.utf8) + payload)
        return try connection.receiveResponse(maximumBody: maximumBody)
    }

    /// A connected, non-blocking TCP socket to `url`'s host: each address getaddrinfo
    /// gives is tried in turn until one accepts.
    private func connect(_ url: HTTPClientURL, deadline: Double, cancellation: Cancellation?) throws(HTTPClientError) -> Int32 {
        let peer = url.hostHeader
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(url.host, String(url.port), &hints, &list)
        guard code == 0, let list else {
            throw HTTPClientError(operation: "resolve \(url.host)", detail: String(cString: gai_strerror(code)))
        }
        defer { freeaddrinfo(list) }
        var failure = HTTPClientError(operation: "connect to \(peer)", detail: "no address")
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let info = entry?.pointee {
            entry = info.ai_next
            let descriptor = socket(info.ai_family, info.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), info.ai_protocol)
            guard descriptor >= 0 else {
                failure = HTTPClientError(operation: "socket for \(peer)", errno: errno)
                continue
            }
            do throws(HTTPClientError) {
                // A non-blocking connect answers EINPROGRESS; writable means done.
                if Glibc.connect(descriptor, info.ai_addr, info.ai_addrlen) != 0 {
                    guard errno == EINPROGRESS || errno == EINTR else { throw HTTPClientError(operation: "connect to \(peer)", errno: errno) }
                    let connection = Connection(descriptor: descriptor, peer: peer, cancellation: cancellation, deadline: deadline,
                                                timeout: connectTimeout)
                    try connection.wait(for: Int16(POLLOUT), doing: "connect to")
                    var result: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &result, &length)
                    if result != 0 { throw HTTPClientError(operation: "connect to \(peer)", errno: result) }
                }
                return descriptor
            } catch {
                close(descriptor)
                if error.cancelled { throw error }
                failure = error
            }
        }
        throw failure
    }
}

/// One exchange on a connected socket, with its deadline.
private struct Connection {
    let descriptor: Int32
    let peer: String
    let cancellation: Cancellation?
    let deadline: Double
    let timeout: Double

    /// Waits until the socket is ready for `events`, the deadline passes (throws) or
    /// the cancellation is given (throws).
    func wait(for events: Int16, doing operation: String) throws(HTTPClientError) {
        while true {
            let left = deadline - monotonicNow()
            guard left > 0 else {
                throw HTTPClientError(operation: "\(operation) \(peer)", detail: "no progress within \(Self.seconds(timeout)) s")
            }
            var entries = [pollfd(fd: descriptor, events: events, revents: 0)]
            if let cancellation { entries.append(pollfd(fd: cancellation.descriptor, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&entries, nfds_t(entries.count), Int32(min(left * 1000, 60_000).rounded(.up)))
            if ready < 0 && errno != EINTR { throw HTTPClientError(operation: "poll for \(peer)", errno: errno) }
            if entries.count > 1 && entries[1].revents != 0 {
                throw HTTPClientError(operation: "\(operation) \(peer)", detail: "cancelled", cancelled: true)
            }
            // Errors and hang-ups are ready too: the call that follows says which.
            if ready > 0 && entries[0].revents != 0 { return }
        }
    }

    func send(_ bytes: [UInt8]) throws(HTTPClientError) {
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a receiver that hangs up must not raise SIGPIPE.
            let count = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if count >= 0 {
                sent += count
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                try wait(for: Int16(POLLOUT), doing: "send to")
            } else if errno != EINTR {
                throw HTTPClientError(operation: "send to \(peer)", errno: errno)
            }
        }
    }

    /// Reads until the answer is complete (by Content-Length, chunked encoding or the
    /// connection's end) and parses it.
    func receiveResponse(maximumBody: Int) throws(HTTPClientError) -> HTTPClientResponse {
        var raw: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                raw.append(contentsOf: buffer[..<count])
                switch HTTPClientResponse.parse(raw, maximumBody: maximumBody, atEnd: false) {
                case .complete(let response): return response
                case .malformed(let problem): throw HTTPClientError(operation: "read the answer of \(peer)", detail: problem)
                case .incomplete: continue
                }
            } else if count == 0 {
                switch HTTPClientResponse.parse(raw, maximumBody: maximumBody, atEnd: true) {
                case .complete(let response): return response
                case .malformed(let problem): throw HTTPClientError(operation: "read the answer of \(peer)", detail: problem)
                case .incomplete:
                    throw HTTPClientError(operation: "read the answer of \(peer)",
                                          detail: raw.isEmpty ? "the connection was closed without an answer" : "the connection was closed mid-answer")
                }
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                try wait(for: Int16(POLLIN), doing: "wait for the answer of")
            } else if errno != EINTR {
                throw HTTPClientError(operation: "receive from \(peer)", errno: errno)
            }
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// An answer: its status, headers and (the first `maximumBody` bytes of) its body.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body as one line of text for a log or a status field: at most `limit`
    /// characters, line breaks and control characters as spaces.
    public func bodyText(limit: Int = 300) -> String {
        let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
        let flat = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : Character($0) })
        let trimmed = flat.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        return trimmed.count > limit ? String(trimmed.prefix(limit)) + "…" : trimmed
    }

    enum Parse {
        case complete(HTTPClientResponse)
        case incomplete
        case malformed(String)
    }

    /// Parses what has been read so far (RFC 9112): the status line, headers, and a
    /// body by Content-Length, chunked transfer coding, or (at the end) all the rest.
    /// Interim 1xx answers are skipped.
    static func parse(_ raw: [UInt8], maximumBody: Int, atEnd: Bool) -> Parse {
        var start = 0
        while true {
            guard let headEnd = find([13, 10, 13, 10], in: raw, from: start) else {
                return raw.count - start > 64 * 1024 ? .malformed("an answer's headers longer than 64 KB") : .incomplete
            }
            let lines = String(decoding: raw[start..<headEnd], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
            let statusParts = lines[0].split(separator: " ", maxSplits: 2)
            guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]), (100...999).contains(status) else {
                return .malformed("not an HTTP/1.x answer: \(String(lines[0].prefix(80)).debugDescription)")
            }
            var headers: [(name: String, value: String)] = []
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(" \t")))
            }
            let bodyStart = headEnd + 4
            if status < 200 && status != 101 {
                start = bodyStart
                continue
            }
            var response = HTTPClientResponse(status: status, headers: headers, body: [])
            if response.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
                switch dechunk(raw, from: bodyStart, maximumBody: maximumBody) {
                case .some(let body): response.body = body
                case .none: return atEnd ? .malformed("the chunked body was cut short") : .incomplete
                }
                return .complete(response)
            }
            if let lengthText = response.header("Content-Length") {
                guard let length = Int(lengthText), length >= 0 else { return .malformed("Content-Length \(lengthText.debugDescription)") }
                let wanted = min(length, maximumBody)
                guard raw.count - bodyStart >= wanted else { return atEnd ? .malformed("the body was cut short") : .incomplete }
                response.body = Array(raw[bodyStart..<bodyStart + wanted])
                return .complete(response)
            }
            // No length: the body runs to the end of the connection (or the cap).
            if atEnd || raw.count - bodyStart >= maximumBody {
                response.body = Array(raw[bodyStart..<min(raw.count, bodyStart + maximumBody)])
                return .complete(response)
            }
            return .incomplete
        }
    }

    /// The decoded chunked body starting at `from`, or nil when it is not all there
    /// yet. Stops at `maximumBody` bytes: the rest is not needed.
    private static func dechunk(_ raw: [UInt8], from: Int, maximumBody: Int) -> [UInt8]? {
        var body: [UInt8] = []
        var index = from
        while true {
            guard let lineEnd = find([13, 10], in: raw, from: index) else { return nil }
            let sizeText = String(decoding: raw[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(" \t"), radix: 16), size >= 0 else { return body }
            if size == 0 { return body }
            let dataStart = lineEnd + 2
            // Not all there yet; past the cap, what is there is enough.
            guard raw.count >= dataStart + size + 2 else { return raw.count - from > maximumBody ? body : nil }
            body.append(contentsOf: raw[dataStart..<dataStart + size])
            if body.count >= maximumBody { return Array(body.prefix(maximumBody)) }
            index = dataStart + size + 2
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        var index = from
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && Array(haystack[index..<index + needle.count]) == needle { return index }
            index += 1
        }
        return nil
    }
}

/// A request that got no answer: what was being done, and the errno or reason.
public struct HTTPClientError: Error, CustomStringConvertible, Sendable {
    /// What was being done (`connect to clickhouse:8123`).
    public var operation: String
    /// The errno of the failing call, when one failed.
    public var errno: Int32?
    /// Otherwise, what happened.
    public var detail: String?
    /// True when the request was given up because its `Cancellation` was given.
    public var cancelled = false

    public init(operation: String, errno: Int32? = nil, detail: String? = nil, cancelled: Bool = false) {
        self.operation = operation
        self.errno = errno
        self.detail = detail
        self.cancelled = cancelled
    }

    public var description: String {
        if let errno { return "\(operation): \(errorText(errno)) (errno \(errno))" }
        return "\(operation): \(detail ?? "failed")"
    }
}

extension Substring {
    /// Without leading and trailing `characters`.
    fileprivate func trimmingCharacters(_ characters: String) -> String {
        guard let start = firstIndex(where: { !characters.contains($0) }), let end = lastIndex(where: { !characters.contains($0) }) else { return "" }
        return String(self[start...end])
    }
}
