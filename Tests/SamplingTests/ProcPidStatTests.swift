import Foundation
import Glibc
import Testing
@testable import Sampling

struct ProcPidStatTests {
    @Test(arguments: [
        ("plain", "4242 (nginx) S 1 4242 4242 0 -1 4194624 2277 0 0 0 3 4 0 0 20 0 1 0 1234567 12345678 1000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0", "nginx", UInt64(1234567)),
        ("spaces and parens in comm", "77 (my (weird) proc) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0", "my (weird) proc", UInt64(99)),
        ("kernel thread", "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0", "kthreadd", UInt64(5)),
    ])
    func parses(name: String, text: String, comm: String, start: UInt64) throws {
        let stat = try #require(ProcPidStat.parse(Array(text.utf8)), "\(name)")
        #expect(stat.name == comm)
        #expect(stat.startTime == start)
    }

    @Test(arguments: ["", "4242 nginx S 1", "4242 (nginx) S 1 2 3", "4242 (nginx"])
    func rejectsMalformed(text: String) {
        #expect(ProcPidStat.parse(Array(text.utf8)) == nil)
    }
}

struct UserNamesTests {
    @Test func parsesPasswd() {
        let names = UserNames(passwdText: "root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\nalias:x:33:33::/:/bin/sh\n")
        #expect(names.name(0) == "root")
        #expect(names.name(33) == "www-data", "the first name for a uid wins")
        #expect(names.name(1000) == nil)
    }
}

/// netstatd's own cost, as /metrics serves it (`process_*`).
struct ProcessCostTests {
    @Test("this process's CPU, memory and descriptors agree with /proc/self")
    func readsThisProcess() throws {
        // Burn a little CPU so the figure cannot be zero by accident.
        var spin: UInt64 = 0
        for i in 0..<3_000_000 { spin = spin &+ UInt64(i) &* 31 }
        #expect(spin != 1)
        let cost = try #require(ProcessCost.read())
        #expect(cost.cpuSeconds > 0)
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        let residentPages = try #require(UInt64(statm[1]))
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let difference = Int64(cost.residentBytes) - Int64(residentPages * page)
        #expect(abs(difference) < 64 << 20, "resident \(cost.residentBytes) vs statm \(residentPages * page)")
        let fd = open("/dev/null", O_RDONLY)
        defer { close(fd) }
        let withOneMore = try #require(ProcessCost.read()?.openFileDescriptors)
        #expect(withOneMore >= 4)
        let started = try #require(cost.startTime)
        #expect(started <= Date().timeIntervalSince1970 && started > Date().timeIntervalSince1970 - 86_400)
    }

    @Test("a command name with spaces and parentheses does not shift the fields")
    func hostileName() throws {
        let line = "4242 (a) 1 2 (b) R 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 987654 1048576 300 18446744073709551615"
        let fields = try #require(ProcessCost.fieldsAfterName(Array(line.utf8)))
        #expect(fields[14 - 3] == "250" && fields[15 - 3] == "50" && fields[22 - 3] == "987654")
    }
}

struct ProcPidCmdlineTests {
    @Test("arguments joined by spaces, the trailing NUL dropped; a hostile argument stays one string")
    func parses() {
        #expect(ProcPidCmdline.parse(Array("nginx: master\0-g\0daemon off;\0".utf8)) == "nginx: master -g daemon off;")
        #expect(ProcPidCmdline.parse(Array("a\u{1b}[31m\0\0".utf8)) == "a\u{1b}[31m")
        #expect(ProcPidCmdline.read(procRoot: "/proc", pid: getpid())?.isEmpty == false)
        #expect(ProcPidCmdline.read(procRoot: "/nonexistent", pid: 1) == nil)
    }
}
