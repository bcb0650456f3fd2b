import Foundation

/// Waits until `condition` holds, at most `seconds`, checking every 20 ms; the last
/// check's answer (so a test can `#expect` it).
public func wait(_ seconds: Double, until condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return condition()
}
