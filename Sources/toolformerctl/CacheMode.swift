import ArgumentParser

/// `cache` on a call: read and write the shared result cache, skip it, or run and replace.
enum CacheMode: String, CaseIterable, ExpressibleByArgument {
    case use, bypass, refresh
}
