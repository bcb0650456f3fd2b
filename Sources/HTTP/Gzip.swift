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

    /// Whether an Accept-Encoding header (RFC 9110 §12.5.3) allows gzip: `gzip` (or
    /// `x-gzip`) with a q-value above 0, or, when gzip is not named, `*` above 0. A
    /// q-value that is not a number from 0 to 1 refuses, since the body can always go
    /// uncompressed.
    static func accepted(by header: String?) -> Bool {
        guard let header else { return false }
        var gzip: Double?
        var any: Double?
        for element in header.lowercased().split(separator: ",") {
            let parameters = element.split(separator: ";")
            guard let coding = parameters.first?.trimmed else { continue }
            var weight = 1.0
            for parameter in parameters.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                guard pair.first?.trimmed == "q" else { continue }
                weight = pair.count == 2 ? qValue(pair[1].trimmed) : 0
            }
            switch coding {
            case "gzip", "x-gzip": gzip = max(gzip ?? 0, weight)
            case "*": any = weight
            default: break
            }
        }
        return (gzip ?? any ?? 0) > 0
    }

    /// A q-value (RFC 9110 §12.4.2: `0`, `0.5`, `1.000`), or 0 if `text` is not one.
    private static func qValue(_ text: Substring) -> Double {
        guard let first = text.first, first == "0" || first == "1", let value = Double(text), (0...1).contains(value) else { return 0 }
        return value
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmed: Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isBlank($0) }), let end = lastIndex(where: { !isBlank($0) }) else { return "" }
        return self[start...end]
    }
}
