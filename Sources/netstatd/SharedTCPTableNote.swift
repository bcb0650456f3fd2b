import CommandLineOptions
import Sampling

/// Says once on stderr, at the first sample in which enough namespaces share the
/// host's TCP table for it to matter, that they do and what gives them their own
/// (see `SharedTCPTable`): a container host started before its containers hears it
/// when they come.
final class SharedTCPTableNote: @unchecked Sendable {
    // @unchecked: called from the main thread for the first sample, then only from
    // the sampler's thread, which starts after it.
    private let procRoot: String
    private var said = false

    init(procRoot: String) {
        self.procRoot = procRoot
    }

    func check(_ snapshot: Snapshot) {
        guard !said, SharedTCPTable.sharing(snapshot.namespaces) >= SharedTCPTable.adviceThreshold else { return }
        said = true
        if let advice = SharedTCPTable.read(procRoot: procRoot).advice(for: snapshot.namespaces) {
            StandardError.line("netstatd: note: \(advice)")
        }
    }
}
