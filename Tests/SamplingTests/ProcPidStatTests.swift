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
