public import Sampling

/// The JSON shapes of a network namespace and of a container reference, shared by
/// `netstatd snapshot --json` and the API (`Namespace` and `Container` in openapi.yaml).
public enum NamespaceJSON {
    /// Writes `{"inode", "cookie", "name", "host", "netstatd", "pid", "processes", "mount",
    /// "container", "read", "reason", "tcp_table"}`; `extra` adds the caller's fields
    /// (the API's socket counts) before it closes.
    public static func write(
        _ namespace: NetNamespace, to json: inout JSONWriter, extra: ((inout JSONWriter) -> Void)? = nil
    ) {
        json.beginObject()
        json.key("inode"); json.number(namespace.inode)
        json.key("cookie")
        if let cookie = namespace.cookie { json.number(cookie) } else { json.null() }
        json.key("name")
        if let name = namespace.name { json.string(name) } else { json.null() }
        json.key("host"); json.bool(namespace.isHost)
        json.key("netstatd"); json.bool(namespace.isOwn)
        json.key("pid")
        if let pid = namespace.pid { json.number(pid) } else { json.null() }
        json.key("processes"); json.number(namespace.processCount)
        json.key("mount")
        if let mount = namespace.mountPath { json.string(mount) } else { json.null() }
        json.key("container")
        if let container = namespace.container { self.container(container, to: &json) } else { json.null() }
        json.key("read"); json.bool(namespace.wasRead)
        json.key("reason")
        if let reason = namespace.unreadReason { json.string(reason) } else { json.null() }
        json.key("tcp_table")
        if let buckets = namespace.tcpTableBuckets {
            json.beginObject()
            json.key("buckets"); json.number(abs(buckets))
            json.key("shared_with_host"); json.bool(buckets < 0)
            json.endObject()
        } else {
            json.null()
        }
        extra?(&json)
        json.endObject()
    }

    /// Writes `{"runtime", "id", "unit", "pod"}`.
    public static func container(_ container: ContainerReference, to json: inout JSONWriter) {
        json.beginObject()
        json.key("runtime"); json.string(container.runtime.rawValue)
        json.key("id"); json.string(container.id)
        json.key("unit")
        if let unit = container.unit { json.string(unit) } else { json.null() }
        json.key("pod")
        if let pod = container.pod { json.string(pod) } else { json.null() }
        json.endObject()
    }
}
