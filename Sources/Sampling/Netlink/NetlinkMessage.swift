import Glibc
internal import CNetlink

/// The netlink wire format: message headers and attributes, apart from socket I/O
/// (include/uapi/linux/netlink.h). All multi-byte fields are host order.
enum NetlinkMessage {
    /// NLMSG_ALIGNTO: messages and attributes are padded to 4 bytes.
    static let alignment = 4
    /// sizeof(struct nlmsghdr).
    static let headerSize = 16
    /// sizeof(struct nlattr).
    static let attributeHeaderSize = 4

    /// Rounds `length` up to netlink's 4-byte alignment (NLMSG_ALIGN / NLA_ALIGN).
    @inline(__always)
    static func aligned(_ length: Int) -> Int { (length + alignment - 1) & ~(alignment - 1) }

    /// A parsed `struct nlmsghdr` and where its payload lies in the buffer.
    struct Header {
        var length: Int
        var type: UInt16
        var flags: UInt16
        var sequence: UInt32
        var portID: UInt32
    }

    /// Appends a message header for a payload of `payloadLength` bytes.
    static func appendHeader(
        to bytes: inout [UInt8], payloadLength: Int, type: UInt16, flags: UInt16, sequence: UInt32
    ) {
        append(UInt32(headerSize + payloadLength), to: &bytes)
        append(type, to: &bytes)
        append(flags, to: &bytes)
        append(sequence, to: &bytes)
        append(UInt32(0), to: &bytes)  // port id 0: the kernel
    }

    /// Appends `value` in host byte order.
    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    /// Calls `body` for each message in a datagram of `length` bytes, with the header
    /// and the payload. Stops at a truncated message rather than reading past the end.
    static func forEachMessage(
        in buffer: UnsafeRawBufferPointer,
        _ body: (Header, UnsafeRawBufferPointer) throws -> Bool
    ) rethrows {
        var offset = 0
        while offset + headerSize <= buffer.count {
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard length >= headerSize, offset + length <= buffer.count else { return }
            let header = Header(
                length: length,
                type: buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
                flags: buffer.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
                sequence: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
                portID: buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let payload = UnsafeRawBufferPointer(
                rebasing: buffer[(offset + headerSize)..<(offset + length)])
            if try !body(header, payload) { return }
            offset += aligned(length)
        }
    }

    /// Calls `body` with each attribute's type and value in `buffer` (a run of nlattr).
    static func forEachAttribute(
        in buffer: UnsafeRawBufferPointer, _ body: (UInt16, UnsafeRawBufferPointer) -> Void
    ) {
        var offset = 0
        while offset + attributeHeaderSize <= buffer.count {
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            // NLA_TYPE_MASK strips the nested / byte-order flag bits.
            let type = buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3fff
            guard length >= attributeHeaderSize, offset + length <= buffer.count else { return }
            body(type, UnsafeRawBufferPointer(
                rebasing: buffer[(offset + attributeHeaderSize)..<(offset + length)]))
            offset += aligned(length)
        }
    }

    /// NLMSG_DONE, NLMSG_ERROR and the flags a dump request carries.
    enum Constants {
        static let done = UInt16(NLMSG_DONE)
        static let error = UInt16(NLMSG_ERROR)
        static let requestDump = UInt16(NLM_F_REQUEST) | UInt16(NLM_F_DUMP)
        /// Set by the kernel on a dump reply when the table changed while it was being
        /// dumped (include/uapi/linux/netlink.h): the dump may be inconsistent.
        static let dumpInterrupted = UInt16(NLM_F_DUMP_INTR)
    }
}

/// A netlink failure, carrying the operation, errno and the request's sequence number.
public struct NetlinkError: Error, CustomStringConvertible, Sendable {
    /// What was being done (`socket`, `sendto`, `recvmsg`, `dump tcp/ipv6`).
    public let operation: String
    /// The errno (from the call or from the kernel's NLMSG_ERROR reply).
    public let errno: Int32
    /// The sequence number of the request, 0 before one was sent.
    public let sequence: UInt32

    public var description: String {
        "netlink \(operation) (seq \(sequence)) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}
