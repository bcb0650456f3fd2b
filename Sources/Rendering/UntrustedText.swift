/// Text that a process chose (its name in `/proc/<pid>/comm`, a URL a client sent)
/// made safe for where it is written. A process can name itself anything, so a name
/// is never written raw to a terminal, a log line or a spreadsheet.
public enum UntrustedText {
    /// For terminals and log lines: control characters (C0, DEL, C1) written as
    /// `\n`, `\t`, `\r`, `\xNN` and backslash as `\\`, as `ss` and `ps` do, so a name
    /// can neither forge a line nor send an escape sequence to the reader's terminal.
    public static func terminal(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else { out.unicodeScalars.append(scalar); continue }
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\\": out += "\\\\"
            default:
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            }
        }
        return out
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7f || (0x80...0x9f).contains(scalar.value) || scalar == "\\"
    }

    /// One CSV cell: control characters escaped as for terminals (so every record is
    /// one line, for `cut` and `awk` as much as for spreadsheets), a leading `'` on a
    /// cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR
    /// first; OWASP's advice on CSV injection), and RFC 4180 quoting where needed.
    public static func csvCell(_ value: String) -> String {
        var value = terminal(value)
        if let first = value.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) {
            value = "'" + value
        }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        var quoted = "\""
        for character in value {
            if character == "\"" { quoted += "\"\"" } else { quoted.append(character) }
        }
        return quoted + "\""
    }
}
