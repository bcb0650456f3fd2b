import Foundation
import Testing
@testable import Sampling

/// `/proc/<pid>/cgroup` of processes in each runtime (Fixtures/cgroup, one file per
/// case, cgroup v1 and v2) and the container each names.
struct ContainerReferenceTests {
    static let id = "4c8d7e2f1a9b3c6d5e0f7a8b9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"
    static let innerID = "9f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4"

    struct Case: CustomTestStringConvertible, Sendable {
        var fixture: String
        var expected: ContainerReference?
        var testDescription: String { fixture }
    }

    static let cases: [Case] = [
        Case(fixture: "docker-cgroupfs-v1", expected: .init(runtime: .docker, id: id)),
        Case(fixture: "docker-systemd-v2", expected: .init(runtime: .docker, id: id, unit: "docker-\(id).scope")),
        Case(fixture: "containerd-kubernetes-v2", expected: .init(
            runtime: .containerd, id: id, unit: "cri-containerd-\(id).scope", pod: "5c3f1e7a-8b2d-4c1e-9f0a-1b2c3d4e5f60")),
        Case(fixture: "crio-kubernetes-v2", expected: .init(
            runtime: .crio, id: id, unit: "crio-\(id).scope", pod: "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6")),
        Case(fixture: "crio-conmon-v2", expected: nil),
        Case(fixture: "kubernetes-cgroupfs-v2", expected: .init(runtime: .cri, id: id, pod: "7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d")),
        Case(fixture: "dockershim-guaranteed-v2", expected: .init(
            runtime: .docker, id: id, unit: "docker-\(id).scope", pod: "11111111-2222-3333-4444-555555555555")),
        Case(fixture: "podman-rootful-v2", expected: .init(runtime: .podman, id: id, unit: "libpod-\(id).scope")),
        Case(fixture: "podman-rootless-v2", expected: .init(runtime: .podman, id: id, unit: "libpod-\(id).scope")),
        Case(fixture: "podman-conmon-v2", expected: .init(runtime: .systemd, id: "user@1000.service", unit: "user@1000.service")),
        Case(fixture: "podman-cgroupfs-v2", expected: .init(runtime: .podman, id: id)),
        Case(fixture: "nspawn-v2", expected: .init(runtime: .nspawn, id: "web-01", unit: "machine-web\\x2d01.scope")),
        Case(fixture: "nspawn-service-inside-v2", expected: .init(runtime: .nspawn, id: "db", unit: "machine-db.scope")),
        Case(fixture: "docker-inside-nspawn-v2", expected: .init(runtime: .docker, id: innerID, unit: "docker-\(innerID).scope")),
        Case(fixture: "service-v2", expected: .init(runtime: .systemd, id: "nginx.service", unit: "nginx.service")),
        Case(fixture: "service-hybrid-v1", expected: .init(runtime: .systemd, id: "sshd.service", unit: "sshd.service")),
        Case(fixture: "user-session-v2", expected: nil),
        Case(fixture: "init-v2", expected: nil),
        Case(fixture: "root-v2", expected: nil),
        Case(fixture: "malformed", expected: nil),
        Case(fixture: "short-id-v2", expected: nil),
    ]

    @Test(arguments: cases)
    func fixture(_ testCase: Case) throws {
        let text = try String(contentsOf: Fixtures.root.appendingPathComponent("cgroup/\(testCase.fixture)"), encoding: .utf8)
        #expect(ProcPidCgroup.parse(text) == testCase.expected)
    }

    @Test("a container in any v1 hierarchy wins over a service in the unified one")
    func containerWinsOverService() {
        let text = "4:pids:/docker/\(Self.id)\n0::/system.slice/containerd.service\n"
        #expect(ProcPidCgroup.parse(text)?.runtime == .docker)
    }

    @Test("container= matches an id prefix, the unit, or a service by its short name")
    func matching() {
        let docker = ContainerReference(runtime: .docker, id: Self.id, unit: "docker-\(Self.id).scope")
        #expect(docker.matches(String(Self.id.prefix(12))))
        #expect(docker.matches("docker-\(Self.id).scope"))
        #expect(!docker.matches("") && !docker.matches("4c8e"))
        let service = ContainerReference(runtime: .systemd, id: "nginx.service", unit: "nginx.service")
        #expect(service.matches("nginx") && service.matches("nginx.service") && !service.matches("ngin"))
        let machine = ContainerReference(runtime: .nspawn, id: "web-01", unit: "machine-web\\x2d01.scope")
        #expect(machine.matches("web-01"))
    }

    @Test(arguments: [("web\\x2d01", "web-01"), ("plain", "plain"), ("a\\x2db\\x2dc", "a-b-c"), ("bad\\xzz", "bad\\xzz")])
    func unitNamesAreUnescaped(escaped: String, plain: String) {
        #expect(ProcPidCgroup.unescapeUnitName(Substring(escaped)) == plain)
    }

    @Test("this process's own cgroup parses (whatever it names) without trapping")
    func ownCgroup() throws {
        let text = try String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)
        _ = ProcPidCgroup.parse(text)
    }
}
