import CommandLineOptions

/// `serve --config PATH`: the same options as the command line, one `name = value`
/// per line, names as the long flags without `--` (`listen = 127.0.0.1:7878`,
/// `no-history = true`). Lines starting with `#` and blank lines are skipped. A
/// repeatable option (`export-url`) takes one line per value. Each
/// line goes through `parseOptions` as `--name=value`, so a value is checked by the
/// one definition of its option; a bad line stops the start with the file, the line
/// and the accepted names. Flags on the command line win over the file.
enum ConfigFile {
    /// Reads and parses the file at `path` against `specs`.
    static func load(_ path: String, specs: [OptionSpec]) throws -> ParsedOptions {
        let text: String
        do {
            text = try readText(path)
        } catch {
            throw ConfigError(message: "--config \(path): cannot read it: \(error)")
        }
        return try parse(text, path: path, specs: specs)
    }

    /// Parses config `text` (read from `path`, named in errors) against `specs`.
    static func parse(_ text: String, path: String, specs: [OptionSpec]) throws -> ParsedOptions {
        var result = ParsedOptions()
        var firstLine: [String: Int] = [:]
        let accepted = "accepted names: " + specs.map(\.long).joined(separator: ", ")
        func failure(_ line: Int, _ problem: String) -> ConfigError {
            ConfigError(message: "\(path):\(line): \(problem); \(accepted)")
        }
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = String(raw).trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw failure(number, "\(line.debugDescription) is not a setting: expected name = value")
            }
            let name = String(line[..<equals]).trimmingWhitespace()
            let value = String(line[line.index(after: equals)...]).trimmingWhitespace()
            guard let spec = specs.first(where: { $0.long == name }) else {
                let hint = name.hasPrefix("-") ? " (write names without the dashes)" : ""
                throw failure(number, "unknown name \(name.debugDescription)\(hint)")
            }
            if let first = firstLine[name], !spec.repeatable {
                throw failure(number, "\(name) is already set on line \(first)")
            }
            firstLine[name] = number
            if spec.value == nil {
                guard OptionKind.flagValue(value) != nil else {
                    throw failure(number, "\(name) = \(value.debugDescription): expected true or false")
                }
            } else if value.isEmpty {
                throw failure(number, "\(name) needs a value (\(spec.value!))")
            } else if let problem = spec.kind.problem(with: value) {
                throw failure(number, "\(name) = \(spec.kind.shown(value).debugDescription): \(problem)")
            }
            do {
                var line = try parseOptions(["--\(name)=\(value)"], specs: specs)
                // A repeatable option's lines add up (one `export-url` line per receiver).
                if spec.repeatable { line.lists[name] = result.all(name) + line.all(name) }
                result = line.overriding(result)
            } catch let error as UsageError {
                throw failure(number, error.message)
            }
        }
        return result
    }
}

/// A `--config` file that cannot be used; printed as one line, exit status 78 (EX_CONFIG).
struct ConfigError: Error, CustomStringConvertible {
    /// The file, the line, what is wrong, and the names a line may set.
    var message: String
    var description: String { message }
}
