import CommandLineOptions
import Foundation
import HTTP
import Testing
@testable import netstatd

/// `serve --export-url`: repeatable on the command line and in a `--config` file,
/// checked before anything starts, its password never printed.
struct ExportOptionTests {
    static let clickhouse = "http://default:s3cret@ch:8123/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow&date_time_input_format=best_effort"

    @Test func repeatableOnTheCommandLine() throws {
        let parsed = try parseOptions(["--export-url", Self.clickhouse, "--export-url=http://10.0.0.9:9000/ingest"], specs: ServeCommand.specs)
        #expect(parsed.all("export-url") == [Self.clickhouse, "http://10.0.0.9:9000/ingest"])
        let urls = try ExportWiring.urls(parsed)
        #expect(urls.map(\.redacted) == [
            "http://default:***@ch:8123/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow&date_time_input_format=best_effort",
            "http://10.0.0.9:9000/ingest",
        ])
    }

    @Test("one line per receiver in the config file; the command line's replace the file's")
    func repeatableInTheConfigFile() throws {
        let file = try ConfigFile.parse("export-url = \(Self.clickhouse)\ninterval = 5\nexport-url = http://sink:8080/\n",
                                        path: "/etc/netstatd/netstatd.conf", specs: ServeCommand.configSpecs)
        #expect(file.all("export-url") == [Self.clickhouse, "http://sink:8080/"])
        #expect(try parseOptions([], specs: ServeCommand.specs).overriding(file).all("export-url").count == 2)
        let commandLine = try parseOptions(["--export-url", "http://other:8123/"], specs: ServeCommand.specs)
        #expect(commandLine.overriding(file).all("export-url") == ["http://other:8123/"])
    }

    @Test("https and other schemes are refused at start, the password hidden", arguments: [
        "https://default:s3cret@ch:8443/?query=INSERT",
        "clickhouse://default:s3cret@ch:9000/",
    ])
    func refusedWithoutThePassword(url: String) {
        do {
            _ = try parseOptions(["--export-url", url], specs: ServeCommand.specs)
            Issue.record("accepted \(url)")
        } catch {
            #expect("\(error)".hasPrefix("--export-url "), "\(error)")
            #expect(!"\(error)".contains("s3cret"), "\(error)")
            #expect(url.hasPrefix("https") ? "\(error)".contains("TLS proxy") : "\(error)".contains("expected an http:// URL"), "\(error)")
        }
        do {
            _ = try ConfigFile.parse("export-url = \(url)\n", path: "/etc/netstatd/netstatd.conf", specs: ServeCommand.configSpecs)
            Issue.record("accepted \(url)")
        } catch {
            #expect("\(error)".hasPrefix("/etc/netstatd/netstatd.conf:1: export-url = "), "\(error)")
            #expect(!"\(error)".contains("s3cret"), "\(error)")
        }
    }

    @Test func needsHistoryAndDistinctReceivers() throws {
        let noHistory = try parseOptions(["--export-url", "http://ch:8123/", "--no-history"], specs: ServeCommand.specs)
        #expect(throws: UsageError.self) { try ExportWiring.urls(noHistory) }
        let twice = try parseOptions(["--export-url", "http://u:a@ch:8123/", "--export-url", "http://u:b@ch:8123/"], specs: ServeCommand.specs)
        do {
            _ = try ExportWiring.urls(twice)
            Issue.record("accepted the same receiver twice")
        } catch {
            #expect("\(error)".contains("given twice") && !"\(error)".contains("u:a"), "\(error)")
        }
    }
}
