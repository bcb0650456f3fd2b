public import Foundation
public import Sampling

/// Snapshots built by hand, for history tests that need exact times and changes.
public enum Synthetic {
    /// A TCP IPv4 socket 127.0.0.1:local -> 127.0.0.1:remote with a cookie.
    public static func socket(
        cookie: UInt64, state: SocketState, local: UInt16, remote: UInt16 = 0,
        recvQ: UInt32 = 0, sendQ: UInt32 = 0, owners: [SocketOwner] = [], proto: TransportProtocol = .tcp
    ) -> Socket {
        Socket(proto: proto, family: .ipv4, state: state,
               local: Endpoint(address: IPAddress("127.0.0.1")!, port: local),
               remote: Endpoint(address: remote == 0 ? IPAddress("0.0.0.0")! : IPAddress("127.0.0.1")!, port: remote),
               recvQ: recvQ, sendQ: sendQ, uid: 0, inode: state == .timeWait ? 0 : cookie + 1000, cookie: cookie,
               processes: SocketOwners(owners))
    }

    /// A snapshot at `time` holding `sockets`.
    public static func snapshot(at time: Double, _ sockets: [Socket]) -> Snapshot {
        Snapshot(takenAt: time, duration: 0.001, source: .netlink, sockets: sockets, problems: SamplingProblems(), userNames: [0: "root"])
    }

    /// An owner with start time 1000+pid.
    public static func owner(_ pid: Int32, _ name: String, fd: Int32 = 3) -> SocketOwner {
        SocketOwner(pid: pid, startTime: 1000 + UInt64(pid), name: name, fd: fd)
    }

    /// A fresh temporary directory, for a test's own database.
    public static func temporaryDirectory(_ tag: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("netstatd-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

extension Synthetic {
    /// Counters by their stored names (`Tcp.OutSegs`, `interface.lo.rx_bytes`), as a
    /// sampler hands them to the Recorder.
    public static func counters(_ values: [String: UInt64]) -> [CounterKey: UInt64] {
        Dictionary(values.map { (CounterKey(storageName: $0.key)!, $0.value) }, uniquingKeysWith: { a, _ in a })
    }
}
