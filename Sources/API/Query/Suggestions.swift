/// "Did you mean" for names a user mistyped (counters, mostly).
enum Suggestions {
    /// The `count` names of `known` nearest to `name` (case-insensitive edit distance).
    /// Suggestions are worked out only for names up to this long: the edit distance
    /// costs length x length per known name, and a 60 KB name cost 0.8 s of CPU.
    static let longestName = 64

    static func nearest(_ name: String, in known: some Collection<String>, count: Int = 3) -> [String] {
        // Too long to be a typo of a known name: offer the first few instead.
        guard name.utf8.count <= longestName else { return Array(known.sorted().prefix(count)) }
        let target = name.lowercased()
        return Array(known.map { ($0, editDistance($0.lowercased(), target)) }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
            .prefix(count).map(\.0))
    }

    /// Levenshtein distance.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...b.count {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
