import API
import CommandLineOptions
import Foundation
import TestSupport
import Testing
@testable import netstatd

/// `serve --config`: every line is checked by the same option definitions as the
/// command line, and a bad line says where it is and what may be written instead.
struct ConfigFileTests {
    static let path = "/etc/netstatd/netstatd.conf"

    func parse(_ text: String) throws -> ParsedOptions {
        try ConfigFile.parse(text, path: Self.path, specs: ServeCommand.configSpecs)
    }

    @Test func readsEveryKindOfValue() throws {
        let parsed = try parse("""
            # netstatd
              listen = 127.0.0.1:9100

            db=/var/lib/netstatd/netstatd.db
            no-history = false
            interval = 2.5
            retention = 7d
            threads = 4
            cors-origin = https://dash.example?x=1
            log-requests = yes
            """)
        #expect(parsed.value("listen") == "127.0.0.1:9100")
        #expect(parsed.value("db") == "/var/lib/netstatd/netstatd.db")
        #expect(parsed.value("interval") == "2.5")
        #expect(parsed.value("retention") == "7d")
        #expect(parsed.value("threads") == "4")
        #expect(parsed.value("cors-origin") == "https://dash.example?x=1", "only the first = separates name and value")
        #expect(parsed.has("log-requests") && !parsed.has("no-history"))
    }

    @Test("flags on the command line win over the file")
    func commandLineWins() throws {
        let file = try parse("interval = 5\nno-history = true\nlog-requests = true\ndb = /var/lib/netstatd/a.db\n")
        let commandLine = try parseOptions(["--interval", "2", "--no-history=false", "--listen=127.0.0.1:0"], specs: ServeCommand.specs)
        let merged = commandLine.overriding(file)
        #expect(merged.value("interval") == "2")
        #expect(!merged.has("no-history"), "--no-history=false turns off what the file turned on")
        #expect(merged.has("log-requests"))
        #expect(merged.value("db") == "/var/lib/netstatd/a.db")
        #expect(merged.value("listen") == "127.0.0.1:0")
    }

    @Test("a bad line is an error naming the file, the line and the accepted names", arguments: [
        ("unknown name", "listen = 127.0.0.1:7878\nintervall = 5\n", 2, "unknown name \"intervall\""),
        ("a name with dashes", "\n--interval = 5\n", 2, "(write names without the dashes)"),
        ("no equals sign", "# comment\nno-history\n", 2, "\"no-history\" is not a setting: expected name = value"),
        ("seconds that are not a number", "interval = fast", 1, "interval = \"fast\": expected seconds from 0.1 to 3600"),
        ("seconds out of range", "interval = 0", 1, "interval = \"0\": expected seconds from 0.1 to 3600"),
        ("a fraction for a whole number", "threads = 2.5", 1, "threads = \"2.5\": expected a whole number from 1 to 64"),
        ("a duration without a unit it knows", "retention = forever", 1, "retention = \"forever\": expected a duration with units"),
        ("a port out of range", "listen = 127.0.0.1:99999", 1, "the port must be a number from 0 to 65535"),
        ("IPv6 without brackets", "listen = ::1:7878", 1, "put an IPv6 address in brackets"),
        ("a flag that is not true or false", "no-history = maybe", 1, "no-history = \"maybe\": expected true or false"),
        ("a missing value", "db =", 1, "db needs a value (PATH)"),
        ("a name set twice", "interval = 5\n\ninterval = 6", 3, "interval is already set on line 1"),
        ("config inside config", "config = /etc/other.conf", 1, "unknown name \"config\""),
    ])
    func badLine(name: String, text: String, line: Int, problem: String) throws {
        do {
            _ = try parse(text)
            Issue.record("\(name): accepted \(text.debugDescription)")
        } catch let error as ConfigError {
            #expect(error.message.hasPrefix("\(Self.path):\(line): "), "\(name): \(error.message)")
            #expect(error.message.contains(problem), "\(name): \(error.message)")
            #expect(error.message.hasSuffix("accepted names: " + ServeCommand.configSpecs.map(\.long).joined(separator: ", ")), "\(name)")
            #expect(!error.message.contains("\n"), "one line")
        }
    }

    @Test func unreadableFileIsNamed() {
        #expect(throws: ConfigError.self) { try ConfigFile.load("/nonexistent/netstatd.conf", specs: ServeCommand.configSpecs) }
        do {
            _ = try ConfigFile.load("/nonexistent/netstatd.conf", specs: ServeCommand.configSpecs)
        } catch {
            #expect("\(error)".hasPrefix("--config /nonexistent/netstatd.conf: cannot read it"))
        }
    }

    @Test("the configuration the package installs is valid")
    func shippedConfiguration() throws {
        let path = TestEnvironment.packageRoot.appendingPathComponent("deploy/debian/netstatd.conf").path
        let parsed = try ConfigFile.load(path, specs: ServeCommand.configSpecs)
        #expect(parsed.value("listen") == "127.0.0.1:7878")
        #expect(parsed.value("db")?.hasPrefix("/var/lib/netstatd/") == true, "the unit's StateDirectory")
    }

    @Test("values on the command line are checked by the same definitions", arguments: [
        (["--threads", "0"], "--threads 0: expected a whole number from 1 to 64"),
        (["--interval=0.01"], "--interval 0.01: expected seconds from 0.1 to 3600"),
        (["--retention", "soon"], "--retention soon: expected a duration with units"),
        (["--listen", "[::1"], "--listen [::1: expected [IPV6]:PORT"),
        (["--log-requests=perhaps"], "--log-requests=perhaps: expected true or false"),
        (["--db="], "--db : expected a path"),
    ])
    func commandLineValues(arguments: [String], message: String) {
        do {
            _ = try parseOptions(arguments, specs: ServeCommand.specs)
            Issue.record("accepted \(arguments)")
        } catch let error as UsageError {
            #expect(error.message.hasPrefix(message), "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }
}

/// `--token-file`: one clear line when it cannot be used, a warning when others can
/// read it, and SIGHUP's re-read.
struct TokenFileTests {
    func temporaryFile(_ text: String, mode: mode_t) throws -> String {
        let directory = try Synthetic.temporaryDirectory("token")
        let path = directory.appendingPathComponent("token").path
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        return path
    }

    @Test func missingFileIsOneClearLine() {
        do {
            _ = try TokenFile(path: "/nonexistent/token").read()
            Issue.record("read a missing file")
        } catch let error as TokenFileError {
            #expect(error.message.hasPrefix("--token-file /nonexistent/token: cannot read it (open(/nonexistent/token) failed: No such file or directory"))
            #expect(!error.message.contains("\n"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func emptyFileIsRefused() throws {
        let path = try temporaryFile(" \n", mode: 0o600)
        #expect(throws: TokenFileError.self) { try TokenFile(path: path).read() }
    }

    @Test("group- or world-readable token files get a warning", arguments: [
        (mode_t(0o600), nil), (mode_t(0o400), nil), (mode_t(0o640), "readable by its group (mode 640)"),
        (mode_t(0o604), "readable by others (mode 604)"), (mode_t(0o644), "readable by others (mode 644)"),
    ])
    func modeWarning(mode: mode_t, warning: String?) throws {
        let path = try temporaryFile("s3cret\n", mode: mode)
        let reading = try TokenFile(path: path).read()
        #expect(reading.token == "s3cret")
        if let warning {
            #expect(reading.warning?.contains(warning) == true, "\(reading.warning ?? "no warning")")
            #expect(reading.warning?.hasSuffix("chmod 600 \(path)") == true)
        } else {
            #expect(reading.warning == nil)
        }
    }

    @Test("SIGHUP's re-read swaps the token, and keeps the old one when the file is gone")
    func reload() throws {
        let path = try temporaryFile("old-token", mode: 0o600)
        let bearer = BearerToken("old-token")
        var lines: [String] = []
        try "new-token\n".write(toFile: path, atomically: false, encoding: .utf8)
        TokenFile(path: path).reload(into: bearer) { lines.append($0) }
        #expect(bearer.current == "new-token")
        #expect(lines.last == "netstatd: SIGHUP: re-read the token from \(path) (a new token is in force)")
        unlink(path)
        TokenFile(path: path).reload(into: bearer) { lines.append($0) }
        #expect(bearer.current == "new-token")
        #expect(lines.last?.hasSuffix("the previous token stays in force") == true)
    }
}
