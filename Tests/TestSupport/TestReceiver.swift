import Foundation
import Glibc

/// An HTTP receiver on a loopback port, written for the exporter's tests: it answers
/// each request with the next behaviour of its script (then with `otherwise`), the
/// way a ClickHouse server or an NDJSON sink fails in life. Only the requests it
/// answered 2xx count as received.
public final class TestReceiver: @unchecked Sendable {
    // @unchecked: every mutable field is touched only while holding `lock`; the
    // listening socket is used by the receiver thread alone until `stop`.

    /// How one request is answered.
    public enum Behaviour: Sendable {
        /// 200, in chunked encoding with an X-ClickHouse-Summary header (as ClickHouse answers an INSERT).
        case accept
        /// This status, with a ClickHouse-style exception text; nothing is kept.
        case fail(Int)
        /// Waits, then accepts (slower than usual, within the client's timeout).
        case delay(Double)
        /// Reads the request and closes the connection without an answer.
        case drop
        /// Reads the request and says nothing for this long (past the client's timeout), then closes.
        case stall(Double)
    }

    /// One request as it arrived.
    public struct Request: Sendable {
        public var target: String
        /// Header names in lower case.
        public var headers: [String: String]
        public var body: [UInt8]
    }

    /// The port it listens on.
    public let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var script: [Behaviour]
    private let otherwise: Behaviour
    private var accepted: [Request] = []
    private var answered: [String] = []
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    /// Listens on 127.0.0.1:`port` (0: any free port) and starts answering.
    public init(port: UInt16 = 0, script: [Behaviour], otherwise: Behaviour = .accept) throws {
        self.script = script
        self.otherwise = otherwise
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        address.sin_port = port.bigEndian
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else {
            close(fd)
            throw CommandError(message: "test receiver: bind/listen on port \(port): errno \(errno)")
        }
        var length = size
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listener = fd
        self.port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in
            serve()
            finished.signal()
        }
    }

    /// The base URL of this receiver.
    public var base: String { "http://127.0.0.1:\(port)" }

    /// The requests answered 2xx, in order.
    public var received: [Request] { lock.withLock { accepted } }

    /// What each request got, in order (`accept`, `fail 500`, `drop`, ...).
    public var log: [String] { lock.withLock { answered } }

    /// Stops listening (a connection attempt is then refused) and waits for the thread.
    public func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        finished.wait()
        close(listener)
    }

    deinit { stop() }

    private func serve() {
        while !lock.withLock({ stopping }) {
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 50) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        guard let request = Self.read(connection) else {
            lock.withLock { answered.append("unreadable") }
            return
        }
        let behaviour = lock.withLock { script.isEmpty ? otherwise : script.removeFirst() }
        switch behaviour {
        case .accept:
            keep(request, as: "accept")
            Self.write(connection, "HTTP/1.1 200 OK\r\nX-ClickHouse-Summary: {\"written_rows\":\"\(request.body.count)\"}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n")
        case .fail(let status):
            lock.withLock { answered.append("fail \(status)") }
            let text = "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED) (version 24.8.4.13)\n"
            Self.write(connection, "HTTP/1.1 \(status) Error\r\nContent-Type: text/plain\r\nContent-Length: \(text.utf8.count)\r\nConnection: close\r\n\r\n\(text)")
        case .delay(let seconds):
            Thread.sleep(forTimeInterval: seconds)
            keep(request, as: "delay")
            Self.write(connection, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        case .drop:
            lock.withLock { answered.append("drop") }
        case .stall(let seconds):
            lock.withLock { answered.append("stall") }
            Thread.sleep(forTimeInterval: seconds)
        }
    }

    private func keep(_ request: Request, as name: String) {
        lock.withLock {
            accepted.append(request)
            answered.append(name)
        }
    }

    /// Reads one request: the head, then Content-Length bytes of body.
    private static func read(_ connection: Int32) -> Request? {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var raw: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        var contentLength = 0
        while true {
            if headEnd == nil, let end = raw.indices.dropLast(3).first(where: { Array(raw[$0..<$0 + 4]) == separator }) {
                headEnd = end
                let head = String(decoding: raw[..<end], as: UTF8.self)
                for line in head.components(separatedBy: "\r\n").dropFirst() where line.lowercased().hasPrefix("content-length:") {
                    contentLength = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let end = headEnd, raw.count >= end + 4 + contentLength { break }
            let count = recv(connection, &buffer, buffer.count, 0)
            guard count > 0 else { return nil }
            raw += buffer[..<count]
        }
        let end = headEnd!
        let lines = String(decoding: raw[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let parts = lines[0].split(separator: " ")
        guard parts.count == 3, parts[0] == "POST" else { return nil }
        return Request(target: String(parts[1]), headers: headers, body: Array(raw[(end + 4)..<(end + 4 + contentLength)]))
    }

    private static func write(_ connection: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { send(connection, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return }
            sent += count
        }
    }
}

extension TestReceiver.Request {
    /// The body's JSON lines, gunzipped with the system's gzip when it came compressed
    /// (an independent check that the body is real gzip).
    public func lines() throws -> [String] {
        var bytes = body
        if headers["content-encoding"] == "gzip" {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("netstatd-body-\(UUID().uuidString).gz")
            defer { try? FileManager.default.removeItem(at: file) }
            try Data(body).write(to: file)
            let result = try run(["gzip", "-dc", file.path])
            guard result.status == 0 else { throw CommandError(message: "gzip -dc: \(result.stderr)") }
            bytes = Array(result.stdout)
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
