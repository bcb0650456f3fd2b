import HTTP
import Rendering
import Sampling

/// `GET /api/v1/processes` and `GET /api/v1/processes/{pid}`.
enum ProcessRoutes {
    /// Every process holding sockets: name, user, listening ports, counts by state.
    static func list(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["process", "user", "netns", "format"])
        let format = try context.format()
        let name = try context.query.string("process")
        let user = try context.query.string("user")
        if let unchanged = context.unchangedSinceNewest() { return unchanged }
        let snapshot = context.snapshot()
        if let unchanged = context.notModified(takenAt: snapshot.takenAt) { return unchanged }
        let netns = try context.query.nonEmptyList("netns")
        let namespaces = netns.isEmpty ? nil : try ConnectionFilter.namespaceInodes(netns, in: snapshot)
        let processes = ProcessSummary.all(in: snapshot, namespaces: namespaces).filter {
            (name == nil || $0.name == name) && (user == nil || $0.user == user || String($0.uid) == user)
        }
        if format != .json {
            var table = RowTable(columns: ["pid", "name", "user", "sockets", "listening"])
            for process in processes {
                let ports = process.listening.map { "\($0.proto.rawValue)/\($0.port)" }.joined(separator: " ")
                table.rows.append([.integer(Int64(process.pid)), .text(process.name), .text(process.user),
                                   .integer(Int64(process.socketCount)), .text(ports)])
            }
            return context.answer(table.render(format, heading: "Processes holding sockets at " + Timestamp.rfc3339(snapshot.takenAt)),
                                  contentType: format.contentType, takenAt: snapshot.takenAt)
        }
        let json = ListEnvelope.write(processes, about: .sample(takenAt: snapshot.takenAt), bytesPerItem: 200) { process, json in
            write(process, to: &json, cmdline: commandLine(process, context))
        }
        return context.answer(json.bytes, contentType: "application/json", takenAt: snapshot.takenAt)
    }

    /// One process and its sockets; 404 when no such process holds a socket.
    static func one(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["info"])
        let text = context.parameters["pid"] ?? ""
        guard let pid = Int32(text), pid > 0 else {
            throw Problem.badParameter("pid", text, accepts: "a process id (a positive integer)")
        }
        let detail = try ConnectionRoutes.detail(context.query)
        let snapshot = context.snapshot()
        guard let summary = ProcessSummary.all(in: snapshot).first(where: { $0.pid == pid }) else {
            throw Problem.notFound("no process with pid \(pid) holds a TCP or UDP socket (it may hold none, or have exited); see /api/v1/processes")
        }
        var json = JSONWriter(capacity: 4096)
        json.beginObject()
        json.key("taken_at"); json.string(Timestamp.rfc3339(snapshot.takenAt))
        json.key("process"); write(summary, to: &json, cmdline: commandLine(summary, context))
        json.key("sockets"); json.beginArray()
        for socket in snapshot.sockets where socket.processes.contains(where: { $0.pid == pid }) {
            SocketJSON.write(socket, user: snapshot.userName(socket.uid), detail: detail, to: &json)
        }
        json.endArray()
        json.endObject()
        return .json(json)
    }

    /// The process's command line when `--expose-cmdline` allows it (it can carry
    /// secrets); nil otherwise.
    static func commandLine(_ process: ProcessSummary, _ context: RouteContext) -> String? {
        guard context.configuration.exposeCommandLines else { return nil }
        return ProcPidCmdline.read(procRoot: context.procRoot, pid: process.pid)
    }

    static func write(_ process: ProcessSummary, to json: inout JSONWriter, cmdline: String? = nil) {
        json.beginObject()
        if let cmdline { json.key("cmdline"); json.string(cmdline) }
        json.key("pid"); json.number(process.pid)
        json.key("start_time"); json.number(process.startTime)
        json.key("name"); json.string(process.name)
        json.key("uid"); json.number(process.uid)
        json.key("user"); json.string(process.user)
        json.key("sockets"); json.number(process.socketCount)
        json.key("listening"); json.beginArray()
        for entry in process.listening {
            json.beginObject()
            json.key("proto"); json.string(entry.proto.rawValue)
            json.key("port"); json.number(entry.port)
            json.endObject()
        }
        json.endArray()
        json.key("states"); json.beginObject()
        for (state, count) in process.states.sorted(by: { $0.key < $1.key }) {
            json.key(state); json.number(count)
        }
        json.endObject()
        json.endObject()
    }
}
