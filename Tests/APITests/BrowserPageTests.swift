import Foundation
import Glibc
import TestSupport
import Testing

/// The page at `/` in a real headless browser: Tests/Browser/test_page.py drives
/// Debian's chromium through chromedriver (selenium) against the real `netstatd serve`,
/// inside a private network namespace holding the socket zoo. It runs once; each of its
/// checks is reported here as a test of its own, with its message when it fails.
/// Screenshots land in .build/screenshots/.
@Suite(
    .serialized,
    .enabled(if: TestEnvironment.canUseNamespaces, "needs root, ip, ss and python3 to build a network namespace"),
    .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"),
    .enabled(if: BrowserRun.hasBrowser, "needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver); scripts/install-deps installs them"),
    .enabled(if: BrowserRun.hasSelenium, "needs Python's selenium; scripts/install-deps installs it"))
struct BrowserPageTests {
    @Test("the page in headless Chromium", arguments: [
        "listeners_and_exposure",
        "state_counts_match_the_api",
        "polls_are_conditional_and_update_in_place",
        "window_picker_changes_the_history_request",
        "clicking_the_chart_shows_the_table_then",
        "search_filters_and_is_kept_in_the_url",
        "namespace_picker_narrows_the_page",
        "token_prompt_and_no_history",
        "dark_scheme_and_labels",
    ])
    func check(_ name: String) throws {
        let run = try BrowserRun.shared.get()
        let result = try #require(run.results[name], "test_page.py did not run \(name):\n\(run.output)")
        #expect(result.ok, "\(name): \(result.message)")
    }

    @Test("the browser run is whole")
    func wholeRun() throws {
        let run = try BrowserRun.shared.get()
        #expect(run.status == 0, "test_page.py exited with \(run.status):\n\(run.output)")
        #expect(run.results.count == 9, "test_page.py ran \(run.results.keys.sorted()); the list above must name them all")
        // Not a limit (a busy machine is slower), but worth seeing: about 30 s when idle.
        print("browser tests: \(run.results.count) checks in \(run.seconds) s")
        for (name, result) in run.results.sorted(by: { $0.key < $1.key }) {
            for note in result.notes { print("browser tests: \(name): \(note)") }
        }
    }
}

/// One run of Tests/Browser/test_page.py, shared by the tests above.
struct BrowserRun: Sendable {
    struct Result: Sendable {
        var ok: Bool
        var message: String
        /// What a passing check could not see (a 304 on a machine too busy to share samples).
        var notes: [String]
    }

    var status: Int32
    var seconds: Double
    var results: [String: Result]
    var output: String

    static let hasBrowser = access("/usr/bin/chromium", X_OK) == 0 && access("/usr/bin/chromedriver", X_OK) == 0
    static let hasSelenium = (try? run(["python3", "-c", "import selenium"]))?.status == 0

    /// Runs the script the first time it is asked for (Swift runs a static initializer once).
    static let shared: Swift.Result<BrowserRun, CommandError> = {
        do {
            return .success(try BrowserRun.start())
        } catch let error as CommandError {
            return .failure(error)
        } catch {
            return .failure(CommandError(message: "\(error)"))
        }
    }()

    private static func start() throws -> BrowserRun {
        guard let binary = TestEnvironment.netstatdBinary else { throw CommandError(message: "no built netstatd binary") }
        let namespace = try NetworkNamespace(tag: "page")
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("netstatd-page-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: report) }
        let script = TestEnvironment.packageRoot.appendingPathComponent("Tests/Browser/test_page.py").path
        let screenshots = TestEnvironment.packageRoot.appendingPathComponent(".build/screenshots").path
        let result = try namespace.run(
            ["python3", script, "--binary", binary, "--screenshots", screenshots, "--report", report.path], timeout: 900)
        let output = result.text + result.stderr
        guard let data = try? Data(contentsOf: report),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let items = object["results"] as? [[String: Any]] else {
            throw CommandError(message: "test_page.py wrote no report (exit \(result.status)):\n\(output)")
        }
        var results: [String: Result] = [:]
        for item in items {
            guard let name = item["name"] as? String else { continue }
            results[name] = Result(ok: item["ok"] as? Bool ?? false, message: item["message"] as? String ?? "",
                                   notes: item["notes"] as? [String] ?? [])
        }
        return BrowserRun(status: result.status, seconds: object["seconds"] as? Double ?? 0, results: results, output: output)
    }
}
