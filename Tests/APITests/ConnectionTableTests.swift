@testable import HTTP
import Testing

/// The connection table's policy, in-process with made-up sockets and instants.
struct ConnectionTableTests {
    let start = ContinuousClock.now

    func table(total: Int = 4, perClient: Int = 2, deadline: Duration = .seconds(10)) -> ConnectionTable {
        ConnectionTable(limits: .init(total: total, perClient: perClient, headerDeadline: deadline))
    }

    func at(_ seconds: Int) -> ContinuousClock.Instant { start + .seconds(seconds) }

    @Test func theClientAtItsLimitLosesItsLongestWaitingConnection() {
        var table = table()
        #expect(table.admit(10, client: "a", identity: 1, at: at(0)) == .admitted(evicting: []))
        #expect(table.admit(11, client: "a", identity: 2, at: at(1)) == .admitted(evicting: []))
        #expect(table.admit(12, client: "b", identity: 3, at: at(2)) == .admitted(evicting: []))
        #expect(table.admit(13, client: "a", identity: 4, at: at(3)) == .admitted(evicting: [10]))
        #expect(table.entries[10]?.phase == .closing)
        #expect(table.openCount == 3)
    }

    @Test func atTheTotalLimitTheLongestWaitingOfAnyClientGoes() {
        var table = table(total: 3, perClient: 0)
        for fd in Int32(10)...12 { _ = table.admit(fd, client: "c\(fd)", identity: 1, at: at(Int(fd))) }
        table.headersComplete(10)
        table.answering(10)
        // 10 is being answered, so 11 has waited longest among the others.
        #expect(table.admit(13, client: "new", identity: 1, at: at(20)) == .admitted(evicting: [11]))
        // A connection back to waiting counts from the end of its response.
        table.waiting(10, since: at(21))
        #expect(table.admit(14, client: "new", identity: 1, at: at(22)) == .admitted(evicting: [12]))
    }

    @Test func aConnectionReceivingABodyCanStillBeEvicted() {
        var table = table(total: 2, perClient: 0)
        _ = table.admit(10, client: "a", identity: 1, at: at(0))
        _ = table.admit(11, client: "b", identity: 1, at: at(1))
        table.headersComplete(10)
        #expect(table.admit(12, client: "c", identity: 1, at: at(2)) == .admitted(evicting: [10]))
    }

    @Test func whenEveryConnectionIsAnsweredTheNewcomerIsRefused() {
        var table = table(total: 2, perClient: 0)
        for fd in Int32(10)...11 {
            _ = table.admit(fd, client: "a", identity: 1, at: at(0))
            table.answering(fd)
        }
        #expect(table.admit(12, client: "b", identity: 1, at: at(1)) == .refused)
        #expect(table.entries[12] == nil && table.openCount == 2)
    }

    @Test func closingConnectionsAreBoundedToo() {
        var table = table(total: 2, perClient: 0)
        // Each admission evicts one; nothing is reported closed, so entries pile up to `held`.
        var refused = 0
        for fd in Int32(10)..<20 where table.admit(fd, client: "a", identity: 1, at: at(Int(fd))) == .refused { refused += 1 }
        #expect(table.entries.count == table.limits.held)
        #expect(refused == 10 - table.limits.held)
        table.remove(10)
        #expect(table.admit(30, client: "a", identity: 1, at: at(30)) != .refused)
    }

    @Test func theDeadlineRunsFromWaitingNotFromActivity() {
        var table = table(deadline: .seconds(10))
        _ = table.admit(10, client: "a", identity: 1, at: at(0))
        _ = table.admit(11, client: "a", identity: 1, at: at(5))
        #expect(table.expire(at: at(9)).isEmpty)
        #expect(table.expire(at: at(10)) == [10])
        #expect(table.nextDeadline == at(15))
        table.headersComplete(11)
        #expect(table.expire(at: at(30)).isEmpty, "a connection with its headers in has no deadline")
        table.answering(11)
        table.waiting(11, since: at(31))
        #expect(table.expire(at: at(40)).isEmpty)
        #expect(table.expire(at: at(41)) == [11])
        #expect(table.nextDeadline == nil)
    }

    @Test func removalCountsOffOnce() {
        var table = table(total: 4, perClient: 2)
        _ = table.admit(10, client: "a", identity: 1, at: at(0))
        _ = table.admit(11, client: "a", identity: 1, at: at(1))
        _ = table.expire(at: at(10))
        table.remove(10)
        table.remove(10)
        table.remove(11)
        #expect(table.entries.isEmpty && table.openCount == 0)
        #expect(table.admit(12, client: "a", identity: 1, at: at(20)) == .admitted(evicting: []))
        #expect(table.admit(13, client: "a", identity: 1, at: at(21)) == .admitted(evicting: []))
    }

    @Test func aReusedNumberReplacesTheStaleEntry() {
        var table = table(total: 4, perClient: 0)
        _ = table.admit(10, client: "a", identity: 1, at: at(0))
        #expect(table.admit(10, client: "b", identity: 2, at: at(1)) == .admitted(evicting: []))
        #expect(table.entries[10]?.client == "b" && table.openCount == 1)
    }
}

/// If-None-Match parsing.
struct ConditionalRequestTests {
    @Test(arguments: [
        ("\"a\"", "\"a\"", true), ("W/\"a\"", "\"a\"", true), ("\"a\"", "W/\"a\"", true),
        ("\"b\", \"a\"", "\"a\"", true), ("\"a,b\"", "\"a\"", false), ("\"a,b\"", "\"a,b\"", true),
        (" * ", "\"z\"", true), ("\"b\"", "\"a\"", false), ("", "\"a\"", false), ("\"a\"", "a", false),
    ])
    func matches(condition: String, etag: String, expected: Bool) {
        #expect(ConditionalRequest.matches(condition, etag) == expected)
    }

    @Test func onlyGetAndHeadOf200AreConditional() {
        let tagged = HTTPResponse(status: 200, headers: [("ETag", "\"a\""), ("Content-Type", "text/plain"), ("Cache-Control", "no-cache")], body: [1])
        let asked = HTTPRequest(method: "GET", path: "/", headers: [("If-None-Match", "\"a\"")])
        let notModified = ConditionalRequest.notModified(tagged, for: asked)
        #expect(notModified?.status == 304 && notModified?.body.isEmpty == true)
        #expect(notModified?.header("Content-Type") == nil && notModified?.header("Cache-Control") == "no-cache")
        var post = asked
        post.method = "POST"
        #expect(ConditionalRequest.notModified(tagged, for: post) == nil)
        var failed = tagged
        failed.status = 404
        #expect(ConditionalRequest.notModified(failed, for: asked) == nil)
    }
}

extension ConnectionTableTests {
    @Test("a connection whose request waits unread (the server's threads are busy) is not expired for it")
    func busyServerDoesNotExpire() {
        var table = ConnectionTable(limits: .init(total: 10, perClient: 10, headerDeadline: .seconds(10)))
        let start = ContinuousClock.now
        _ = table.admit(10, client: "127.0.0.1", identity: 1, at: start)
        #expect(table.expire(at: start + .seconds(11), serverBehind: { _ in true }).isEmpty)
        #expect(table.nextDeadline.map { $0 <= start + .seconds(12) } == true, "checked again a second later")
        #expect(table.expire(at: start + .seconds(12), serverBehind: { _ in false }) == [10])
    }
}
