internal import Logging

extension LogEvent {
    /// The metadata a handler should print: its own, then the provider's, then the call's, later
    /// ones winning, plus the event's error the way swift-log's own handlers spell it.
    func effectiveMetadata(base: Logger.Metadata, provider: Logger.MetadataProvider?) -> Logger.Metadata {
        var merged = base
        if let provided = provider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = metadata, !explicit.isEmpty {
            merged.merge(explicit) { _, new in new }
        }
        if let error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        return merged
    }
}
