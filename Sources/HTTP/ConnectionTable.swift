/// The connections the server holds, by socket, and the rules for closing them: a
/// deadline for a request's headers that trickling bytes do not extend, and, when a
/// connection limit is reached, room made by closing the connection that has waited
/// longest without a complete request. Bookkeeping only: `ConnectionTracker` locks it
/// and shuts down the sockets it names.
struct ConnectionTable {
    /// Where a connection is in its request cycle.
    enum Phase: Equatable {
        /// Waiting for a request's headers (a TLS handshake included): the deadline runs.
        case waiting
        /// The headers are in; a body, if any, is arriving.
        case receiving
        /// The handler is answering, or the response is being sent.
        case answering
        /// Shut down to be closed; libmicrohttpd has not closed it yet.
        case closing
    }

    /// One connection.
    struct Entry: Equatable {
        /// The client's address as text: connections are limited per address.
        var client: String
        /// The socket's inode number, to recognise the socket behind a reused number.
        var identity: UInt64
        /// Where it is in its request cycle.
        var phase: Phase
        /// When it began waiting for its current request.
        var waitingSince: ContinuousClock.Instant
    }

    /// What the table enforces.
    struct Limits: Equatable {
        /// Connections open at once (closing ones not counted).
        var total: Int
        /// Connections open at once from one client address; 0 for no limit.
        var perClient: Int
        /// How long a connection may wait for a request's headers.
        var headerDeadline: Duration
        /// Entries held at most, closing ones included. Beyond it newcomers are turned
        /// away until libmicrohttpd has closed what was shut down, which bounds the
        /// sockets held even if it falls behind.
        var held: Int { total * 2 }
    }

    /// What happens to a new connection.
    enum Admission: Equatable {
        /// It is in; the connections listed must be shut down to make room.
        case admitted(evicting: [Int32])
        /// No room can be made: every other connection is being answered.
        case refused
    }

    /// The limits enforced.
    let limits: Limits
    /// Every connection held, by socket.
    private(set) var entries: [Int32: Entry] = [:]
    /// Connections not closing.
    private(set) var openCount = 0
    /// Connections not closing, per client address.
    private var openPerClient: [String: Int] = [:]
    /// No waiting connection's deadline comes before this (nil: none waits).
    private(set) var nextDeadline: ContinuousClock.Instant?

    /// An empty table.
    init(limits: Limits) {
        self.limits = limits
    }

    /// Takes in socket `fd` from `client`, accepted at `now`, choosing whom to evict if
    /// a limit is reached: the connection that has waited longest for a complete
    /// request, from the same client when the per-client limit is the one reached.
    mutating func admit(_ fd: Int32, client: String, identity: UInt64, at now: ContinuousClock.Instant) -> Admission {
        // A number still held belonged to a socket libmicrohttpd closed without saying
        // so (it fails that way only when out of memory); the kernel has reused it.
        if entries[fd] != nil { remove(fd) }
        guard entries.count < limits.held else { return .refused }
        var victims: [Int32] = []
        if limits.perClient > 0, openPerClient[client, default: 0] >= limits.perClient {
            guard let victim = longestWaiting(excluding: [], where: { $0.client == client }) else { return .refused }
            victims.append(victim)
        }
        if openCount - victims.count >= limits.total {
            guard let victim = longestWaiting(excluding: victims, where: { _ in true }) else { return .refused }
            victims.append(victim)
        }
        for victim in victims { markClosing(victim) }
        entries[fd] = Entry(client: client, identity: identity, phase: .waiting, waitingSince: now)
        openCount += 1
        openPerClient[client, default: 0] += 1
        noteDeadline(now + limits.headerDeadline)
        return .admitted(evicting: victims)
    }

    /// Connection `fd` has delivered a request's headers: its deadline stops.
    mutating func headersComplete(_ fd: Int32) {
        guard entries[fd]?.phase == .waiting else { return }
        entries[fd]?.phase = .receiving
    }

    /// Connection `fd` is being answered: it is not evicted to make room.
    mutating func answering(_ fd: Int32) {
        guard let phase = entries[fd]?.phase, phase == .waiting || phase == .receiving else { return }
        entries[fd]?.phase = .answering
    }

    /// Connection `fd` has sent its response and waits for the next request from `now`.
    mutating func waiting(_ fd: Int32, since now: ContinuousClock.Instant) {
        guard let phase = entries[fd]?.phase, phase != .closing else { return }
        entries[fd]?.phase = .waiting
        entries[fd]?.waitingSince = now
        noteDeadline(now + limits.headerDeadline)
    }

    /// Connection `fd` is gone.
    mutating func remove(_ fd: Int32) {
        guard let entry = entries.removeValue(forKey: fd) else { return }
        if entry.phase != .closing { forgetOpen(entry.client) }
    }

    /// Marks every connection waiting past its deadline at `now` as closing and returns
    /// their sockets, to be shut down. A connection for which `serverBehind` is true
    /// (bytes sit unread in its socket: the client has sent, the server's threads are
    /// busy answering others) is not the client's fault and gets another second.
    mutating func expire(at now: ContinuousClock.Instant, serverBehind: (Int32) -> Bool = { _ in false }) -> [Int32] {
        guard let due = nextDeadline, due <= now else { return [] }
        var expired: [Int32] = []
        var earliest: ContinuousClock.Instant?
        for (fd, entry) in entries where entry.phase == .waiting {
            let deadline = entry.waitingSince + limits.headerDeadline
            if deadline <= now && serverBehind(fd) {
                let retry = now + .seconds(1)
                if earliest.map({ retry < $0 }) ?? true { earliest = retry }
            } else if deadline <= now {
                expired.append(fd)
            } else if earliest.map({ deadline < $0 }) ?? true {
                earliest = deadline
            }
        }
        for fd in expired { markClosing(fd) }
        nextDeadline = earliest
        return expired
    }

    /// The oldest `waitingSince` among connections not being answered and not closing
    /// that satisfy `include`. A linear scan: the table holds at most `limits.held`.
    private func longestWaiting(excluding excluded: [Int32], where include: (Entry) -> Bool) -> Int32? {
        var best: (fd: Int32, since: ContinuousClock.Instant)?
        for (fd, entry) in entries where entry.phase == .waiting || entry.phase == .receiving {
            guard include(entry), !excluded.contains(fd) else { continue }
            if best.map({ entry.waitingSince < $0.since }) ?? true { best = (fd, entry.waitingSince) }
        }
        return best?.fd
    }

    private mutating func markClosing(_ fd: Int32) {
        guard let entry = entries[fd], entry.phase != .closing else { return }
        entries[fd]?.phase = .closing
        forgetOpen(entry.client)
    }

    private mutating func forgetOpen(_ client: String) {
        openCount -= 1
        let left = openPerClient[client, default: 1] - 1
        openPerClient[client] = left > 0 ? left : nil
    }

    private mutating func noteDeadline(_ deadline: ContinuousClock.Instant) {
        if nextDeadline.map({ deadline < $0 }) ?? true { nextDeadline = deadline }
    }
}
