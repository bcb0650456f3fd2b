/// "Did you mean" for names a user mistyped (counters, mostly).
enum Suggestions {
    /// The `count` names of `known` nearest to `name` (case-insensitive edit distance).
    static func nearest(_ name: String, in known: some Collection<String>, count: Int = 3) -> [String] {
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
