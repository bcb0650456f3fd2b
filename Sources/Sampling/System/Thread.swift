import Glibc

/// The body of a thread started by `startThread`, carried through pthread's context.
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// A started thread, to be joined once.
public struct JoinableThread: @unchecked Sendable {
    // @unchecked: a pthread_t is an id, safe to hand to the thread that joins it.
    fileprivate let handle: pthread_t

    /// Waits until the thread's body has returned.
    public func join() {
        pthread_join(handle, nil)
    }
}

/// Starts `body` on a new joinable POSIX thread (Foundation's Thread would link
/// Foundation into every binary). Throws naming pthread_create's error.
public func startThread(_ what: String, _ body: @escaping () -> Void) throws -> JoinableThread {
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var handle = pthread_t()
    let result = pthread_create(&handle, nil, { context in
        Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().run()
        return nil
    }, context)
    guard result == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        throw SystemError(call: "pthread_create", subject: what, errno: result)
    }
    return JoinableThread(handle: handle)
}
