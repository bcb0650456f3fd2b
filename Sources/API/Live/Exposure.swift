public import Sampling

/// How reachable a listening socket is: the question behind "is this port open to
/// the world?".
public enum Exposure: String, Sendable {
    /// Bound to the wildcard (0.0.0.0 or ::): every interface.
    case all
    /// Bound to a loopback address: this host only.
    case loopback
    /// Bound to one specific address.
    case address

    /// The exposure of a socket bound to `address`.
    public init(boundTo address: IPAddress) {
        if address.isUnspecified {
            self = .all
        } else if address.isLoopback {
            self = .loopback
        } else {
            self = .address
        }
    }
}
