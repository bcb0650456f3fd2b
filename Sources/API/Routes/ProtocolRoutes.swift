import Glibc
import HTTP
import Rendering
import Sampling
import Service

/// `stats/protocols` (netstat -s, with rates), `stats/sockets` (ss -s), `interfaces`
/// (netstat -i) and `routes` (netstat -r).
enum ProtocolRoutes {
    /// The counters of the namespace `netns=` names (one), else netstatd's own; with
    /// the reading before them.
    static func counters(_ context: RouteContext) throws -> (now: ProtocolStats, before: ProtocolStats?) {
        let (now, before, _) = try namespaceCounters(context)
        return (now, before)
    }

    /// `counters`, and the inode of the other namespace they are from (nil: netstatd's
    /// own, whose `/sys/class/net` netstatd can read).
    static func namespaceCounters(_ context: RouteContext) throws -> (now: ProtocolStats, before: ProtocolStats?, other: UInt64?) {
        let maxAge = context.configuration.maxSnapshotAge
        let own = { () -> (ProtocolStats, ProtocolStats?, UInt64?) in
            let (now, before) = context.stats.current(maxAge: maxAge)
            return (now, before, nil)
        }
        let names = try context.query.nonEmptyList("netns")
        guard !names.isEmpty else { return own() }
        guard names.count == 1 else {
            throw Problem.badParameter("netns", names.joined(separator: ","), accepts: "one namespace: counters are per namespace")
        }
        let snapshot = context.snapshot()
        guard let inode = try ConnectionFilter.namespaceInodes(names, in: snapshot).first,
              let namespace = snapshot.namespaces.first(where: { $0.inode == inode }) else { return own() }
        if namespace.isOwn { return own() }
        guard let pid = namespace.pid, let reading = context.stats.current(namespace: inode, through: pid, maxAge: maxAge) else {
            throw Problem(status: 409, title: "Counters not readable", detail:
                "namespace \(names[0]) has no process netstatd can read its counters through (/proc/<pid>/net/snmp); a namespace held only by a bind mount (ip netns add with nothing running in it) has no counters to show here",
                parameter: "netns", slug: "namespace-counters-unreadable")
        }
        return (reading.now, reading.before, inode)
    }

    /// Counters grouped by protocol, each with its value and rate, and health signals.
    static func protocols(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["group", "counter", "netns"])
        let (now, before) = try counters(context)
        let wanted = try selectedCounters(context.query, available: now.counters)
        let groups = try context.query.nonEmptyList("group")
        let known = Set(now.counters.map(\.group))
        for group in groups where !known.contains(group) {
            throw Problem.badParameter("group", group, accepts: "a counter group this kernel has: \(known.sorted().joined(separator: ", "))")
        }
        let seconds = before.map { now.monotonic - $0.monotonic }
        let earlier = before?.byKey ?? [:]
        var json = JSONWriter(capacity: 32 * 1024)
        json.beginObject()
        json.key("taken_at"); json.string(Timestamp.rfc3339(now.takenAt))
        json.key("interval_seconds")
        if let seconds { json.number((seconds * 1000).rounded() / 1000) } else { json.null() }
        json.key("groups"); json.beginObject()
        var order: [String] = []
        var byGroup: [String: [Counter]] = [:]
        for counter in now.counters where (wanted?.contains(counter.key) ?? true) && (groups.isEmpty || groups.contains(counter.group)) {
            if byGroup[counter.group] == nil { order.append(counter.group) }
            byGroup[counter.group, default: []].append(counter)
        }
        for group in order {
            json.key(group); json.beginObject()
            for counter in byGroup[group]! {
                let rate = CounterRate.between(earlier[counter.key], counter.value, seconds: seconds ?? 0)
                json.key(counter.name); json.beginObject()
                json.key("value"); json.counterValue(counter.value, of: counter.counterKey)
                json.key("rate"); if let perSecond = rate.perSecond { json.number((perSecond * 1000).rounded() / 1000) } else { json.null() }
                if rate.reset { json.key("reset"); json.bool(true) }
                json.endObject()
            }
            json.endObject()
        }
        json.endObject()
        let snapshot = context.snapshot()
        let (signals, full) = HealthSignals.derive(now, before, snapshot: snapshot)
        json.key("health"); json.beginArray()
        for signal in signals {
            json.beginObject()
            json.key("name"); json.string(signal.name)
            json.key("value"); if let value = signal.value { json.number((value * 1e6).rounded() / 1e6) } else { json.null() }
            json.key("explanation"); json.string(signal.explanation)
            json.endObject()
        }
        json.endArray()
        json.key("full_listeners"); json.beginArray()
        for socket in full {
            SocketJSON.write(socket, user: snapshot.userName(socket.uid), detail: SocketJSON.Detail(), to: &json)
        }
        json.endArray()
        json.key("missing"); json.beginArray()
        for name in now.missing { json.string(name) }
        json.endArray()
        json.endObject()
        return .json(json)
    }

    /// The `counter=` selection; 400 with the nearest known names for an unknown one.
    static func selectedCounters(_ query: QueryParameters, available: [Counter]) throws -> Set<String>? {
        let requested = query.list("counter")
        guard !requested.isEmpty else { return nil }
        let known = Set(available.map(\.key))
        for name in requested where !known.contains(name) {
            let suggestions = Suggestions.nearest(name, in: known)
            throw Problem.badParameter("counter", name, accepts: "Group.Name counters this kernel has, e.g. \(suggestions.joined(separator: ", ")) (all: /api/v1/stats/protocols)")
        }
        return Set(requested)
    }

    /// The `ss -s` summary: totals from sockstat and counts from the live sockets.
    static func sockets(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["netns"])
        let (now, _, other) = try namespaceCounters(context)
        let snapshot = context.snapshot()
        // The socket counts are of the namespace the counters are from: another one's
        // with netns=, else netstatd's own.
        let namespace = other ?? snapshot.namespaces.first(where: \.isOwn)?.inode
        var json = JSONWriter(capacity: 2048)
        json.beginObject()
        json.key("taken_at"); json.string(Timestamp.rfc3339(snapshot.takenAt))
        json.key("sockstat"); json.beginObject()
        for (proto, fields) in (now.sockstat?.values ?? [:]).sorted(by: { $0.key < $1.key }) {
            json.key(proto); json.beginObject()
            for (name, value) in fields.sorted(by: { $0.key < $1.key }) { json.key(name); json.number(value) }
            json.endObject()
        }
        json.endObject()
        var byKind: [String: [String: Int]] = [:]
        var total = 0
        for socket in snapshot.sockets where namespace == nil || socket.netns == nil || socket.netns == namespace {
            total += 1
            let kind = socket.proto.rawValue + (socket.family == .ipv6 ? "6" : "")
            byKind[kind, default: [:]][socket.stateName, default: 0] += 1
        }
        json.key("total"); json.number(total)
        json.key("by_protocol"); json.beginObject()
        for (kind, states) in byKind.sorted(by: { $0.key < $1.key }) {
            json.key(kind); json.beginObject()
            json.key("total"); json.number(states.values.reduce(0, +))
            json.key("states"); json.beginObject()
            for (state, count) in states.sorted(by: { $0.key < $1.key }) { json.key(state); json.number(count) }
            json.endObject()
            json.endObject()
        }
        json.endObject()
        json.endObject()
        return .json(json)
    }

    /// Interfaces with their counters and rates (netstat -i).
    static func interfaces(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["name", "format", "netns"])
        let format = try context.format()
        let name = try context.query.string("name")
        let (now, before, other) = try namespaceCounters(context)
        // /sys/class/net shows netstatd's own namespace: another's links are unknown.
        func link(_ interface: String) -> SysClassNet.Link {
            other == nil ? SysClassNet.read(interface, sysRoot: SysClassNet.sysRoot(besideProcRoot: context.procRoot)) : SysClassNet.Link()
        }
        let seconds = before.map { now.monotonic - $0.monotonic } ?? 0
        let earlier = Dictionary((before?.interfaces ?? []).map { ($0.name, $0.counters) }, uniquingKeysWith: { a, _ in a })
        let interfaces = now.interfaces.filter { name == nil || $0.name == name }
        if let name, interfaces.isEmpty {
            throw Problem.badParameter("name", name, accepts: "an interface this host has: \(now.interfaces.map(\.name).joined(separator: ", "))")
        }
        if format != .json {
            // netstat -i's columns, from the same counters.
            let fields = ["rx_packets", "rx_errs", "rx_drop", "tx_packets", "tx_errs", "tx_drop"]
            var table = RowTable(columns: ["iface", "mtu"] + fields + ["state"])
            for interface in interfaces {
                let link = link(interface.name)
                table.rows.append([.text(interface.name), link.mtu.map { .integer(Int64($0)) } ?? .null]
                                  + fields.map { field in interface.counters[field].map(RowTable.Cell.unsigned) ?? .null }
                                  + [link.state.map { .text($0) } ?? .null])
            }
            return context.answer(table.render(format, heading: "Kernel Interface table at " + Timestamp.rfc3339(now.takenAt)),
                                  contentType: format.contentType, takenAt: now.takenAt)
        }
        let json = ListEnvelope.write(interfaces, about: .sample(takenAt: now.takenAt), bytesPerItem: 1500) { interface, json in
            let link = link(interface.name)
            json.beginObject()
            json.key("name"); json.string(interface.name)
            json.key("state"); if let state = link.state { json.string(state) } else { json.null() }
            json.key("mtu"); if let mtu = link.mtu { json.number(mtu) } else { json.null() }
            json.key("counters"); json.beginObject()
            for key in interface.order {
                guard let value = interface.counters[key] else { continue }
                let rate = CounterRate.between(earlier[interface.name]?[key], value, seconds: seconds)
                json.key(key); json.beginObject()
                json.key("value"); json.number(value)
                json.key("rate"); if let perSecond = rate.perSecond { json.number((perSecond * 1000).rounded() / 1000) } else { json.null() }
                if rate.reset { json.key("reset"); json.bool(true) }
                json.endObject()
            }
            json.endObject()
            json.endObject()
        }
        return context.answer(json.bytes, contentType: "application/json", takenAt: now.takenAt)
    }

    /// IPv4 and IPv6 routes (netstat -rn).
    static func routes(_ context: RouteContext) throws -> HTTPResponse {
        try context.query.rejectUnknown(["family", "format"])
        let format = try context.format()
        var families: Set<AddressFamily> = [.ipv4, .ipv6]
        if let text = try context.query.choice("family", ["ipv4", "ipv6"]) { families = [AddressFamily(rawValue: text)!] }
        let routes = ProcNetRoute.read(procRoot: context.procRoot).filter { families.contains($0.family) }
        let takenAt = Clock.wallSeconds()
        if format != .json {
            var table = RowTable(columns: ["destination", "gateway", "flags", "metric", "mtu", "iface"])
            for route in routes {
                table.rows.append([.text("\(route.destination)/\(route.prefixLength)"), .text(route.gateway.description),
                                   .text(route.flagLetters), .integer(Int64(route.metric)), .integer(Int64(route.mtu)), .text(route.interface)])
            }
            return context.answer(table.render(format, heading: "Kernel IP routing table at " + Timestamp.rfc3339(takenAt)),
                                  contentType: format.contentType, takenAt: takenAt)
        }
        let json = ListEnvelope.write(routes, about: .sample(takenAt: takenAt), bytesPerItem: 200) { route, json in
            json.beginObject()
            json.key("family"); json.string(route.family.rawValue)
            json.key("destination"); json.address(route.destination)
            json.key("prefix_length"); json.number(route.prefixLength)
            json.key("gateway"); json.address(route.gateway)
            json.key("flags"); json.string(route.flagLetters)
            json.key("metric"); json.number(route.metric)
            json.key("mtu"); json.number(route.mtu)
            json.key("interface"); json.string(route.interface)
            json.endObject()
        }
        return context.answer(json.bytes, contentType: "application/json", takenAt: takenAt)
    }
}
