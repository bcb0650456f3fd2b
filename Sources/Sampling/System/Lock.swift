import Glibc

/// A mutex over pthread_mutex_t. Foundation's NSLock would do, but linking Foundation
/// into the binary costs every `netstatd snapshot` several MB of resident memory.
public final class Lock: @unchecked Sendable {
    // @unchecked: the mutex itself is what makes the shared use safe.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    /// An unlocked mutex.
    public init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` holding the lock.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
