import Rendering
import Testing

/// Times and durations as people type them, and as netstatd writes them.
struct TimeTextTests {
    static let acceptedCases: [(String, Double)] = [
        ("2026-11-22T02:00:00Z", 1_795_312_800.0), ("2026-11-22t02:00:00z", 1_795_312_800.0),
        ("2026-11-22 02:00:00", 1_795_312_800.0), ("2026-11-22", 1_795_305_600.0),
        ("2026-11-22T03:00:00+01:00", 1_795_312_800.0), ("2026-11-22T02:00:00.250Z", 1_795_312_800.25),
        ("1795312800", 1_795_312_800.0), ("1795312800.5", 1_795_312_800.5), ("now", 2_000_000_000.0),
        ("-15m", 2_000_000_000.0 - 900), ("-1h45m", 2_000_000_000.0 - 6300), ("-1d12h", 2_000_000_000.0 - 129_600),
        ("2024-02-29T00:00:00Z", 1_709_164_800.0), ("1970-01-01T00:00:00Z", 0.0),
    ]

    @Test("accepted forms", arguments: acceptedCases)
    func accepted(text: String, seconds: Double) {
        #expect(TimeText.parse(text, now: 2_000_000_000) == seconds)
    }

    @Test("refused forms", arguments: [
        "", "-", "inf", "-infs", "nan", "1e9", "0x10", "-0x1p1000s", "+5", "5.", ".5", "1..2",
        "99999999999999999999", "2026-02-29", "2026-13-01", "2026-11-31", "2026-11-22T24:00:00Z",
        "2026-11-22T02:00:00+25:00", "10000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "-5", "-5x", "-1h-5m", "tomorrow",
    ])
    func refused(text: String) {
        #expect(TimeText.parse(text, now: 2_000_000_000) == nil)
    }

    @Test("durations need units", arguments: [("90s", 90.0), ("5m", 300.0), ("1h45m", 6300.0), ("2w", 1_209_600.0), ("1.5h", 5400.0)])
    func durations(text: String, seconds: Double) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test("durations refused", arguments: ["7", "", "h", "5x", "-5m", "1e3s", "inf", "nanm"])
    func durationsRefused(text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    @Test("timestamps round-trip through the parser at millisecond precision")
    func roundTrip() {
        for seconds in [0.0, 1.001, 1_795_312_800.123, 1_795_312_800.999, 253_402_300_799.999] {
            let text = Timestamp.rfc3339(seconds)
            #expect(TimeText.parse(text, now: 0) == (seconds * 1000).rounded() / 1000, "\(text)")
        }
    }
}

/// Untrusted text on its way to terminals, logs and spreadsheets.
struct UntrustedTextTests {
    @Test("control characters are escaped for terminals", arguments: [
        ("nginx", "nginx"), ("a\nb", "a\\nb"), ("\u{1b}[2J", "\\x1b[2J"), ("tab\there", "tab\\there"),
        ("back\\slash", "back\\\\slash"), ("\u{7f}", "\\x7f"), ("\u{85}", "\\x85"), ("caf\u{e9}", "caf\u{e9}"),
    ])
    func terminal(input: String, output: String) {
        #expect(UntrustedText.terminal(input) == output)
    }

    @Test("CSV cells cannot start a formula", arguments: [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"), ("+cmd|calc", "'+cmd|calc"), ("-1", "'-1"), ("@SUM(1)", "'@SUM(1)"),
        ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""), ("x\ny", "x\\ny"), ("plain", "plain"),
    ])
    func csv(input: String, output: String) {
        #expect(UntrustedText.csvCell(input) == output)
    }
}
