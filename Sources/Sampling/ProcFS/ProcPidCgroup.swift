import Glibc

/// `/proc/<pid>/cgroup` (cgroups(7)): which container, or which systemd service, a
/// process runs in. Each line is `hierarchy-ID:controllers:path`; on cgroup v2 there
/// is one line, `0::/path`, on v1 one per hierarchy.
///
/// Paths recognised (the last matching component wins, so a service inside a
/// container belongs to the container, and the innermost container to itself):
/// - Docker: `/docker/<id>` (cgroupfs driver), `docker-<id>.scope` (systemd driver)
/// - containerd (CRI): `cri-containerd-<id>.scope`
/// - CRI-O: `crio-<id>.scope` (not `crio-conmon-<id>.scope`, its monitor)
/// - Podman: `libpod-<id>.scope`, `libpod_parent/libpod-<id>` (not `libpod-conmon-`)
/// - Kubernetes with the cgroupfs driver: `/kubepods/<qos>/pod<uid>/<id>` (runtime unnamed)
/// - systemd-machined (systemd-nspawn): `machine.slice/machine-<name>.scope`
/// - otherwise a systemd service: the innermost `<unit>.service`.
public enum ProcPidCgroup {
    /// The container of the process `pid`, reading `<pid>/cgroup` under the open proc
    /// directory `procFD`; nil when it is in none or has exited.
    static func read(pid: Int32, procFD: Int32) -> ContainerReference? {
        guard let bytes = try? FileContents.bytes(at: procFD, "\(pid)/cgroup") else { return nil }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// The container named by the text of a `/proc/<pid>/cgroup` file. The unified
    /// (v2) line is read first, then v1's `name=systemd`, then the other hierarchies;
    /// a container found in any of them wins over a service.
    public static func parse(_ text: String) -> ContainerReference? {
        var paths: [(rank: Int, path: Substring)] = []
        for line in text.split(separator: "\n") {
            // The path may itself hold ':' (it is the rest of the line).
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[2].isEmpty else { continue }
            let rank = fields[0] == "0" && fields[1].isEmpty ? 0 : fields[1] == "name=systemd" ? 1 : 2
            paths.append((rank, fields[2]))
        }
        paths.sort { $0.rank < $1.rank }
        var service: ContainerReference?
        for entry in paths {
            let found = classify(entry.path)
            if let found, found.runtime != .systemd { return found }
            if service == nil { service = found }
        }
        return service
    }

    /// The container (or service) one cgroup path names, nil for neither.
    public static func classify(_ path: Substring) -> ContainerReference? {
        let components = path.split(separator: "/")
        let pod = podUID(components)
        var service: String?
        for position in components.indices.reversed() {
            let name = components[position]
            let parent = position > components.startIndex ? components[position - 1] : nil
            if let id = idBetween(name, prefix: "docker-", suffix: ".scope") {
                return ContainerReference(runtime: .docker, id: id, unit: String(name), pod: pod)
            }
            if let id = idBetween(name, prefix: "cri-containerd-", suffix: ".scope") {
                return ContainerReference(runtime: .containerd, id: id, unit: String(name), pod: pod)
            }
            if let id = idBetween(name, prefix: "crio-", suffix: ".scope") {
                return ContainerReference(runtime: .crio, id: id, unit: String(name), pod: pod)
            }
            if let id = idBetween(name, prefix: "libpod-", suffix: ".scope") {
                return ContainerReference(runtime: .podman, id: id, unit: String(name), pod: pod)
            }
            if let id = idBetween(name, prefix: "libpod-", suffix: "") {
                return ContainerReference(runtime: .podman, id: id, pod: pod)
            }
            if isContainerID(name) {
                if parent == "docker" { return ContainerReference(runtime: .docker, id: String(name)) }
                if components.contains(where: { $0.hasPrefix("kubepods") }) {
                    return ContainerReference(runtime: .cri, id: String(name), pod: pod)
                }
            }
            if name.hasPrefix("machine-"), name.hasSuffix(".scope"), name.count > 14,
               components[..<position].contains("machine.slice") {
                let escaped = name.dropFirst("machine-".count).dropLast(".scope".count)
                return ContainerReference(runtime: .nspawn, id: unescapeUnitName(escaped), unit: String(name))
            }
            if service == nil, name.hasSuffix(".service"), name.count > 8 { service = String(name) }
        }
        return service.map { ContainerReference(runtime: .systemd, id: $0, unit: $0) }
    }

    /// The id in `<prefix><id><suffix>` when it is a container id.
    private static func idBetween(_ name: Substring, prefix: String, suffix: String) -> String? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let id = name.dropFirst(prefix.count).dropLast(suffix.count)
        return isContainerID(id) ? String(id) : nil
    }

    /// Lower-case hex of 12 to 64 digits: what runtimes use for ids. The conmon
    /// monitors (`crio-conmon-<id>`, `libpod-conmon-<id>`) fail this, as they should.
    static func isContainerID(_ text: Substring) -> Bool {
        guard (12...64).contains(text.utf8.count) else { return false }
        return text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// The pod uid in `kubepods-<qos>-pod<uid>.slice` (dashes escaped as `_` by the
    /// systemd driver) or `pod<uid>` under `kubepods` (cgroupfs driver).
    private static func podUID(_ components: [Substring]) -> String? {
        guard components.contains(where: { $0.hasPrefix("kubepods") }) else { return nil }
        for name in components.reversed() {
            if name.hasPrefix("kubepods"), name.hasSuffix(".slice") {
                // kubepods-<qos>-pod<uid>.slice or kubepods-pod<uid>.slice
                let parts = name.dropLast(".slice".count).split(separator: "-")
                if let last = parts.last, parts.count >= 2, last.hasPrefix("pod"), last.count > 3 {
                    return String(last.dropFirst(3).map { $0 == "_" ? "-" : $0 })
                }
            }
            if name.hasPrefix("pod"), name.count > 3, !name.contains(".") {
                return String(name.dropFirst(3))
            }
        }
        return nil
    }

    /// Undoes systemd's unit-name escaping (`\x2d` for `-`), systemd.unit(5).
    static func unescapeUnitName(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.first {
            if byte == UInt8(ascii: "\\"), utf8.count >= 4, utf8[utf8.startIndex + 1] == UInt8(ascii: "x"),
               let value = UInt8(String(decoding: utf8[(utf8.startIndex + 2)..<(utf8.startIndex + 4)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(4)
            } else {
                bytes.append(byte)
                utf8 = utf8.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
