internal import CZlib

/// gzip (RFC 1952) for response bodies, through zlib. libmicrohttpd does not compress,
/// and a 10,000-socket JSON list shrinks about tenfold, which matters to a dashboard
/// polling over a slow link (`curl --compressed` asks for it).
enum Gzip {
    /// Bodies smaller than this go uncompressed: the header costs more than it saves.
    static let minimumSize = 1024

    /// `body` compressed at zlib's fastest level, or nil if zlib fails.
    static func compress(_ body: [UInt8]) -> [UInt8]? {
        var stream = z_stream()
        guard netstatd_deflate_init_gzip(&stream, 1) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(body.count))) + 32)
        let status: Int32 = body.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(out.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return nil }
        output.removeLast(output.count - Int(stream.total_out))
        return output
    }

    /// Whether an Accept-Encoding header allows gzip (and does not refuse it with q=0).
    static func accepted(by header: String?) -> Bool {
        guard let header = header?.lowercased() else { return false }
        for part in header.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: " \t") }
            guard let coding = fields.first, coding == "gzip" || coding == "*" else { continue }
            if fields.dropFirst().contains(where: { $0.replacingOccurrences(of: " ", with: "") == "q=0" }) { return false }
            return true
        }
        return false
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
