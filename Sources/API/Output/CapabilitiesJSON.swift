import Rendering
import Sampling

/// The `capabilities` object of /api/v1/status: one entry per feature, available or
/// not, and when not, the capabilities it needs.
enum CapabilitiesJSON {
    /// Writes `capabilities` (or null when they were not probed) into `json`.
    static func write(_ capabilities: Capabilities?, to json: inout JSONWriter) {
        guard let capabilities else {
            json.null()
            return
        }
        json.beginObject()
        for feature in Capabilities.Feature.all {
            let missing = capabilities.missing(for: feature)
            json.key(feature.key); json.beginObject()
            json.key("description"); json.string(feature.description)
            json.key("available"); json.bool(missing.isEmpty)
            if !missing.isEmpty {
                json.key("needs"); json.beginArray()
                for capability in missing { json.string(capability.name) }
                json.endArray()
            }
            json.endObject()
        }
        json.endObject()
    }
}
