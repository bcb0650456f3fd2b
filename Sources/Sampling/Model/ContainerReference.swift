/// The container a process runs in, as its cgroup path names it: the runtime and the
/// container's id (Docker, containerd, CRI-O, Podman, systemd-nspawn), or, for a
/// process in no container, the systemd service it belongs to (`runtime` `.systemd`).
/// Parsed from `/proc/<pid>/cgroup` by `ProcPidCgroup`.
public struct ContainerReference: Sendable, Hashable {
    /// Who made the cgroup.
    public enum Runtime: String, Sendable, Hashable, CaseIterable {
        /// Docker (`/docker/<id>`, `docker-<id>.scope`).
        case docker
        /// containerd through CRI (`cri-containerd-<id>.scope`).
        case containerd
        /// CRI-O (`crio-<id>.scope`).
        case crio = "cri-o"
        /// Podman (`libpod-<id>.scope`, `libpod-<id>`).
        case podman
        /// A machine registered with systemd-machined, systemd-nspawn's
        /// (`machine.slice/machine-<name>.scope`); `id` is the machine name.
        case nspawn = "systemd-nspawn"
        /// A Kubernetes container whose runtime the path does not name (the cgroupfs
        /// driver: `/kubepods/<qos>/pod<uid>/<id>`).
        case cri
        /// No container: a systemd service (`system.slice/<unit>.service`); `id` is the unit.
        case systemd
    }

    /// The runtime, or `.systemd` for a plain service.
    public var runtime: Runtime
    /// The container id (hex, as the runtime prints it), the machine name for
    /// systemd-nspawn, or the unit name for a service.
    public var id: String
    /// The systemd unit holding it (`docker-<id>.scope`, `nginx.service`), when the path has one.
    public var unit: String?
    /// The Kubernetes pod uid, when the path has one.
    public var pod: String?

    /// A reference from its parts.
    public init(runtime: Runtime, id: String, unit: String? = nil, pod: String? = nil) {
        self.runtime = runtime
        self.id = id
        self.unit = unit
        self.pod = pod
    }

    /// True when `text` names this container: a prefix of its id (`docker ps` shows
    /// 12 characters), its unit, or for a service its whole name, with or without
    /// `.service`.
    public func matches(_ text: String) -> Bool {
        guard !text.isEmpty else { return false }
        if unit == text { return true }
        if runtime == .systemd { return id == text || id == text + ".service" }
        return id.hasPrefix(text)
    }
}
