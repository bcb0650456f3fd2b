/// A small command-line parser: netstat-style short flag clusters (`-tuanp`), long
/// flags (`--json`), long options with a value (`--source procfs`, `--source=procfs`),
/// `--help`. swift-argument-parser was used first; it added about 4 MB to the resident
/// size of every `netstatd snapshot`, more than all of `ss`'s footprint, against an
/// issue goal of staying under twice ss's peak memory, so this replaces it.
public struct OptionSpec: Sendable {
    /// One-letter form, if any.
    public var short: Character?
    /// Long form without the dashes.
    public var long: String
    /// Whether it takes a value (`VALUE` is named in the help).
    public var value: String?
    /// One line of help.
    public var help: String
    /// What its value must be; checked wherever the value comes from (the command
    /// line or a `--config` file), so each option is defined once for both.
    public var kind: OptionKind = .text
    /// Whether it may be given more than once, each value kept (`--export-url`).
    public var repeatable = false

    public init(short: Character? = nil, long: String, value: String? = nil, help: String, kind: OptionKind = .text,
                repeatable: Bool = false) {
        self.short = short
        self.long = long
        self.value = value
        self.help = help
        self.kind = kind
        self.repeatable = repeatable
    }
}

/// The parsed arguments of one subcommand.
public struct ParsedOptions: Sendable {
    public init() {}

    /// Long names of the flags given.
    public var flags: Set<String> = []
    /// Values of the options given, by long name (the last one wins).
    public var values: [String: String] = [:]
    /// Every value of a repeatable option, in the order given.
    public var lists: [String: [String]] = [:]
    /// Every long name given, including flags turned off with `--flag=false`.
    public var mentioned: Set<String> = []

    /// Whether flag `long` was given.
    public func has(_ long: String) -> Bool { flags.contains(long) }

    /// The value of option `long`.
    public func value(_ long: String) -> String? { values[long] }

    /// Every value of repeatable option `long`, in order (empty when not given).
    public func all(_ long: String) -> [String] { lists[long] ?? [] }

    /// An integer option in `range`; a usage error names the option when it is not one.
    public func integer(_ long: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = values[long] else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError("--\(long) \(text): expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// These options with `other`'s underneath: what `self` mentions wins, the rest
    /// comes from `other` (the command line over a `--config` file).
    public func overriding(_ other: ParsedOptions) -> ParsedOptions {
        var merged = other
        for name in mentioned {
            merged.flags.remove(name)
            merged.values[name] = nil
            merged.lists[name] = nil
        }
        merged.flags.formUnion(flags)
        merged.values.merge(values) { _, mine in mine }
        merged.lists.merge(lists) { _, mine in mine }
        merged.mentioned.formUnion(mentioned)
        return merged
    }
}

/// A mistake on the command line; printed with a pointer to --help, exit status 64.
public struct UsageError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Parses `arguments` against `specs`. `-h`/`--help` is a flag every command has.
public func parseOptions(_ arguments: [String], specs: [OptionSpec]) throws -> ParsedOptions {
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
            parsed.mentioned.insert(name)
            if option.value != nil {
                if let inline {
                    parsed.values[name] = inline
                } else {
                    guard index < arguments.count else { throw UsageError("--\(name) needs a value (\(option.value!))") }
                    parsed.values[name] = arguments[index]
                    index += 1
                }
                try option.kind.check(parsed.values[name]!, option: name)
                if option.repeatable { parsed.lists[name, default: []].append(parsed.values[name]!) }
            } else if let inline {
                // `--flag=false` turns off what a --config file turned on.
                guard let on = OptionKind.flagValue(inline) else {
                    throw UsageError("--\(name)=\(inline): expected true or false (or just --\(name))")
                }
                if on { parsed.flags.insert(name) } else { parsed.flags.remove(name) }
            } else {
                parsed.flags.insert(name)
            }
        } else if argument.hasPrefix("-") && argument.count > 1 {
            let letters = Array(argument.dropFirst())
            for (position, letter) in letters.enumerated() {
                guard let option = specs.first(where: { $0.short == letter }) else {
                    throw UsageError("unknown option -\(letter)")
                }
                parsed.mentioned.insert(option.long)
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
                    try option.kind.check(parsed.values[option.long]!, option: option.long)
                    if option.repeatable { parsed.lists[option.long, default: []].append(parsed.values[option.long]!) }
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
public func helpText(usage: String, abstract: String, specs: [OptionSpec], discussion: String = "") -> String {
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
