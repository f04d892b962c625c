/// What a SIGHUP re-read of the configuration file changes in the running server.
public struct ConfigurationReload: Sendable, Equatable {
    /// The running configuration with every live key taken from the file.
    public var applied: GlobalDNSConfiguration
    /// Keys whose value in the file differs from the running one but that only a restart applies
    /// (sorted). The running value stays.
    public var needsRestart: [String]
    /// Live keys whose value changed (sorted).
    public var changed: [String]
}

extension GlobalDNSConfiguration {
    /// Keys that SIGHUP applies while the server runs (`api.tokens`: secrets from `{file: PATH}`
    /// are read again, so a rotated file takes effect). Every other key (listeners, state
    /// directory, identity, the rest of the API, upstream resolvers, …) needs a restart: their
    /// values are built into sockets, event loops and services at start.
    public static let liveKeyPaths: Set<String> = [
        "log.level", "log.format", "localities", "defaultLocality", "explain.allow", "zones.directory", "zones.files",
        "zones.allowDroppingZones", "api.tokens",
    ]

    /// Takes the live keys from `file` (already read, overridden by the command line and
    /// validated) into this running configuration, and names the other keys that differ.
    public func reloaded(from file: GlobalDNSConfiguration) -> ConfigurationReload {
        var file = file
        if file.identity.isEmpty { file.identity = identity }  // both mean "the host name"
        let differing = keyPathsDiffering(from: file)
        var applied = self
        applied.log = file.log
        applied.localities = file.localities
        applied.defaultLocality = file.defaultLocality
        applied.explain = file.explain
        applied.zones = file.zones
        applied.api.tokens = file.api.tokens
        return ConfigurationReload(applied: applied,
                                   needsRestart: differing.filter { !Self.liveKeyPaths.contains($0) },
                                   changed: differing.filter { Self.liveKeyPaths.contains($0) })
    }

    /// Each key path with its value: the stored properties are named as the YAML keys (a test
    /// checks that this gives exactly `ConfigurationReader.keyPaths`).
    public func valuesByKeyPath() -> [String: Any] {
        var out: [String: Any] = [:]
        func walk(_ value: Any, section: String) {
            for child in Mirror(reflecting: value).children {
                guard let key = child.label else { continue }
                let path = section.isEmpty ? key : section + "." + key
                guard ConfigurationReader.sections[path] != nil else {
                    out[path] = child.value
                    continue
                }
                let mirror = Mirror(reflecting: child.value)
                if mirror.displayStyle != .optional {
                    walk(child.value, section: path)
                } else if let wrapped = mirror.children.first?.value {
                    walk(wrapped, section: path)
                } else {
                    // An absent optional section (store.etcd.tls): each of its keys compares as absent.
                    for keyPath in ConfigurationReader.keyPaths where keyPath.hasPrefix(path + ".") { out[keyPath] = child.value }
                }
            }
        }
        walk(self, section: "")
        return out
    }

    /// The key paths whose values differ between the two (sorted).
    public func keyPathsDiffering(from other: GlobalDNSConfiguration) -> [String] {
        let mine = valuesByKeyPath()
        let theirs = other.valuesByKeyPath()
        return mine.keys.filter { key in
            guard let a = mine[key] as? any Equatable, let b = theirs[key] else { return true }
            return !a.isEqual(to: b)
        }.sorted()
    }
}

extension Equatable {
    fileprivate func isEqual(to other: Any) -> Bool {
        (other as? Self).map { $0 == self } ?? false
    }
}
