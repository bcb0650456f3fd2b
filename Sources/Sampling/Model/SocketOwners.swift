/// The processes holding one socket, in (pid, fd) order: a collection of
/// `SocketOwner`, most often of exactly one.
///
/// An array of owners per socket cost a heap block of its own (80 bytes for one
/// owner), which was a quarter of a 50,000-socket snapshot's memory. Here a single
/// owner is kept inline as its fd and a reference to the process, and the process
/// (pid, start time, name, container) is one object shared by every socket it holds;
/// only a socket held by several fds (a listener shared by forked workers) keeps an
/// array.
public struct SocketOwners: Sendable, Equatable, RandomAccessCollection, ExpressibleByArrayLiteral {
    private enum Storage: Sendable {
        case none
        case one(OwnerProcess, fd: Int32)
        case many([SocketOwner])
    }
    private var storage: Storage

    /// No owner.
    public init() { storage = .none }

    /// These owners, sorted by (pid, fd).
    public init(_ owners: some Sequence<SocketOwner>) {
        storage = .none
        for owner in owners { append(owner) }
        sortByProcess()
    }

    public init(arrayLiteral owners: SocketOwner...) { self.init(owners) }

    public var startIndex: Int { 0 }
    public var endIndex: Int {
        switch storage {
        case .none: return 0
        case .one: return 1
        case .many(let owners): return owners.count
        }
    }

    public subscript(position: Int) -> SocketOwner {
        switch storage {
        case .none:
            preconditionFailure("SocketOwners: index \(position) out of range (no owner)")
        case .one(let process, let fd):
            precondition(position == 0, "SocketOwners: index \(position) out of range (one owner)")
            return process.owner(fd: fd)
        case .many(let owners):
            return owners[position]
        }
    }

    /// Adds one owner (call `sortByProcess` after the last).
    mutating func append(_ owner: SocketOwner) {
        switch storage {
        case .none: storage = .one(OwnerProcess(owner), fd: owner.fd)
        case .one(let process, let fd): storage = .many([process.owner(fd: fd), owner])
        case .many(var owners):
            storage = .none  // so the array is uniquely referenced while it grows
            owners.append(owner)
            storage = .many(owners)
        }
    }

    /// Adds fd `fd` of `process`, sharing the process with its other sockets.
    mutating func append(fd: Int32, of process: OwnerProcess) {
        if case .none = storage {
            storage = .one(process, fd: fd)
        } else {
            append(process.owner(fd: fd))
        }
    }

    /// Puts the owners in (pid, fd) order, the order every answer lists them in.
    mutating func sortByProcess() {
        guard case .many(var owners) = storage else { return }
        storage = .none
        owners.sort { ($0.pid, $0.fd) < ($1.pid, $1.fd) }
        storage = .many(owners)
    }

    /// The process of a socket with a single owner (shared with the process's other
    /// sockets of the sample); nil for none or several.
    var singleProcess: OwnerProcess? {
        if case .one(let process, _) = storage { return process }
        return nil
    }

    public static func == (a: SocketOwners, b: SocketOwners) -> Bool { a.elementsEqual(b) }
}

/// One process that holds sockets, shared by every `SocketOwners` of a sample that
/// names it (see `SocketOwners`).
final class OwnerProcess: Sendable {
    let pid: Int32
    let startTime: UInt64
    let name: String
    let containerBox: ContainerBox?

    init(pid: Int32, startTime: UInt64, name: String, containerBox: ContainerBox?) {
        self.pid = pid
        self.startTime = startTime
        self.name = name
        self.containerBox = containerBox
    }

    convenience init(_ owner: SocketOwner) {
        self.init(pid: owner.pid, startTime: owner.startTime, name: owner.name, containerBox: owner.containerBox)
    }

    func owner(fd: Int32) -> SocketOwner {
        SocketOwner(pid: pid, startTime: startTime, name: name, fd: fd, containerBox: containerBox)
    }
}
