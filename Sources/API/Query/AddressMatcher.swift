public import Sampling

/// An address or CIDR block from a filter (`10.0.0.5`, `10.0.0.0/8`, `::1`, `fe80::/10`).
/// An IPv4 pattern also matches the IPv4-mapped form an IPv6 socket shows
/// (`::ffff:10.0.0.5`), since that is the same peer.
public struct AddressMatcher: Sendable, Hashable {
    /// The network address, already masked.
    public let network: IPAddress
    /// The prefix length (32 or 128 for a single address).
    public let prefix: Int

    /// Parses an address or CIDR; nil when it is neither.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else { return nil }
        let maxPrefix = address.family == .ipv4 ? 32 : 128
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...maxPrefix).contains(given), parts[1].allSatisfy(\.isNumber) else { return nil }
            prefix = given
        }
        self.prefix = prefix
        network = Self.mask(address, prefix)
    }

    /// True when `address` lies in the block.
    public func matches(_ address: IPAddress) -> Bool {
        if address.family == network.family { return Self.mask(address, prefix) == network }
        if network.family == .ipv4, let mapped = address.ipv4Mapped { return Self.mask(mapped, prefix) == network }
        return false
    }

    private static func mask(_ address: IPAddress, _ prefix: Int) -> IPAddress {
        address.masked(toPrefix: prefix)
    }
}
