public import Sampling

/// netstat's plain-text table (`netstat -tuanp`'s columns), for people and for
/// scripts already written against netstat. Addresses are always numeric.
public struct NetstatTable {
    /// Whether to print the `PID/Program name` column.
    public var showOwners: Bool
    /// Labels of network namespaces by inode (`NetNamespace.label`); when set, each
    /// line starts with a `Namespace` column, as with several namespaces in one table.
    public var namespaceLabels: [UInt64: String]?

    /// A table renderer.
    public init(showOwners: Bool, namespaceLabels: [UInt64: String]? = nil) {
        self.showOwners = showOwners
        self.namespaceLabels = namespaceLabels
    }

    /// The heading line.
    public var header: String {
        let base = (namespaceLabels == nil ? "" : pad("Namespace", 16) + " ") + pad("Proto", 5) + " Recv-Q Send-Q " + pad("Local Address", 23) + " "
            + pad("Foreign Address", 23) + " " + pad("State", 11)
        return showOwners ? base + " PID/Program name" : base.trimmingTrailingSpaces()
    }

    /// One socket as a line (without newline).
    public func line(_ socket: Socket) -> String {
        let proto = socket.proto.rawValue + (socket.family == .ipv6 ? "6" : "")
        var text = ""
        if let namespaceLabels {
            let label = socket.netns.map { namespaceLabels[$0] ?? String($0) } ?? "-"
            text += pad(UntrustedText.terminal(label), 16) + " "
        }
        text += pad(proto, 5) + " " + leftPad(queueText(socket.recvQ), 6) + " " + leftPad(queueText(socket.sendQ), 6) + " "
        text += pad(Self.endpointText(socket.local), 23) + " " + pad(Self.endpointText(socket.remote), 23) + " "
        text += pad(socket.stateName, 11)
        if showOwners {
            let owners = socket.processes.map { "\($0.pid)/\(UntrustedText.terminal($0.name))" }
            text += " " + (owners.isEmpty ? "-" : owners.joined(separator: ","))
        }
        return text.trimmingTrailingSpaces()
    }

    /// `address:port` as netstat prints it, with `*` for port 0.
    public static func endpointText(_ endpoint: Endpoint) -> String {
        endpoint.address.description + ":" + (endpoint.port == 0 ? "*" : String(endpoint.port))
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private func leftPad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}

/// A queue length as netstat prints it; `-` when it is not known.
func queueText(_ value: UInt32) -> String {
    value == Socket.unknownQueue ? "-" : String(value)
}
