import Testing
@testable import Sampling

/// A socket's owner list: one owner inline, several in order, and the process
/// shared by every socket it holds.
struct SocketOwnersTests {
    private let web = SocketOwner(pid: 40, startTime: 7, name: "nginx", fd: 6,
                                  container: ContainerReference(runtime: .docker, id: "0123456789ab"))

    @Test func oneOwnerReadsBackWithEveryField() {
        var owners = SocketOwners()
        #expect(owners.isEmpty && owners.first == nil)
        owners.append(web)
        #expect(Array(owners) == [web])
        #expect(owners.first?.container?.id == "0123456789ab")
    }

    @Test func severalOwnersAreListedByPidThenFd() {
        let worker = SocketOwner(pid: 41, startTime: 9, name: "nginx", fd: 6)
        var owners: SocketOwners = [worker, SocketOwner(pid: 40, startTime: 7, name: "nginx", fd: 9), web]
        #expect(owners.map { "\($0.pid)/\($0.fd)" } == ["40/6", "40/9", "41/6"])
        owners.append(SocketOwner(pid: 2, startTime: 1, name: "init", fd: 3))
        owners.sortByProcess()
        #expect(owners.map(\.pid) == [2, 40, 40, 41])
        #expect(owners.count == 4 && owners[3] == worker)
    }

    @Test func equalityIsByOwnersNotByHowTheyAreKept() {
        let process = OwnerProcess(pid: 40, startTime: 7, name: "nginx", containerBox: ContainerBox(web.container!))
        var shared = SocketOwners()
        shared.append(fd: 6, of: process)
        #expect(shared == [web])
        #expect(shared != [])
        #expect(shared != [SocketOwner(pid: 40, startTime: 8, name: "nginx", fd: 6, container: web.container)],
                "a different start time is another process")
    }

    @Test func anOwnerIsKeptInline() {
        // The point of the type: an owner costs its socket 16 bytes and no heap block
        // of its own (an array of one owner was an 80-byte block).
        #expect(MemoryLayout<SocketOwners>.size <= 16)
        #expect(MemoryLayout<Socket>.stride <= 144)
    }
}
