import Dispatch

/// The socket tables one sample reads, dumped through one sock_diag socket: the same
/// requests whichever namespace the socket is in.
struct TableDump: Sendable {
    /// What a dump through one socket gave.
    struct Result {
        /// The sockets, in kernel order.
        var sockets: [Socket] = []
        /// The tables the kernel refused.
        var refused: [(TransportProtocol, AddressFamily)] = []
        /// The last refusal.
        var error: String?
    }

    /// The collector's options: protocols, families, states and tcp_info.
    let options: CollectorOptions

    /// The (protocol, family) tables in scope.
    var tables: [(TransportProtocol, AddressFamily)] {
        var tables: [(TransportProtocol, AddressFamily)] = []
        for proto in [TransportProtocol.tcp, .udp] where options.protocols.contains(proto) {
            for family in [AddressFamily.ipv4, .ipv6] where options.families.contains(family) {
                tables.append((proto, family))
            }
        }
        return tables
    }

    /// The kernel state mask for `proto`: every state, or only listeners.
    func stateMask(for proto: TransportProtocol) -> UInt32 {
        guard options.listeningOnly else { return SocketState.allStatesMask }
        return 1 << UInt32(proto == .tcp ? SocketState.listen.rawValue : SocketState.close.rawValue)
    }

    /// Dumps every table through `diag` into `sockets`, receiving into `buffer`;
    /// returns the tables the kernel refused and the last refusal.
    func run(
        _ diag: SockDiagReader, buffer: NetlinkReceiveBuffer, into sockets: inout [Socket]
    ) -> (refused: [(TransportProtocol, AddressFamily)], error: String?) {
        var refused: [(TransportProtocol, AddressFamily)] = []
        var lastError: String?
        var tables = self.tables
        if options.protocols.contains(.tcp) && options.families.count == 2 {
            let before = sockets.count
            do {
                try diag.dumpTCPBothFamilies(
                    states: stateMask(for: .tcp), tcpInfo: options.tcpInfo, buffer: buffer, into: &sockets)
                tables.removeAll { $0.0 == .tcp }
            } catch {
                // Kernels without the compat request answer per family below.
                sockets.removeSubrange(before...)
            }
        }
        for (proto, family) in tables {
            let before = sockets.count
            do {
                try diag.dump(family: family, proto: proto, states: stateMask(for: proto),
                              tcpInfo: options.tcpInfo, buffer: buffer, into: &sockets)
            } catch {
                sockets.removeSubrange(before...)
                lastError = String(describing: error)
                refused.append((proto, family))
            }
        }
        return (refused, lastError)
    }

    /// Dumps through each of `readers` (one per namespace), on as many threads at once
    /// as there are `buffers`. Each namespace's dump walks the kernel's socket hash
    /// tables, which are shared by all namespaces (the TCP established hash has one
    /// bucket per ~100 KB of RAM), so with many namespaces this is most of a sample,
    /// and it parallelises cleanly: the sockets are independent.
    func run(_ readers: [SockDiagReader], buffers: [NetlinkReceiveBuffer]) -> [Result] {
        guard !readers.isEmpty else { return [] }
        let workers = max(1, min(buffers.count, readers.count))
        if workers == 1 {
            return readers.map { reader in
                var result = Result()
                (result.refused, result.error) = run(reader, buffer: buffers[0], into: &result.sockets)
                return result
            }
        }
        let results = UnsafeMutableBufferPointer<Result>.allocate(capacity: readers.count)
        results.initialize(repeating: Result())
        defer { results.deinitialize(); results.deallocate() }
        // Worker w alone dumps readers w, w + workers, ... with buffers[w] and writes
        // only their slots of `results`; readers and buffers are not touched elsewhere
        // until concurrentPerform returns.
        nonisolated(unsafe) let slots = results
        nonisolated(unsafe) let jobs = readers
        nonisolated(unsafe) let receive = buffers
        let dump = self
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < jobs.count {
                var result = Result()
                (result.refused, result.error) = dump.run(jobs[index], buffer: receive[worker], into: &result.sockets)
                slots[index] = result
                index += workers
            }
        }
        return Array(results)
    }
}
