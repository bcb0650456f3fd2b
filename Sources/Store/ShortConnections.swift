import Sampling

/// A socket seen only through its close event: it opened and closed between two
/// samples. On a busy host most sockets are these, so they are not `connections` rows
/// (a record of 20 columns, about 90 bytes with its header) but entries of one packed
/// block per sample in `short_connections` (`ShortConnectionBlock`): about 25 bytes.
/// Their ids share the connections' sequence: a sample's block holds the ids right
/// after its sampled connections, in close order.
struct ShortConnection: Equatable {
    var proto: TransportProtocol
    var family: AddressFamily
    var local: Endpoint
    var remote: Endpoint
    var state: SocketState
    var cookie: UInt64?
    /// Its network namespace's inode (nil: netstatd's own, before namespaces were known).
    var netns: UInt64?
    /// When its close event came, whole milliseconds.
    var closedAtMs: Int64
    var totals: ConnectionTotals?
    /// Its owners, the first its first: those of the listener that accepted it, none
    /// when no listener did. Never read from /proc (the process is gone from the
    /// socket by its close), so any owner is an inferred one.
    var owners: [ShortOwner]
    /// The cgroup it was created in (INET_DIAG_CGROUP_ID resolved to a path), when known.
    var cgroup: String?
}

/// An owner as history stores it: the `processes` row id and the fd.
struct ShortOwner: Hashable {
    var process: Int64
    var fd: Int32
}

/// The packed form of one sample's short connections. Values that repeat within a
/// sample (namespaces, addresses, owners, cgroups, the protocol/state/flags shape) are
/// written once in a palette and referred to by index, an index left out when its
/// palette has a single entry; close times and cookies are deltas from the entry
/// before; everything else is a varint. On loopback churn an entry is a close-time
/// delta, two ports, a cookie delta and the totals.
enum ShortConnectionBlock {
    static let version: UInt8 = 1

    /// The entries' packed bytes, in their order (their ids are the block's first id
    /// plus their position).
    static func encode(_ entries: [ShortConnection]) -> [UInt8] {
        var namespaces = Palette<UInt64>()
        var addresses = Palette<IPAddress>()
        var owners = Palette<ShortOwner>()
        var cgroups = Palette<String>()
        var shapes = Palette<UInt64>()
        for entry in entries {
            namespaces.add(entry.netns ?? 0)
            addresses.add(entry.local.address)
            addresses.add(entry.remote.address)
            for owner in entry.owners { owners.add(owner) }
            cgroups.add(entry.cgroup ?? "")
            shapes.add(shape(entry))
        }
        var bytes: [UInt8] = [version]
        Varint.append(UInt64(entries.count), to: &bytes)
        Varint.append(UInt64(entries.first.map { max(0, $0.closedAtMs) } ?? 0), to: &bytes)
        namespaces.write(to: &bytes) { Varint.append($0, to: &$1) }
        addresses.write(to: &bytes) { address, bytes in
            let raw = AddressBytes.encode(address)
            bytes.append(UInt8(raw.count))
            bytes += raw
        }
        owners.write(to: &bytes) { owner, bytes in
            Varint.append(UInt64(max(0, owner.process)), to: &bytes)
            Varint.append(UInt64(UInt32(bitPattern: owner.fd)), to: &bytes)
        }
        cgroups.write(to: &bytes) { path, bytes in
            let utf8 = Array(path.utf8)
            Varint.append(UInt64(utf8.count), to: &bytes)
            bytes += utf8
        }
        shapes.write(to: &bytes) { Varint.append($0, to: &$1) }
        var closedAt = entries.first.map { max(0, $0.closedAtMs) } ?? 0
        var cookie: UInt64 = 0
        for entry in entries {
            Varint.append(ZigZag.encode(entry.closedAtMs - closedAt), to: &bytes)
            closedAt = entry.closedAtMs
            shapes.writeIndex(of: shape(entry), to: &bytes)
            namespaces.writeIndex(of: entry.netns ?? 0, to: &bytes)
            addresses.writeIndex(of: entry.local.address, to: &bytes)
            addresses.writeIndex(of: entry.remote.address, to: &bytes)
            Varint.append(UInt64(entry.local.port), to: &bytes)
            Varint.append(UInt64(entry.remote.port), to: &bytes)
            if let value = entry.cookie {
                // Cookies come from per-CPU batches of one counter: close in value.
                Varint.append(ZigZag.encode(Int64(bitPattern: value &- cookie)), to: &bytes)
                cookie = value
            }
            for owner in entry.owners { owners.writeIndex(of: owner, to: &bytes) }
            cgroups.writeIndex(of: entry.cgroup ?? "", to: &bytes)
            if let totals = entry.totals { bytes += totals.encode() }
        }
        return bytes
    }

    /// Decodes `encode`'s bytes; nil for a damaged block or another version.
    static func decode(_ bytes: [UInt8]) -> [ShortConnection]? {
        var reader = ByteReader(bytes)
        guard reader.byte() == version, let count = reader.varint(), count <= UInt64(bytes.count),
              var closedAt = reader.varint().map({ Int64(bitPattern: $0) }),
              let namespaces = reader.palette({ $0.varint() }),
              let addresses = reader.palette({ reader -> IPAddress? in
                  guard let length = reader.byte(), length == 4 || length == 16, let raw = reader.bytes(Int(length)) else { return nil }
                  return AddressBytes.decode(raw)
              }),
              let owners = reader.palette({ reader -> ShortOwner? in
                  guard let process = reader.varint(), let fd = reader.varint() else { return nil }
                  return ShortOwner(process: Int64(bitPattern: process), fd: Int32(bitPattern: UInt32(truncatingIfNeeded: fd)))
              }),
              let cgroups = reader.palette({ reader -> String? in
                  guard let length = reader.varint(), let raw = reader.bytes(Int(clamping: length)) else { return nil }
                  return String(decoding: raw, as: UTF8.self)
              }),
              let shapes = reader.palette({ $0.varint() })
        else { return nil }
        var entries: [ShortConnection] = []
        entries.reserveCapacity(Int(count))
        var cookie: UInt64 = 0
        for _ in 0..<count {
            guard let delta = reader.varint(), let shape = reader.entry(of: shapes),
                  let netns = reader.entry(of: namespaces),
                  let local = reader.entry(of: addresses), let remote = reader.entry(of: addresses),
                  let localPort = reader.varint(), let remotePort = reader.varint()
            else { return nil }
            closedAt += ZigZag.decode(delta)
            let parts = ShapeParts(shape)
            var entryCookie: UInt64?
            if parts.hasCookie {
                guard let cookieDelta = reader.varint() else { return nil }
                cookie = cookie &+ UInt64(bitPattern: ZigZag.decode(cookieDelta))
                entryCookie = cookie
            }
            var entryOwners: [ShortOwner] = []
            for _ in 0..<parts.ownerCount {
                guard let owner = reader.entry(of: owners) else { return nil }
                entryOwners.append(owner)
            }
            guard let cgroup = reader.entry(of: cgroups) else { return nil }
            var totals: ConnectionTotals?
            if parts.hasTotals {
                guard let decoded = reader.read(ConnectionTotals.read) else { return nil }
                totals = decoded
            }
            let (proto, family) = ConnectionKind.decode(parts.kind)
            entries.append(ShortConnection(
                proto: proto, family: family,
                local: Endpoint(address: local, port: UInt16(truncatingIfNeeded: localPort)),
                remote: Endpoint(address: remote, port: UInt16(truncatingIfNeeded: remotePort)),
                state: parts.state, cookie: entryCookie, netns: netns == 0 ? nil : netns, closedAtMs: closedAt,
                totals: totals, owners: entryOwners, cgroup: cgroup.isEmpty ? nil : cgroup))
        }
        return entries
    }

    /// What an entry's fields look like, as one number: kind (2 bits), state (4),
    /// has totals, has cookie, then the owner count.
    private static func shape(_ entry: ShortConnection) -> UInt64 {
        UInt64(ConnectionKind.encode(entry.proto, entry.family))
            | UInt64(entry.state.rawValue & 15) << 2
            | (entry.totals != nil ? 1 << 6 : 0)
            | (entry.cookie != nil ? 1 << 7 : 0)
            | UInt64(entry.owners.count) << 8
    }

    private struct ShapeParts {
        var kind: Int64
        var state: SocketState
        var hasTotals: Bool
        var hasCookie: Bool
        var ownerCount: Int

        init(_ shape: UInt64) {
            kind = Int64(shape & 3)
            state = SocketState(rawValue: UInt8((shape >> 2) & 15)) ?? .close
            hasTotals = shape & (1 << 6) != 0
            hasCookie = shape & (1 << 7) != 0
            ownerCount = Int(min(shape >> 8, 64))
        }
    }
}

/// Distinct values in first-seen order, written once and referred to by index.
private struct Palette<Value: Hashable> {
    private(set) var values: [Value] = []
    private var indices: [Value: Int] = [:]

    mutating func add(_ value: Value) {
        if indices[value] == nil {
            indices[value] = values.count
            values.append(value)
        }
    }

    func write(to bytes: inout [UInt8], _ writeValue: (Value, inout [UInt8]) -> Void) {
        Varint.append(UInt64(values.count), to: &bytes)
        for value in values { writeValue(value, &bytes) }
    }

    /// The index of `value`; nothing when the palette has one value (it is that one).
    func writeIndex(of value: Value, to bytes: inout [UInt8]) {
        guard values.count > 1 else { return }
        Varint.append(UInt64(indices[value] ?? 0), to: &bytes)
    }
}

/// Signed deltas as small unsigned varints (0, -1, 1, -2, ... to 0, 1, 2, 3, ...).
enum ZigZag {
    static func encode(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
    static func decode(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }
}

/// Reads a packed block front to back; every read is nil past the end.
private struct ByteReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func byte() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= bytes.count - index else { return nil }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    mutating func varint() -> UInt64? { Varint.read(bytes, &index) }

    mutating func palette<Value>(_ readValue: (inout ByteReader) -> Value?) -> [Value]? {
        guard let count = varint(), count <= UInt64(bytes.count) else { return nil }
        var values: [Value] = []
        for _ in 0..<count {
            guard let value = readValue(&self) else { return nil }
            values.append(value)
        }
        return values
    }

    /// An entry's value from `palette` (its index is there only when the palette has
    /// more than one value); an empty palette's is the zero value of the caller.
    mutating func entry<Value>(of palette: [Value]) -> Value? {
        if palette.count == 1 { return palette[0] }
        guard let index = varint(), index < UInt64(palette.count) else { return nil }
        return palette[Int(index)]
    }

    /// A value a codec reads from the bytes at the current position (advancing it).
    mutating func read<Value>(_ readValue: ([UInt8], inout Int) -> Value?) -> Value? {
        readValue(bytes, &index)
    }
}
