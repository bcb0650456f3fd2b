import Glibc

/// Calls `body` again while it fails with EINTR; returns its first other result
/// (negative on failure, with errno as the call left it).
@discardableResult
func retryingEINTR<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result >= 0 || errno != EINTR { return result }
    }
}

/// The text of errno value `code` (`Address already in use`).
func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}
