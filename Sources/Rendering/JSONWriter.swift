public import Sampling

/// Writes JSON straight into a byte buffer. Foundation's JSONEncoder builds an object
/// tree and costs several times more at 200,000 sockets; the hot shapes are written
/// here by hand instead, and the writer keeps the punctuation right.
public struct JSONWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    /// Whether the next value in the current container needs a comma before it.
    private var needsComma = false

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 4096) {
        bytes.reserveCapacity(capacity)
    }

    /// Hands back the bytes written so far and empties the buffer, keeping its
    /// position inside containers (for streaming a long list in pieces).
    public mutating func drain() -> [UInt8] {
        let out = bytes
        bytes.removeAll(keepingCapacity: true)
        return out
    }

    /// Lends `body` the bytes written so far, then empties the buffer in place,
    /// keeping its position inside containers. Unlike `drain`, nothing is copied and
    /// the buffer is reused: a streamed 200,000-socket list costs one buffer, not a
    /// fresh one (and its page faults) per piece.
    public mutating func flush(_ body: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes(body)
        bytes.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
    }

    /// Opens an object as a value.
    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// Closes the innermost object.
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Opens an array as a value.
    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    /// Closes the innermost array.
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes an object key; the next call writes its value. Keys are trusted ASCII.
    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        // Two appends, not an array literal: this runs ~20 times per socket.
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes an object key from a runtime string (escaped).
    public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes a string value, escaped per RFC 8259.
    public mutating func string(_ value: String) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            // Most strings (names, addresses, states) need no escaping: copy them whole.
            if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                bytes.append(contentsOf: utf8)
                return
            }
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
                case 0x0a: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
                case 0x0d: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
                case 0..<0x20:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes an unsigned integer.
    public mutating func number<T: UnsignedInteger & FixedWidthInteger>(_ value: T) {
        separate()
        appendDigits(UInt64(value))
    }

    /// Writes a signed integer.
    public mutating func number<T: SignedInteger & FixedWidthInteger>(_ value: T) {
        separate()
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendDigits(UInt64(value.magnitude))
        } else {
            appendDigits(UInt64(value))
        }
    }

    /// Writes a floating-point number (non-finite values become null, which JSON lacks).
    public mutating func number(_ value: Double) {
        separate()
        guard value.isFinite else {
            literal("null")
            return
        }
        if value == value.rounded(), abs(value) < 1e15 {
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            appendDigits(UInt64(abs(value)))
        } else {
            bytes.append(contentsOf: Array(value.description.utf8))
        }
    }

    /// Writes `true` or `false`.
    public mutating func bool(_ value: Bool) {
        separate()
        literal(value ? "true" : "false")
    }

    /// Writes `null`.
    public mutating func null() {
        separate()
        literal("null")
    }

    /// Ends a document with a newline, outside any value (no comma).
    public mutating func newline() {
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Appends `text` as it is, without building an array for it.
    @inline(__always)
    private mutating func literal(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Writes an IP address as a JSON string without building a String for IPv4.
    public mutating func address(_ address: IPAddress) {
        guard address.family == .ipv4 else {
            string(address.description)
            return
        }
        separate()
        bytes.append(UInt8(ascii: "\""))
        let v = address.ipv4Value
        appendDigits(UInt64(v >> 24)); bytes.append(UInt8(ascii: "."))
        appendDigits(UInt64((v >> 16) & 0xff)); bytes.append(UInt8(ascii: "."))
        appendDigits(UInt64((v >> 8) & 0xff)); bytes.append(UInt8(ascii: "."))
        appendDigits(UInt64(v & 0xff))
        bytes.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    private mutating func appendDigits(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(truncatingIfNeeded: value) + 48)
            return
        }
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
        var v = value
        var count = 0
        withUnsafeMutableBytes(of: &scratch) { buf in
            while v > 0 {
                count += 1
                buf[24 - count] = UInt8(truncatingIfNeeded: v % 10) + 48
                v /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[(24 - count)...]))
        }
    }
}
