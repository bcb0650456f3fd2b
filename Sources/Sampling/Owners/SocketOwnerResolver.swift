import Dispatch
import Glibc

/// Finds which processes hold which sockets by walking `/proc/<pid>/fd` and reading
/// each `socket:[inode]` link, as `ss -p` and `lsof` do.
///
/// This is the expensive part of a sample at scale, so it is made cheap four ways:
/// - inodes are looked up in a hash table sized to the dump (ss's fixed-size table
///   is why `ss -p` grows with the square of the socket count);
/// - the walk is split across the CPUs;
/// - between full walks, a sample in which every socket is already accounted for
///   (its owners known, or known to have none we can see) does not walk at all: the
///   cached owners are checked to be the same processes (pid and start time) and
///   reused. When new sockets appear the fds are walked, but an fd whose cached
///   socket is still alive is not read again (`readlinkat` is most of the cost).
///   Every `fullWalkEvery` samples nothing is trusted from the cache, which catches
///   an fd closed and reopened to another live socket, or a socket inherited by a
///   forked child, between two samples.
/// - a one-shot resolver (`fullWalkEvery` 1, `netstatd snapshot`) trusts nothing, so
///   its walk does not need the dump: it starts before the dump (`startWalk`) and
///   keeps no cache.
///
/// Socket inodes are unique across network namespaces (sockfs is one filesystem for
/// the whole kernel), so one host-wide walk attributes the sockets of every namespace.
///
/// Not thread-safe: one resolver belongs to one Collector, which samples serially.
final class SocketOwnerResolver {
    /// What is remembered about one process between samples.
    struct ProcessEntry: Sendable {
        var startTime: UInt64
        var name: String
        /// (fd number, socket inode) for the fds that were sockets, in fd order. A
        /// list, not a dictionary: a walk holds every process's at once, and at
        /// 16 bytes a pair they are two thirds of what the dictionaries took.
        var socketFDs: [(fd: Int32, inode: UInt64)]

        /// The socket inode cached for `fd`, found by bisection (the list is in fd order).
        func inode(ofFD fd: Int32) -> UInt64? {
            var low = 0, high = socketFDs.count
            while low < high {
                let middle = (low + high) / 2
                if socketFDs[middle].fd < fd { low = middle + 1 } else { high = middle }
            }
            return low < socketFDs.count && socketFDs[low].fd == fd ? socketFDs[low].inode : nil
        }
        /// The container its cgroup names (read once per process: pid and start time).
        var container: ContainerReference?
    }

    private let procRoot: String
    private let fullWalkEvery: Int
    private let workers: Int
    private let containers: Bool
    private var cache: [Int32: ProcessEntry] = [:]
    /// Inodes held by some cached process.
    private var attributed: Set<UInt64> = []
    /// Inodes that the last walk found no process for (held in another pid
    /// namespace, or not yet accepted): not new, so they do not force a walk.
    private var unattributed: Set<UInt64> = []
    private var samplesSinceFullWalk = Int.max

    /// A resolver over `procRoot`. `fullWalkEvery` 1 disables the cache (one-shot use).
    /// `containers` reads each owning process's cgroup for `SocketOwner.container`.
    init(procRoot: String, fullWalkEvery: Int, containers: Bool = true,
         workers: Int = min(4, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))) {
        self.procRoot = procRoot
        self.containers = containers
        self.fullWalkEvery = max(1, fullWalkEvery)
        self.workers = max(1, workers)
    }

    /// Whether this sample's walk needs nothing from the socket dump: nothing cached
    /// is trusted (a one-shot resolver, `fullWalkEvery` 1), so no fd is skipped for
    /// being a socket still alive. Such a walk can run while the dump does
    /// (`startWalk`), on the CPUs the dump leaves idle.
    var walkIsIndependentOfDump: Bool { fullWalkEvery == 1 }

    /// Starts walking every process's fds on other threads, for a resolver whose walk
    /// is independent of the dump; pass the result to `resolve`.
    func startWalk() -> PendingOwnerWalk? {
        guard walkIsIndependentOfDump else { return nil }
        let pending = PendingOwnerWalk()
        let (procRoot, workers, containers) = (self.procRoot, self.workers, self.containers)
        DispatchQueue.global().async(group: pending.group) {
            pending.outcome = Self.walkEveryProcess(
                procRoot: procRoot, workers: workers, containers: containers, previous: [:], alive: nil)
        }
        return pending
    }

    /// Fills `processes` of every socket in `sockets` whose inode some process holds,
    /// and counts what could not be read in `problems`. `started` is a walk begun by
    /// `startWalk` before the dump, waited for here.
    func resolve(_ sockets: inout [Socket], started: PendingOwnerWalk? = nil, problems: inout SamplingProblems) {
        let index = SocketPositions(sockets)
        let useCache = started == nil && samplesSinceFullWalk < fullWalkEvery - 1 && !cache.isEmpty
        samplesSinceFullWalk = useCache ? samplesSinceFullWalk + 1 : 0
        if useCache && !sockets.contains(where: { $0.inode != 0 && !attributed.contains($0.inode) && !unattributed.contains($0.inode) }) {
            if reuseCache(&sockets, index: index, problems: &problems) { return }
        }

        let outcome: WalkOutcome
        if let started {
            started.group.wait()
            outcome = started.outcome
        } else {
            outcome = Self.walkEveryProcess(
                procRoot: procRoot, workers: workers, containers: containers, previous: useCache ? cache : [:],
                alive: useCache ? AliveSockets(sockets: sockets, positions: index) : nil)
        }
        guard outcome.listed else {
            problems.fdDirectoriesUnreadable += 1
            return
        }

        for result in outcome.results {
            problems.processesVanished += result.vanished
            problems.fdDirectoriesUnreadable += result.unreadable
            for found in result.processes { Self.attach(found.pid, found.entry, to: &sockets, index: index) }
        }
        Self.sortOwners(&sockets)
        // A one-shot resolver never reads its cache: building it (a set of every
        // socket inode twice over) would only cost time and memory.
        guard fullWalkEvery > 1 else { return }
        var newCache: [Int32: ProcessEntry] = [:]
        newCache.reserveCapacity(cache.count + 16)
        for result in outcome.results {
            for found in result.processes { newCache[found.pid] = found.entry }
        }
        cache = newCache
        attributed = Set(newCache.values.flatMap { $0.socketFDs.map(\.inode) })
        unattributed = Set(sockets.lazy.map(\.inode).filter { $0 != 0 && !self.attributed.contains($0) })
    }

    /// What one walk of every process found; `listed` false when /proc could not be
    /// listed or opened at all.
    struct WalkOutcome: Sendable {
        var listed = false
        var results: [WalkResult] = []
    }

    /// The sockets just dumped, for a walk that trusts cached fds: an fd cached as
    /// one of them is not read again.
    struct AliveSockets: Sendable {
        var sockets: [Socket]
        var positions: SocketPositions

        func contains(_ inode: UInt64) -> Bool { positions.position(of: inode, in: sockets) != nil }
    }

    /// Walks the fds of every process in /proc, split across the CPUs. `previous`
    /// holds the cached entries to trust for the same processes, `alive` the sockets
    /// just dumped (nil when nothing cached is trusted).
    private static func walkEveryProcess(
        procRoot: String, workers: Int, containers: Bool, previous: [Int32: ProcessEntry], alive: AliveSockets?
    ) -> WalkOutcome {
        guard let pids = try? listProcesses(procRoot: procRoot) else { return WalkOutcome() }
        let procFD = open(procRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard procFD >= 0 else { return WalkOutcome() }
        defer { close(procFD) }
        let chunks = Swift.min(workers, Swift.max(1, pids.count / 64))
        let results = UnsafeMutableBufferPointer<WalkResult>.allocate(capacity: chunks)
        results.initialize(repeating: WalkResult())
        defer { results.deinitialize(); results.deallocate() }

        // Each worker owns one slot of `results` and reads only immutable inputs.
        nonisolated(unsafe) let slots = results
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var result = WalkResult()
            var i = chunk
            while i < pids.count {
                walk(pid: pids[i], procFD: procFD, alive: alive, previous: previous[pids[i]],
                     containers: containers, into: &result)
                i += chunks
            }
            slots[chunk] = result
        }
        return WalkOutcome(listed: true, results: Array(results))
    }

    /// Attributes every socket from the cache after checking each cached process is
    /// still the same one. False (and nothing attributed) when one has gone or been
    /// replaced: its sockets may have passed to another process, so walk instead.
    private func reuseCache(_ sockets: inout [Socket], index: SocketPositions, problems: inout SamplingProblems) -> Bool {
        let procFD = open(procRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard procFD >= 0 else { return false }
        defer { close(procFD) }
        for (pid, entry) in cache {
            guard let stat = Self.readStat(pid: pid, procFD: procFD), stat.startTime == entry.startTime else {
                return false
            }
        }
        for (pid, entry) in cache { Self.attach(pid, entry, to: &sockets, index: index) }
        Self.sortOwners(&sockets)
        return true
    }

    /// Makes process `pid` an owner of each of `sockets` it holds an fd of; the
    /// sockets share one `OwnerProcess` for it.
    private static func attach(_ pid: Int32, _ entry: ProcessEntry, to sockets: inout [Socket], index: SocketPositions) {
        let process = OwnerProcess(pid: pid, startTime: entry.startTime, name: entry.name,
                                   containerBox: entry.container.map(ContainerBox.init))
        for (fd, inode) in entry.socketFDs {
            guard let position = index.position(of: inode, in: sockets) else { continue }
            sockets[position].processes.append(fd: fd, of: process)
        }
    }

    /// Puts every socket's owners in (pid, fd) order (processes are walked in no
    /// particular order).
    private static func sortOwners(_ sockets: inout [Socket]) {
        for position in sockets.indices where sockets[position].processes.count > 1 {
            sockets[position].processes.sortByProcess()
        }
    }

    struct WalkResult: Sendable {
        var processes: [(pid: Int32, entry: ProcessEntry)] = []
        var vanished = 0
        var unreadable = 0
    }

    private static func listProcesses(procRoot: String) throws -> [Int32] {
        guard let dir = opendir(procRoot) else {
            throw SystemError(call: "opendir", subject: procRoot, errno: errno)
        }
        defer { closedir(dir) }
        var pids: [Int32] = []
        pids.reserveCapacity(1024)
        while let entry = readdir(dir) {
            let pid = withUnsafeBytes(of: entry.pointee.d_name) { Self.parseDecimal($0) }
            if let pid, pid > 0 { pids.append(Int32(pid)) }
        }
        return pids
    }

    /// Reads one process's fds. A process that exits half way is counted as vanished
    /// and contributes nothing, not a partial list.
    private static func walk(
        pid: Int32, procFD: Int32, alive: AliveSockets?, previous: ProcessEntry?, containers: Bool,
        into result: inout WalkResult
    ) {
        // A cached entry is only trusted for the same process: same pid and start time.
        var trusted: ProcessEntry? = nil
        var stat: ProcPidStat? = nil
        if let previous {
            guard let current = readStat(pid: pid, procFD: procFD) else {
                result.vanished += 1
                return
            }
            stat = current
            if current.startTime == previous.startTime { trusted = previous }
        }

        let fdDirFD = openat(procFD, "\(pid)/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fdDirFD >= 0 else {
            if errno == ENOENT || errno == ESRCH { result.vanished += 1 } else { result.unreadable += 1 }
            return
        }
        guard let dir = fdopendir(fdDirFD) else {
            close(fdDirFD)
            result.unreadable += 1
            return
        }
        defer { closedir(dir) }

        var socketFDs: [(fd: Int32, inode: UInt64)] = []
        var link = [UInt8](repeating: 0, count: 64)
        while true {
            errno = 0
            guard let entry = readdir(dir) else { break }
            guard let fd = withUnsafeBytes(of: entry.pointee.d_name, { Self.parseDecimal($0) }) else { continue }
            let fdNumber = Int32(truncatingIfNeeded: fd)
            if let trusted, let inode = trusted.inode(ofFD: fdNumber), alive?.contains(inode) == true {
                socketFDs.append((fdNumber, inode))
                continue
            }
            let length = link.withUnsafeMutableBytes { buf in
                withUnsafeBytes(of: entry.pointee.d_name) { name in
                    readlinkat(fdDirFD, name.baseAddress!.assumingMemoryBound(to: CChar.self),
                               buf.baseAddress!.assumingMemoryBound(to: CChar.self), buf.count)
                }
            }
            guard length > 0 else { continue }  // the fd closed meanwhile
            if let inode = link.withUnsafeBytes({ Self.socketInode(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }) {
                socketFDs.append((fdNumber, inode))
            }
        }
        if errno == ENOENT || errno == ESRCH {
            result.vanished += 1
            return
        }
        guard !socketFDs.isEmpty else { return }
        // /proc lists a process's fds in ascending order; sorted anyway should some
        // kernel not, since `inode(ofFD:)` bisects.
        if !socketFDs.indices.dropFirst().allSatisfy({ socketFDs[$0 - 1].fd < socketFDs[$0].fd }) {
            socketFDs.sort { $0.fd < $1.fd }
        }
        if stat == nil { stat = readStat(pid: pid, procFD: procFD) }
        guard let stat else {
            result.vanished += 1
            return
        }
        // The same process (pid and start time) keeps its cgroup's answer; a process
        // moved between cgroups is seen again at the next full walk's new entry.
        let container = trusted.map(\.container) ?? (containers ? ProcPidCgroup.read(pid: pid, procFD: procFD) : nil)
        result.processes.append((pid, ProcessEntry(
            startTime: stat.startTime, name: stat.name, socketFDs: socketFDs, container: container)))
    }

    private static func readStat(pid: Int32, procFD: Int32) -> ProcPidStat? {
        guard let bytes = try? FileContents.bytes(at: procFD, "\(pid)/stat") else { return nil }
        return ProcPidStat.parse(bytes)
    }

    /// The inode in a `socket:[12345]` link target, or nil for any other target.
    static func socketInode(_ target: UnsafeRawBufferPointer) -> UInt64? {
        // "socket:[" is 8 bytes; the shortest valid target is "socket:[1]".
        guard target.count >= 10, target[0] == UInt8(ascii: "s"), target[6] == UInt8(ascii: ":"),
              target[7] == UInt8(ascii: "["), target[target.count - 1] == UInt8(ascii: "]")
        else { return nil }
        var value: UInt64 = 0
        for byte in target[8..<(target.count - 1)] {
            guard byte >= 48 && byte <= 57 else { return nil }
            value = value &* 10 &+ UInt64(byte - 48)
        }
        return value
    }

    /// The number in a NUL-terminated directory entry name made only of digits.
    static func parseDecimal(_ name: UnsafeRawBufferPointer) -> Int? {
        var value = 0
        var digits = 0
        for byte in name {
            if byte == 0 { break }
            guard byte >= 48 && byte <= 57, digits < 10 else { return nil }
            value = value * 10 + Int(byte - 48)
            digits += 1
        }
        return digits > 0 ? value : nil
    }
}

/// A walk of every process's fds started by `SocketOwnerResolver.startWalk` on
/// another thread, to be waited for by `resolve`.
final class PendingOwnerWalk: @unchecked Sendable {
    // @unchecked: `outcome` is written once by the walking task, inside `group`, and
    // read only after `group.wait()` has returned (which orders the two).
    let group = DispatchGroup()
    var outcome = SocketOwnerResolver.WalkOutcome()
}
