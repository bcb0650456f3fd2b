import Foundation
import Glibc
@testable import HTTP
import TestSupport
import Testing

/// HTTPServer itself, with a trivial handler, through raw loopback sockets: keep-alive,
/// the header deadline, slow clients at the connection limits, conditional GET and gzip.
@Suite(.serialized)
struct HTTPServerTests {
    /// A body larger than Gzip.minimumSize.
    static let bigBody = [UInt8](repeating: UInt8(ascii: "a"), count: 4000)

    /// Answers `/etag` with a tagged cacheable body, `/big` with `bigBody`, anything else
    /// with `METHOD PATH BODY-LENGTH`.
    static func handler(_ request: HTTPRequest) -> HTTPResponse {
        switch request.path {
        case "/etag":
            HTTPResponse(status: 200, headers: [("Content-Type", "text/plain"), ("ETag", "\"v1\""), ("Cache-Control", "max-age=5")], body: bigBody)
        case "/big":
            HTTPResponse(status: 200, contentType: "text/plain", body: bigBody)
        default:
            HTTPResponse.text("\(request.method) \(request.path) \(request.body.count)")
        }
    }

    static func configuration(_ change: (inout HTTPServerConfiguration) -> Void = { _ in }) -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.threads = 2
        change(&configuration)
        return configuration
    }

    static func started(_ configuration: HTTPServerConfiguration = configuration()) throws -> HTTPServer {
        let server = HTTPServer(configuration: configuration, handler: handler)
        try server.start()
        return server
    }

    @Test("HTTP/1.1 requests share one connection, which stays open after the last")
    func keepAlive() throws {
        let server = try Self.started()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        defer { client.close() }
        for path in ["/one", "/two", "/three"] {
            try client.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.text == "GET \(path) 0")
            #expect(response.headers["connection"]?.lowercased() != "close", "\(path): \(response.headers)")
        }
        #expect(client.staysOpen(forSeconds: 0.3), "the connection is still open after the last response")
        try client.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello")
        let posted = try client.readResponse()
        #expect(posted.status == 200 && posted.text == "POST /upload 5")
        #expect(posted.headers["connection"]?.lowercased() != "close")
        try client.send("GET /after-post HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try client.readResponse().text == "GET /after-post 0", "the connection still serves after a body")
        #expect(server.statistics().accepted == 1)
    }

    @Test("an HTTP/1.0 client asking for keep-alive keeps its connection")
    func keepAliveHTTP10() throws {
        let server = try Self.started()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        defer { client.close() }
        for path in ["/first", "/second"] {
            try client.send("GET \(path) HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.text == "GET \(path) 0")
            #expect(response.headers["connection"]?.lowercased() == "keep-alive", "\(response.headers)")
        }
        #expect(client.staysOpen(forSeconds: 0.3))
        // Without the header HTTP/1.0 closes, as it should.
        try client.send("GET /last HTTP/1.0\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        #expect(client.closes(withinSeconds: 2))
    }

    @Test("a client trickling its headers is closed at the header deadline while others are answered")
    func headerDeadline() throws {
        let server = try Self.started(Self.configuration { $0.headerDeadlineSeconds = 2 })
        defer { server.stop() }
        let slow = try RawClient(port: server.port)
        defer { slow.close() }
        let began = Date()
        try slow.send("GET /slow HT")
        let trickle = Array("TP/1.1\r\nX-Slow: " + String(repeating: "a", count: 100))
        var closedAfter: Double?
        var answeredMeanwhile = false
        var idle: RawClient?
        defer { idle?.close() }
        for byte in trickle {
            // Bounded: 100 bytes at 200 ms are 20 s at most; the deadline is 2 s.
            if Date().timeIntervalSince(began) > 6 { break }
            if !slow.staysOpen(forSeconds: 0.2) || !slow.trySend(String(byte)) {
                closedAfter = Date().timeIntervalSince(began)
                break
            }
            if !answeredMeanwhile, Date().timeIntervalSince(began) > 0.5 {
                let other = try RawClient(port: server.port)
                try other.send("GET /other HTTP/1.1\r\nHost: localhost\r\n\r\n")
                answeredMeanwhile = try other.readResponse(withinSeconds: 1).status == 200
                idle = other
            }
        }
        let closed = try #require(closedAfter, "the trickling client was still open after 6 s")
        #expect(closed >= 1.8 && closed < 4.5, "closed after \(closed) s, the deadline being 2 s")
        #expect(answeredMeanwhile, "another client was answered while the slow one trickled")
        #expect(server.statistics().expired >= 1)
        // The deadline runs again from the end of a response: an idle keep-alive
        // connection is closed about 2 s after its answer.
        #expect(idle?.closes(withinSeconds: 3) == true)
    }

    @Test(
        "1,000 slow connections do not keep a normal client from its answer",
        arguments: [["127.0.0.1"], (2...9).map { "127.0.0.\($0)" }])
    func slowClientsAtTheLimits(sources: [String]) throws {
        try raiseFileLimit(to: 8192)
        // Two thousand sockets in the test's own namespace would slow, and show up in,
        // the other suites that sample every socket of the host at the same time.
        let network = try PrivateNetwork(tag: "slow")
        let server = HTTPServer(configuration: Self.configuration {
            $0.connectionLimit = 256
            $0.perClientLimit = 64
        }, handler: Self.handler)
        try network.perform { try server.start() }
        defer { server.stop() }
        let residentBefore = residentKilobytes()
        var slow: [RawClient] = []
        defer { slow.forEach { $0.close() } }
        slow = try network.perform {
            var opened: [RawClient] = []
            let began = Date()
            for index in 0..<1000 {
                guard Date().timeIntervalSince(began) < 8 else { break }
                let client = try RawClient(port: server.port, from: sources[index % sources.count])
                opened.append(client)
                _ = client.trySend("GET /slow HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            }
            return opened
        }
        #expect(slow.count == 1000, "opened \(slow.count) slow connections in 8 s")
        // Every slow client sends a byte more, as a slowloris does each second.
        for client in slow { _ = client.trySend("a") }

        for source in Set([sources[0], "127.0.0.1"]) {
            let asked = Date()
            let normal = try network.perform { try RawClient(port: server.port, from: source) }
            defer { normal.close() }
            try normal.send("GET /normal HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let response = try normal.readResponse(withinSeconds: 1)
            #expect(response.status == 200 && response.text == "GET /normal 0", "from \(source)")
            #expect(Date().timeIntervalSince(asked) < 1, "from \(source): answered in \(Date().timeIntervalSince(asked)) s")
        }
        let statistics = server.statistics()
        #expect(statistics.evicted >= 1000 - 256, "\(statistics)")
        #expect(statistics.open <= 2 * 256, "\(statistics)")
        let grown = residentKilobytes() - residentBefore
        #expect(grown < 100_000, "resident memory grew by \(grown) kB")
    }

    @Test(
        "If-None-Match naming the ETag gives 304 without a body",
        arguments: [
            ("\"v1\"", nil, 304), ("W/\"v1\"", nil, 304), ("\"v0\", \"v1\"", nil, 304), ("*", nil, 304),
            ("\"v2\"", nil, 200), (nil, nil, 200), ("W/\"v1\"", "gzip", 304), ("\"v2\"", "gzip", 200),
        ] as [(String?, String?, Int)])
    func conditionalGet(ifNoneMatch: String?, acceptEncoding: String?, status: Int) throws {
        let server = try Self.started()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        defer { client.close() }
        var request = "GET /etag HTTP/1.1\r\nHost: localhost\r\n"
        if let ifNoneMatch { request += "If-None-Match: \(ifNoneMatch)\r\n" }
        if let acceptEncoding { request += "Accept-Encoding: \(acceptEncoding)\r\n" }
        try client.send(request + "\r\n")
        let response = try client.readResponse()
        #expect(response.status == status)
        #expect(response.headers["cache-control"] == "max-age=5")
        if status == 304 {
            #expect(response.body.isEmpty && response.headers["content-type"] == nil)
            #expect(response.headers["etag"] == "\"v1\"")
        } else {
            #expect(response.headers["content-encoding"] == acceptEncoding)
            if acceptEncoding == nil { #expect(response.body == Self.bigBody) }
        }
        // The connection stays usable after a 304 (it carried no body to skip).
        try client.send("GET /next HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try client.readResponse().text == "GET /next 0")
    }

    @Test(
        "gzip only when Accept-Encoding allows it with a q-value above 0",
        arguments: [
            ("gzip", true), ("gzip;q=0", false), ("gzip;q=0.0", false), ("gzip; q=0.000", false),
            ("*;q=0", false), ("identity", false), ("*", true), ("gzip;q=0.5", true),
            ("*;q=1, gzip;q=0", false), ("br, gzip;q=0.8", true), ("deflate", false), ("gzip;q=x", false),
        ])
    func gzipQValues(header: String, gzip: Bool) throws {
        #expect(Gzip.accepted(by: header) == gzip)
        let server = try Self.started()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        defer { client.close() }
        try client.send("GET /big HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: \(header)\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect((response.headers["content-encoding"] == "gzip") == gzip, "\(header): \(response.headers)")
    }

    @Test("IPv6: the server listens on ::1 and answers",
          .enabled(if: RawClient.canBindIPv6Loopback(), "needs ::1, which this machine lacks"))
    func ipv6() throws {
        let server = try Self.started(Self.configuration { $0.host = "::1" })
        defer { server.stop() }
        #expect(server.port != 0)
        let client = try RawClient(port: server.port, host: "::1")
        defer { client.close() }
        try client.send("GET /six HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try client.readResponse().text == "GET /six 0")
    }

    @Test("stop() closes the listener and open connections and returns promptly")
    func stopIsPrompt() throws {
        let server = try Self.started()
        let port = server.port
        let idle = try RawClient(port: port)
        defer { idle.close() }
        try idle.send("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n")
        _ = try idle.readResponse()
        let slow = try RawClient(port: port)
        defer { slow.close() }
        try slow.send("GET /half")
        let began = Date()
        server.stop()
        #expect(Date().timeIntervalSince(began) < 1, "stop() took \(Date().timeIntervalSince(began)) s")
        #expect(idle.closes(withinSeconds: 1) && slow.closes(withinSeconds: 1))
        #expect(throws: (any Error).self, "nothing listens on \(port) any more") { try RawClient(port: port) }
        #expect(server.statistics().open == 0)
        // And it can start again, on a fresh port.
        try server.start()
        defer { server.stop() }
        let again = try RawClient(port: server.port)
        defer { again.close() }
        try again.send("GET /again HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try again.readResponse().status == 200)
    }
}

/// What a raw client failed at.
struct RawClientError: Error, CustomStringConvertible {
    var description: String
}

/// One HTTP response as read off the socket.
struct RawResponse {
    var status: Int
    /// Header names lowercased.
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A TCP connection to the server under test, written and read byte by byte, so a
/// test controls exactly what is sent and when.
final class RawClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var isClosed = false

    /// Connects to `host`:`port`, from source address `source` if given (any 127/8
    /// address works on loopback).
    init(port: UInt16, host: String = "127.0.0.1", from source: String? = nil) throws {
        let family = host.contains(":") ? AF_INET6 : AF_INET
        fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawClientError(description: "socket: errno \(errno)") }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = Self.address(source, port: 0)
            let bound = withUnsafeBytes(of: &local.storage) { bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), local.length) }
            guard bound == 0 else {
                let code = errno
                Glibc.close(fd)
                throw RawClientError(description: "bind \(source): errno \(code)")
            }
        }
        var remote = Self.address(host, port: port)
        let connected = withUnsafeBytes(of: &remote.storage) { connect(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), remote.length) }
        guard connected == 0 else {
            let code = errno
            Glibc.close(fd)
            throw RawClientError(description: "connect \(host):\(port): errno \(code)")
        }
    }

    deinit { close() }

    static func address(_ host: String, port: UInt16) -> (storage: sockaddr_storage, length: socklen_t) {
        var storage = sockaddr_storage()
        if host.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            inet_pton(AF_INET6, host, &address.sin6_addr)
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in6.self) }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in.self) }
        return (storage, socklen_t(MemoryLayout<sockaddr_in>.size))
    }

    /// Whether ::1 exists here (it may not in a container without IPv6).
    static func canBindIPv6Loopback() -> Bool {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        var local = address("::1", port: 0)
        return withUnsafeBytes(of: &local.storage) { bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), local.length) } == 0
    }

    /// Sends all of `text`; throws if the connection refuses it.
    func send(_ text: String) throws {
        guard trySend(text) else { throw RawClientError(description: "send failed: errno \(errno)") }
    }

    /// Sends all of `text`; false if the connection is gone.
    func trySend(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let result = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return false }
            sent += result
        }
        return true
    }

    /// Reads one response (status, headers, and a Content-Length body).
    func readResponse(withinSeconds seconds: Double = 5) throws -> RawResponse {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let response = try takeResponse() { return response }
            switch fill(until: deadline) {
            case .data: continue
            case .closed: throw RawClientError(description: "closed before a whole response; have \(String(decoding: buffer, as: UTF8.self))")
            case .timeout: throw RawClientError(description: "no whole response within \(seconds) s; have \(String(decoding: buffer, as: UTF8.self))")
            }
        }
    }

    /// True if the server has not closed the connection `seconds` from now.
    func staysOpen(forSeconds seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            switch fill(until: deadline) {
            case .data: continue
            case .closed: return false
            case .timeout: return true
            }
        }
    }

    /// True if the server closes the connection within `seconds`.
    func closes(withinSeconds seconds: Double) -> Bool {
        !staysOpen(forSeconds: seconds)
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
    }

    private enum Fill { case data, closed, timeout }

    private func fill(until deadline: Date) -> Fill {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return .timeout }
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, Int32(min(remaining * 1000 + 1, 60_000)))
            if polled < 0 && errno == EINTR { continue }
            if polled == 0 { return .timeout }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return .closed }
            buffer.append(contentsOf: chunk[..<count])
            return .data
        }
    }

    private func takeResponse() throws -> RawResponse? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let headEnd = buffer.indices.dropLast(3).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) else { return nil }
        let lines = String(decoding: buffer[..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        guard let status = lines.first.flatMap({ Int($0.split(separator: " ").dropFirst().first ?? "") }) else {
            throw RawClientError(description: "not a status line: \(lines.first ?? "")")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = status == 304 || status == 204 ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        let end = headEnd + 4 + length
        guard buffer.count >= end else { return nil }
        let body = Array(buffer[(headEnd + 4)..<end])
        buffer.removeFirst(end)
        return RawResponse(status: status, headers: headers, body: body)
    }
}

/// Where a test makes its sockets: a private network namespace when the tests run as
/// root (as in CI), else this process's own. A socket belongs to the namespace of the
/// thread that made it, wherever it is used afterwards, so `perform` runs its body on a
/// new thread that enters the namespace and ends with the body; no pooled thread is
/// ever left in it.
final class PrivateNetwork {
    private let namespace: NetworkNamespace?
    private let fd: Int32

    init(tag: String) throws {
        guard TestEnvironment.canUseNamespaces, Self.setns != nil else {
            namespace = nil
            fd = -1
            return
        }
        let namespace = try NetworkNamespace(tag: tag)
        fd = open("/run/netns/\(namespace.name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RawClientError(description: "open /run/netns/\(namespace.name): errno \(errno)") }
        self.namespace = namespace
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Runs `body` inside the namespace and returns what it returns.
    func perform<T>(_ body: @escaping () throws -> T) throws -> T {
        guard namespace != nil, let setns = Self.setns else { return try body() }
        let work = Work(fd: fd, setns: setns, body: body)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(work).toOpaque()
        let created = pthread_create(&thread, nil, { raw in
            (Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as? any Runnable)?.run()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<Work<T>>.fromOpaque(context).release()
            throw RawClientError(description: "pthread_create: \(created)")
        }
        pthread_join(thread, nil)
        return try work.result!.get()
    }

    /// setns(2), which Glibc's Swift module does not declare.
    private static let setns: (@convention(c) (Int32, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "setns") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    }()

    /// One body to run on a thread of its own inside the namespace.
    private final class Work<T>: Runnable {
        let fd: Int32
        let setns: @convention(c) (Int32, Int32) -> Int32
        let body: () throws -> T
        var result: Result<T, any Error>?

        init(fd: Int32, setns: @escaping @convention(c) (Int32, Int32) -> Int32, body: @escaping () throws -> T) {
            self.fd = fd
            self.setns = setns
            self.body = body
        }

        func run() {
            // linux/sched.h: #define CLONE_NEWNET 0x40000000
            guard setns(fd, 0x4000_0000) == 0 else {
                result = .failure(RawClientError(description: "setns(CLONE_NEWNET): errno \(errno)"))
                return
            }
            result = Result { try body() }
        }
    }
}

/// What a thread started by `PrivateNetwork.perform` runs (the C entry point cannot
/// name the generic `Work<T>`).
private protocol Runnable: AnyObject {
    func run()
}

/// Raises this process's soft limit on open files to `wanted` (or the hard limit).
func raiseFileLimit(to wanted: rlim_t) throws {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    guard limit.rlim_cur < wanted else { return }
    limit.rlim_cur = min(wanted, limit.rlim_max)
    guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
        throw RawClientError(description: "setrlimit(RLIMIT_NOFILE, \(wanted)): errno \(errno)")
    }
}

/// This process's resident memory in kB (VmRSS in /proc/self/status).
func residentKilobytes() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}
