/// Finds where in a sample's socket array the socket with a given inode is, for
/// attributing the `socket:[inode]` links found by the owner walk.
///
/// An open-addressing table of array positions only: a slot holds a position, and
/// the inode it stands for is read back from the socket array itself. At 50,000
/// sockets that is 512 KiB, where a `[UInt64: Int32]` dictionary (keys, values and
/// its own headroom) took 1.6 MB of a snapshot's peak memory.
///
/// The table does not hold the array (holding it would make the resolver's writes
/// into the array copy all of it): every lookup is given the same array the table
/// was built from, with the same sockets at the same positions (owners may differ).
struct SocketPositions: Sendable {
    /// Positions, or `empty`; a power of two long, at most half full, so probes stay short.
    private var slots: [Int32]
    /// 64 minus log2 of the slot count: the hash's top bits pick the first slot.
    private let shift: UInt64
    private static let empty: Int32 = -1

    /// Indexes every socket of `sockets` that has an inode (TIME_WAIT and request
    /// sockets have none). Where two share an inode the later one is found, as a
    /// dictionary filled in order would keep it.
    init(_ sockets: [Socket]) {
        var bits: UInt64 = 4
        while (1 << bits) < 2 * sockets.count { bits += 1 }
        shift = 64 - bits
        slots = [Int32](repeating: Self.empty, count: 1 << Int(bits))
        let mask = slots.count - 1
        sockets.withUnsafeBufferPointer { sockets in
            slots.withUnsafeMutableBufferPointer { slots in
                for position in sockets.indices where sockets[position].inode != 0 {
                    let inode = sockets[position].inode
                    var slot = Self.firstSlot(inode, shift: shift)
                    while slots[slot] != Self.empty && sockets[Int(slots[slot])].inode != inode {
                        slot = (slot + 1) & mask
                    }
                    slots[slot] = Int32(position)
                }
            }
        }
    }

    /// The position in `sockets` (the array the table was built from) of the socket
    /// with `inode`, or nil when none has it.
    func position(of inode: UInt64, in sockets: [Socket]) -> Int? {
        guard inode != 0 else { return nil }
        let mask = slots.count - 1
        return sockets.withUnsafeBufferPointer { sockets in
            slots.withUnsafeBufferPointer { slots in
                var slot = Self.firstSlot(inode, shift: shift)
                while slots[slot] != Self.empty {
                    let position = Int(slots[slot])
                    if sockets[position].inode == inode { return position }
                    slot = (slot + 1) & mask
                }
                return nil
            }
        }
    }

    /// Fibonacci hashing: inodes are handed out nearly in sequence, so their low bits
    /// alone would cluster; multiplying spreads them over the top bits.
    private static func firstSlot(_ inode: UInt64, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (inode &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }
}
