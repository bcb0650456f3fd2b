/// Decodes the kernel's `struct tcp_info` by field offset. The struct only ever grows at
/// its end, so a shorter attribute from an older kernel simply lacks the newer fields,
/// which become nil (offsets from include/uapi/linux/tcp.h, checked with offsetof).
enum TCPInfoDecoder {
    /// The tcp_info in an INET_DIAG_INFO attribute, or nil when it is too short to hold
    /// even the fields every kernel since 2.6 sends.
    static func decode(_ raw: UnsafeRawBufferPointer) -> TCPInfo? {
        guard raw.count >= 104 else { return nil }
        func u32(_ offset: Int) -> UInt32 { raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
        func u32IfPresent(_ offset: Int) -> UInt32? { raw.count >= offset + 4 ? u32(offset) : nil }
        func u64IfPresent(_ offset: Int) -> UInt64? {
            raw.count >= offset + 8 ? raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self) : nil
        }
        return TCPInfo(
            rttUs: u32(68), rttVarUs: u32(72), minRttUs: u32IfPresent(148), rtoUs: u32(8),
            sendCwnd: u32(80), sendSsthresh: u32(76), sendMss: u32(16), recvMss: u32(20),
            unacked: u32(24), lost: u32(32), retransCurrent: u32(36), totalRetrans: u32(100),
            bytesAcked: u64IfPresent(120), bytesReceived: u64IfPresent(128),
            bytesSent: u64IfPresent(200), bytesRetrans: u64IfPresent(208),
            segsOut: u32IfPresent(136), segsIn: u32IfPresent(140),
            lastSendMs: u32(44), lastRecvMs: u32(52),
            pacingRate: u64IfPresent(104), deliveryRate: u64IfPresent(160),
            notsentBytes: u32IfPresent(144))
    }
}
