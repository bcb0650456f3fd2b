import Rendering

/// The JSON envelope of every list answer, written in one place:
/// `{<about>, <own keys>, "count", "items": [...], "next", <trailing keys>}`.
/// `about` is the sample a live list describes (`taken_at`) or the window a history
/// list covers (`from`, `to`); `next` is the cursor of the next page, or null.
enum ListEnvelope {
    /// What a list describes.
    enum About {
        case sample(takenAt: Double)
        case window(from: Double, to: Double)
    }

    /// The envelope around `items`, each written by `item`.
    static func write<Items: Collection>(
        _ items: Items, about: About, next: String? = nil, bytesPerItem: Int = 300,
        fields: (inout JSONWriter) -> Void = { _ in },
        trailing: (inout JSONWriter) -> Void = { _ in },
        item: (Items.Element, inout JSONWriter) -> Void
    ) -> JSONWriter {
        var json = JSONWriter(capacity: 512 + items.count * bytesPerItem)
        json.beginObject()
        switch about {
        case let .sample(takenAt):
            json.key("taken_at"); json.string(Timestamp.rfc3339(takenAt))
        case let .window(from, to):
            json.key("from"); json.string(Timestamp.rfc3339(from))
            json.key("to"); json.string(Timestamp.rfc3339(to))
        }
        fields(&json)
        json.key("count"); json.number(items.count)
        json.key("items"); json.beginArray()
        for element in items { item(element, &json) }
        json.endArray()
        json.key("next"); if let next { json.string(next) } else { json.null() }
        trailing(&json)
        json.endObject()
        return json
    }
}
