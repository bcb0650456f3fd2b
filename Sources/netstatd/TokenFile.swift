import API
import CommandLineOptions
import Glibc

/// `--token-file PATH`: the bearer token, read at start and again on SIGHUP so
/// tokens rotate without a restart. The token is the file's text without the
/// surrounding whitespace.
struct TokenFile {
    /// Where the token is.
    let path: String

    /// A token and, when the file's mode lets group or others read it, a warning.
    struct Reading {
        /// The token, without surrounding whitespace.
        var token: String
        /// Said once per reading when group or others can read the file.
        var warning: String?
    }

    /// Reads the token. A missing, unreadable or empty file throws one line saying so.
    func read() throws -> Reading {
        let text: String
        do {
            text = try readText(path)
        } catch {
            throw TokenFileError(message: "--token-file \(path): cannot read it (\(error)); put the bearer token on one line in that file, readable only by netstatd's user (chmod 600)")
        }
        let token = text.trimmingWhitespace()
        guard !token.isEmpty else {
            throw TokenFileError(message: "--token-file \(path): the file is empty; put the bearer token on one line in it")
        }
        return Reading(token: token, warning: Self.warning(path: path))
    }

    /// A warning when group or others can read the file at `path`, nil otherwise.
    static func warning(path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let mode = info.st_mode & 0o777
        guard mode & 0o044 != 0 else { return nil }
        return "--token-file \(path) is readable by \(mode & 0o004 != 0 ? "others" : "its group") (mode \(String(mode, radix: 8))): anyone who can read it can use the API; chmod 600 \(path)"
    }

    /// Re-reads the file into `bearer` (SIGHUP) and logs what happened. On failure the
    /// previous token stays in force.
    func reload(into bearer: BearerToken, log: (String) -> Void) {
        do {
            let reading = try read()
            let changed = bearer.current != reading.token
            bearer.replace(with: reading.token)
            log("netstatd: SIGHUP: re-read the token from \(path) (\(changed ? "a new token is in force" : "unchanged"))")
            if let warning = reading.warning { log("netstatd: warning: \(warning)") }
        } catch {
            log("netstatd: SIGHUP: \(error); the previous token stays in force")
        }
    }
}

/// A token file that cannot be used at start; printed as one line, exit status 1.
struct TokenFileError: Error, CustomStringConvertible {
    /// What is wrong and what to do.
    var message: String
    var description: String { message }
}
