import Foundation
import TestSupport
import Testing

/// The Debian package, built, installed, checked and removed by scripts/test-package.
/// Opt-in: it needs a release build (3-5 minutes on 2 cores) and installs a package
/// and a system user, so it runs only with NETSTATD_TEST_PACKAGE=1 (and as root).
@Suite(
    .enabled(if: ProcessInfo.processInfo.environment["NETSTATD_TEST_PACKAGE"] == "1",
             "opt-in: NETSTATD_TEST_PACKAGE=1 (or scripts/test-package) builds a release .deb and installs it"),
    .enabled(if: TestEnvironment.isRoot, "needs root to install the package"),
    .enabled(if: TestEnvironment.hasTool("dpkg-deb"), "needs dpkg-deb"))
struct PackageTests {
    @Test func packageInstallsAndRuns() throws {
        let script = TestEnvironment.packageRoot.appendingPathComponent("scripts/test-package").path
        var arguments = [script]
        if ProcessInfo.processInfo.environment["NETSTATD_PACKAGE_SKIP_BUILD"] == "1" { arguments.append("--skip-build") }
        let result = try run(arguments, timeout: 1200)
        print(result.text + result.stderr)
        #expect(result.status == 0, "\(result.text)\(result.stderr)")
    }
}
