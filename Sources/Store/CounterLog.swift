/// The packed form of a sample's counters: a flag byte (1 = keyframe with every
/// counter, 0 = only those that changed since the previous sample), then
/// (name id delta, zigzag value) varint pairs sorted by name id.
enum CounterLog {
    /// A full set is written this often, so reading a window replays at most this many rows.
    static let keyframeEvery = 120

    static func encode(_ values: [(id: Int64, value: Int64)], keyframe: Bool) -> [UInt8] {
        var bytes: [UInt8] = [keyframe ? 1 : 0]
        var previous: Int64 = 0
        for entry in values.sorted(by: { $0.id < $1.id }) {
            Varint.append(UInt64(entry.id - previous), to: &bytes)
            Varint.append(UInt64(bitPattern: (entry.value << 1) ^ (entry.value >> 63)), to: &bytes)
            previous = entry.id
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> (keyframe: Bool, values: [(id: Int64, value: Int64)]) {
        guard let flag = bytes.first else { return (false, []) }
        var values: [(Int64, Int64)] = []
        var index = 1
        var id: Int64 = 0
        while index < bytes.count {
            guard let delta = Varint.read(bytes, &index), let zigzag = Varint.read(bytes, &index) else { break }
            id += Int64(delta)
            values.append((id, Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)))
        }
        return (flag == 1, values)
    }
}

/// A counter's rate over one bucket of a series.
public struct CounterPoint: Sendable {
    /// Bucket start.
    public var at: Double
    /// The counter's value at the end of the bucket (its 64 bits, see `CounterValue`).
    public var value: UInt64
    /// Increase per second over the bucket (`CounterIncrease`'s rule for resets).
    public var rate: Double?
    /// Resets seen in the bucket.
    public var resets: Int
}

/// The ids of the connections open at a sample, as sorted varint deltas.
enum PresentSet {
    /// A keyframe this often (an hour at a 5 s interval): a replay covers at most this many samples.
    static let keyframeEvery = 720

    static func encode(_ ids: [Int64]) -> [UInt8] {
        var bytes: [UInt8] = []
        var previous: Int64 = 0
        for id in ids.sorted() {
            Varint.append(UInt64(id - previous), to: &bytes)
            previous = id
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> [Int64] {
        var ids: [Int64] = []
        var index = 0
        var id: Int64 = 0
        while index < bytes.count, let delta = Varint.read(bytes, &index) {
            id += Int64(delta)
            ids.append(id)
        }
        return ids
    }
}
