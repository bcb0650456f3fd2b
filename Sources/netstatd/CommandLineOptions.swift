/// A small command-line parser: netstat-style short flag clusters (`-tuanp`), long
/// flags (`--json`), long options with a value (`--source procfs`, `--source=procfs`),
/// `--help`. swift-argument-parser was used first; it added about 4 MB to the resident
/// size of every `netstatd snapshot`, more than all of `ss`'s footprint, against an
/// issue goal of staying under twice ss's peak memory, so this replaces it.
struct OptionSpec {
    /// One-letter form, if any.
    var short: Character?
    /// Long form without the dashes.
    var long: String
    /// Whether it takes a value (`VALUE` is named in the help).
    var value: String?
    /// One line of help.
    var help: String
}

/// The parsed arguments of one subcommand.
struct ParsedOptions {
    /// Long names of the flags given.
    var flags: Set<String> = []
    /// Values of the options given, by long name (the last one wins).
    var values: [String: String] = [:]

    /// Whether flag `long` was given.
    func has(_ long: String) -> Bool { flags.contains(long) }

    /// The value of option `long`.
    func value(_ long: String) -> String? { values[long] }

    /// An integer option in `range`; a usage error names the option when it is not one.
    func integer(_ long: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = values[long] else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError("--\(long) \(text): expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

/// A mistake on the command line; printed with a pointer to --help, exit status 64.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Parses `arguments` against `specs`. `-h`/`--help` is a flag every command has.
func parseOptions(_ arguments: [String], specs: [OptionSpec]) throws -> ParsedOptions {
    var parsed = ParsedOptions()
    var index = 0
    func spec(long: String) -> OptionSpec? { specs.first { $0.long == long } }
    while index < arguments.count {
        let argument = arguments[index]
        index += 1
        if argument == "-h" || argument == "--help" {
            parsed.flags.insert("help")
        } else if argument.hasPrefix("--") {
            var name = String(argument.dropFirst(2))
            var inline: String?
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let option = spec(long: name) else {
                throw UsageError("unknown option --\(name)")
            }
            if option.value != nil {
                if let inline {
                    parsed.values[name] = inline
                } else {
                    guard index < arguments.count else { throw UsageError("--\(name) needs a value (\(option.value!))") }
                    parsed.values[name] = arguments[index]
                    index += 1
                }
            } else {
                guard inline == nil else { throw UsageError("--\(name) takes no value") }
                parsed.flags.insert(name)
            }
        } else if argument.hasPrefix("-") && argument.count > 1 {
            let letters = Array(argument.dropFirst())
            for (position, letter) in letters.enumerated() {
                guard let option = specs.first(where: { $0.short == letter }) else {
                    throw UsageError("unknown option -\(letter)")
                }
                if option.value != nil {
                    // `-xVALUE` or `-x VALUE`, only as the last letter of a cluster.
                    let rest = String(letters[(position + 1)...])
                    if !rest.isEmpty {
                        parsed.values[option.long] = rest
                    } else {
                        guard index < arguments.count else { throw UsageError("-\(letter) needs a value (\(option.value!))") }
                        parsed.values[option.long] = arguments[index]
                        index += 1
                    }
                    break
                }
                parsed.flags.insert(option.long)
            }
        } else {
            throw UsageError("unexpected argument \(argument.debugDescription)")
        }
    }
    return parsed
}

/// The help text for a command: usage line, abstract, options, discussion.
func helpText(usage: String, abstract: String, specs: [OptionSpec], discussion: String = "") -> String {
    var lines = ["usage: \(usage)", "", abstract, "", "options:"]
    for option in specs {
        var left = "  "
        left += option.short.map { "-\($0), " } ?? "    "
        left += "--\(option.long)"
        if let value = option.value { left += " \(value)" }
        let pad = max(1, 30 - left.count)
        lines.append(left + String(repeating: " ", count: pad) + option.help)
    }
    lines.append("  -h, --help" + String(repeating: " ", count: 20) + "Show this help.")
    if !discussion.isEmpty { lines += ["", discussion] }
    return lines.joined(separator: "\n")
}
