import Testing
@testable import Sampling

/// The owner walk's inode -> position table, and the sizes a large snapshot's peak
/// memory is made of.
struct SocketPositionsTests {
    private func socket(inode: UInt64) -> Socket {
        let any = Endpoint(address: .any(.ipv4), port: 0)
        return Socket(proto: .tcp, family: .ipv4, state: .established, local: any, remote: any,
                      recvQ: 0, sendQ: 0, uid: 0, inode: inode)
    }

    @Test func findsEveryInodeAndNothingElse() {
        // Consecutive inodes (as the kernel hands them out), gaps, and TIME_WAIT's 0.
        let inodes: [UInt64] = Array(1000..<6000) + [0, 0, 1 << 40, 7, 123_456_789] + stride(from: 10_000, to: 90_000, by: 16)
        let sockets = inodes.map { socket(inode: $0) }
        let positions = SocketPositions(sockets)
        for (position, inode) in inodes.enumerated() where inode != 0 {
            #expect(positions.position(of: inode, in: sockets) == position)
        }
        for absent: UInt64 in [0, 1, 999, 6000, 10_001, 1 << 41] {
            #expect(positions.position(of: absent, in: sockets) == nil)
        }
    }

    @Test func laterDuplicateWinsAndEmptyArrayFindsNothing() {
        let sockets = [socket(inode: 5), socket(inode: 9), socket(inode: 5)]
        #expect(SocketPositions(sockets).position(of: 5, in: sockets) == 2)
        #expect(SocketPositions([]).position(of: 5, in: []) == nil)
    }

    @Test func socketAndOwnerStayPacked() {
        // Field order packs these (see Socket and SocketOwner); a new field that
        // undoes it shows here rather than as a larger snapshot.
        #expect(MemoryLayout<Socket>.stride <= 144)
        #expect(MemoryLayout<SocketOwner>.stride <= 40)
    }
}
