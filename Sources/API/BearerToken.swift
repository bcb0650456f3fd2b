import Sampling

/// The bearer token in force, replaceable while the server runs: `serve` re-reads
/// `--token-file` on SIGHUP and swaps the value here, so tokens rotate without a
/// restart and requests already in flight finish with the token they were checked
/// against.
public final class BearerToken: @unchecked Sendable {
    // @unchecked: `value` is only read or written while holding `lock`.
    private let lock = Lock()
    private var value: String?

    /// A holder for `token`; nil means no token is required.
    public init(_ token: String?) {
        value = token
    }

    /// The token requests must present now, or nil.
    public var current: String? { lock.withLock { value } }

    /// Makes `token` the one requests must present from now on.
    public func replace(with token: String?) {
        lock.withLock { value = token }
    }
}
