import DNSWire

extension NameService {
    /// Largest `ttl` accepted: one day.
    public static let maxTTL = 86_400
    /// Largest `ratio` accepted. Ratios are relative; the cap keeps sums far from overflow.
    public static let maxRatio = 1_000_000

    /// Checks the document on its own, returning every problem with its field path (empty when
    /// valid). Placement against the served zones is `validatePlacement(…)`. Health-check fields
    /// left out are checked as `healthCheckDefaults` fills them in (the server's configuration).
    /// Sizes are checked against `limits` (configuration section `limits`); past a count limit only
    /// the elements within it are checked one by one, so the problem list stays bounded.
    public func validate(healthCheckDefaults: HealthCheckDefaults = .standard,
                         limits: SpecLimits = .standard) -> [ValidationProblem] {
        var problems: [ValidationProblem] = []
        func report(_ field: String, _ message: String) {
            problems.append(ValidationProblem(field: field, message: message))
        }

        if apiVersion != NameService.currentAPIVersion {
            report("apiVersion", apiVersion.isEmpty ? "is required; use \"\(NameService.currentAPIVersion)\""
                : "\"\(apiVersion)\" is not served; use \"\(NameService.currentAPIVersion)\"")
        }
        if kind != NameService.kindName {
            report("kind", kind.isEmpty ? "is required; use \"NameService\"" : "\"\(kind)\" is not \"NameService\"")
        }
        if let m = NameService.labelProblem(metadata.name) { report("metadata.name", m) }
        validateLabels(metadata.labels, limits, report)

        let spec = self.spec
        if let m = NameService.hostnameProblem(spec.fqdn) { report("spec.fqdn", m) }
        if spec.ttl < 0 || spec.ttl > NameService.maxTTL {
            report("spec.ttl", "\(spec.ttl) is outside 0...\(NameService.maxTTL) seconds: resolvers keep an answer for its TTL, so a longer one would delay failover away from a dead target by more than a day")
        }
        if !spec.policy.isKnown {
            report("spec.policy", "unknown policy \"\(spec.policy.rawValue)\"; use RoundRobin, Ratio or Locality")
        }
        if let k = spec.maxAnswers, k < 1 {
            report("spec.maxAnswers", "\(k) must be at least 1; omit it for no cap")
        }
        if !spec.allDown.isKnown {
            report("spec.allDown", "unknown behaviour \"\(spec.allDown.rawValue)\"; use FailOpen, FailClosed or Fallback")
        }
        if spec.failover.count > limits.maxFailoverRules {
            report("spec.failover", "\(spec.failover.count) rules; at most \(limits.maxFailoverRules) are accepted (limits.maxFailoverRules)")
        }
        validateFailover(Array(spec.failover.prefix(limits.maxFailoverRules)), report)
        if let hc = spec.healthCheck { validateHealthCheck(hc, healthCheckDefaults, report) }
        validateTargets(spec, limits, report)
        validateDistributeAndFallback(spec, limits, report)
        return problems
    }

    /// Checks where `spec.fqdn` lands among the served data: it must lie inside one of `zones`
    /// (`OutsideZones`), must not be an owner name of static data (`ClashesWithStaticName`), and
    /// must not be another NameService's fqdn (`ClashesWithNameService`). `otherNameServices` maps
    /// each other NameService's fqdn to its `metadata.name`; an entry with this NameService's own
    /// name is ignored, so the caller may pass every stored NameService. Each problem's `reason` is
    /// the Accepted condition's reason. An fqdn that does not parse is left to `validate()`.
    public func validatePlacement(zones: [DNSName], staticNames: Set<DNSName>,
                                  otherNameServices: [DNSName: String]) -> [ValidationProblem] {
        let name: DNSName
        do {
            name = try DNSName(spec.fqdn)
        } catch {
            return []  // validate() reports the fqdn itself
        }
        var problems: [ValidationProblem] = []
        if !zones.contains(where: { name.isSubdomain(of: $0) }) {
            let served = zones.isEmpty ? "no zones are served" : "served zones: " + zones.map(\.description).sorted().joined(separator: ", ")
            problems.append(ValidationProblem(field: "spec.fqdn", message: "\(name) is not inside any served zone (\(served))",
                                              reason: .outsideZones))
        }
        if staticNames.contains(name) {
            problems.append(ValidationProblem(field: "spec.fqdn", message: "\(name) already has static records in a zone file",
                                              reason: .clashesWithStaticName))
        }
        if let other = otherNameServices[name], other != metadata.name {
            problems.append(ValidationProblem(field: "spec.fqdn", message: "\(name) is already served by NameService \"\(other)\"",
                                              reason: .clashesWithNameService))
        }
        return problems
    }

    private func validateFailover(_ rules: [FailoverRule], _ report: (String, String) -> Void) {
        var seen: [FailoverRule: Int] = [:]
        for (i, rule) in rules.enumerated() {
            let path = "spec.failover[\(i)]"
            var ok = true
            for (field, value) in [("from", rule.from), ("to", rule.to)] where !Locality.isValidSegment(value) {
                ok = false
                report("\(path).\(field)", value.isEmpty ? "must name a region"
                    : "\"\(value)\" is not a region name (no spaces or '/'; a rule names regions, not zones)")
            }
            guard ok else { continue }
            if rule.from == rule.to {
                report(path, "from and to are both \"\(rule.from)\"; a region is always tried before its failover")
            } else if let j = seen[rule] {
                report(path, "repeats spec.failover[\(j)]")
            } else {
                seen[rule] = i
            }
        }
    }

    /// The shortest probe interval accepted, and the shortest timeout.
    public static let minProbeIntervalSeconds = 0.5
    public static let minProbeTimeoutSeconds = 0.05

    private func validateHealthCheck(_ spec: HealthCheckSpec, _ defaults: HealthCheckDefaults,
                                     _ report: (String, String) -> Void) {
        let p = "spec.healthCheck"
        let hc = spec.resolved(defaults)
        /// `3` as written, or `3 (the server's default)` for a field left out.
        func shown(_ value: some CustomStringConvertible, _ written: Any?) -> String {
            let text = (value as? Double)?.secondsText ?? value.description
            return written == nil ? "\(text) (the server's default)" : text
        }
        let minInterval = NameService.minProbeIntervalSeconds, minTimeout = NameService.minProbeTimeoutSeconds
        if hc.port < 1 || hc.port > 65535 { report("\(p).port", "\(hc.port) is not a TCP port (1...65535)") }
        if !(hc.intervalSeconds >= minInterval && hc.intervalSeconds <= 3600) {
            report("\(p).intervalSeconds", "\(shown(hc.intervalSeconds, spec.intervalSeconds)) must be between \(minInterval.secondsText) and 3600")
        }
        // A timeout at or above the interval is accepted, as Kubernetes and Istio accept it: the
        // prober starts no probe of an address while its previous one is in flight (that probe
        // time is skipped), so probes of one address never overlap either way.
        if !(hc.timeoutSeconds >= minTimeout && hc.timeoutSeconds <= 3600) {
            report("\(p).timeoutSeconds", "\(shown(hc.timeoutSeconds, spec.timeoutSeconds)) must be between \(minTimeout.secondsText) and 3600")
        }
        if hc.failureThreshold < 1 { report("\(p).failureThreshold", "\(shown(hc.failureThreshold, spec.failureThreshold)) must be at least 1") }
        if hc.successThreshold < 1 { report("\(p).successThreshold", "\(shown(hc.successThreshold, spec.successThreshold)) must be at least 1") }
        if !(hc.initialDelaySeconds >= 0 && hc.initialDelaySeconds <= 3600) {
            report("\(p).initialDelaySeconds", "\(shown(hc.initialDelaySeconds, spec.initialDelaySeconds)) must be between 0 and 3600")
        }
    }

    private func validateLabels(_ labels: [String: String], _ limits: SpecLimits, _ report: (String, String) -> Void) {
        if labels.count > limits.maxLabels {
            report("metadata.labels", "\(labels.count) labels; at most \(limits.maxLabels) are accepted (limits.maxLabels)")
        }
        /// A key as a field path: quoted, and cut short when it is the over-long part.
        func path(_ key: String) -> String {
            let shown = key.utf8.count > 64 ? String(decoding: key.utf8.prefix(60), as: UTF8.self) + "..." : key
            return "metadata.labels[\"\(shown)\"]"
        }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if key.isEmpty {
                report("metadata.labels", "a label key must not be empty")
            } else if key.utf8.count > limits.maxLabelKeyBytes {
                report(path(key), "the key is \(key.utf8.count) bytes; at most \(limits.maxLabelKeyBytes) are accepted (limits.maxLabelKeyBytes)")
            } else if let problem = NameService.labelKeyProblem(key) {
                report(path(key), problem)
            }
            if value.utf8.count > limits.maxLabelValueBytes {
                report(path(key), "the value is \(value.utf8.count) bytes; at most \(limits.maxLabelValueBytes) are accepted (limits.maxLabelValueBytes)")
            } else if let problem = NameService.labelValueProblem(value) {
                report(path(key), problem)
            }
        }
    }

    /// Why an address cannot be a target (issue 14): the unspecified addresses, multicast and the
    /// IPv4 limited broadcast. Loopback stays allowed (local demos and tests use it).
    public static func unservableAddress(_ address: IPAddress) -> String? {
        switch address {
        case .v4(let a):
            if a.value == 0 { return "the unspecified address" }
            if a.value >> 28 == 0xE { return "a multicast address (224.0.0.0/4)" }
            if a.value == 0xFFFF_FFFF { return "the broadcast address" }
        case .v6(let a):
            if a.high == 0 && a.low == 0 { return "the unspecified address" }
            if a.high >> 56 == 0xFF { return "a multicast address (ff00::/8)" }
            if a.high == 0 && a.low == 0x0000_FFFF_0000_0000 { return "the unspecified address (IPv4-mapped)" }
        }
        return nil
    }

    /// A label key as Kubernetes validates it: an optional DNS-subdomain prefix (at most 253
    /// characters) and `/`, then a name of 1-63 characters, alphanumeric at both ends with `-`, `_`
    /// and `.` between.
    public static func labelKeyProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let name = parts.count == 2 ? parts[1] : parts[0]
        if parts.count == 2 {
            let prefix = parts[0]
            if prefix.isEmpty || prefix.utf8.count > 253 {
                return "the key's prefix \"\(prefix)\" must be a DNS subdomain of 1-253 characters"
            }
            for label in prefix.split(separator: ".", omittingEmptySubsequences: false) {
                let ok = !label.isEmpty && label.utf8.count <= 63
                    && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
                    && label.utf8.first != 0x2D && label.utf8.last != 0x2D
                if !ok {
                    return "the key's prefix \"\(prefix)\" must be a DNS subdomain (lower-case letters, digits, '-' and '.', each part alphanumeric at both ends)"
                }
            }
        }
        if name.isEmpty { return "the key \"\(key)\" needs a name after its prefix" }
        if let problem = labelNameProblem(name, what: "the key's name") { return problem }
        return nil
    }

    /// A label value as Kubernetes validates it: empty, or 1-63 characters alphanumeric at both ends
    /// with `-`, `_` and `.` between.
    public static func labelValueProblem(_ value: String) -> String? {
        value.isEmpty ? nil : labelNameProblem(Substring(value), what: "the value")
    }

    private static func labelNameProblem(_ text: Substring, what: String) -> String? {
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) }
        let bytes = text.utf8
        if bytes.count > 63 { return "\(what) \"\(text)\" is longer than 63 characters" }
        guard let first = bytes.first, let last = bytes.last, alnum(first), alnum(last),
              bytes.allSatisfy({ alnum($0) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E }) else {
            return "\(what) \"\(text)\" must be 63 characters or fewer, begin and end with a letter or digit, and hold only letters, digits, '-', '_' and '.' (as Kubernetes labels)"
        }
        return nil
    }

    private func validateTargets(_ spec: NameServiceSpec, _ limits: SpecLimits, _ report: (String, String) -> Void) {
        guard !spec.targets.isEmpty else {
            report("spec.targets", "at least one target is required")
            return
        }
        if spec.targets.count > limits.maxTargetsPerNameService {
            report("spec.targets", "\(spec.targets.count) targets; at most \(limits.maxTargetsPerNameService) are accepted (limits.maxTargetsPerNameService)")
        }
        let totalAddresses = spec.targets.reduce(0) { $0 + $1.addresses.count }
        if totalAddresses > limits.maxAddressesPerNameService {
            report("spec.targets", "\(totalAddresses) addresses in all targets; at most \(limits.maxAddressesPerNameService) are accepted (limits.maxAddressesPerNameService)")
        }
        var names: [String: Int] = [:]
        for (i, t) in spec.targets.prefix(limits.maxTargetsPerNameService).enumerated() {
            let path = "spec.targets[\(i)]"
            if t.addresses.count > limits.maxAddressesPerTarget {
                report("\(path).addresses", "\(t.addresses.count) addresses; at most \(limits.maxAddressesPerTarget) are accepted per target (limits.maxAddressesPerTarget)")
            }
            if let m = NameService.labelProblem(t.name) {
                report("\(path).name", m)
            } else if let j = names[t.name] {
                report("\(path).name", "\"\(t.name)\" duplicates spec.targets[\(j)].name")
            } else {
                names[t.name] = i
            }
            if t.addresses.isEmpty && t.fqdn == nil {
                report(path, "needs addresses or fqdn: there is nothing to answer with")
            }
            var seen: [IPAddress: Int] = [:]
            for (j, text) in t.addresses.prefix(limits.maxAddressesPerTarget).enumerated() {
                guard let a = IPAddress(text) else {
                    report("\(path).addresses[\(j)]", "\"\(text)\" is not an IPv4 or IPv6 address")
                    continue
                }
                if let why = NameService.unservableAddress(a) {
                    report("\(path).addresses[\(j)]", "\"\(text)\" is \(why): not an address a client can connect to")
                } else if let k = seen[a] {
                    report("\(path).addresses[\(j)]", "\"\(text)\" repeats \(path).addresses[\(k)]")
                } else {
                    seen[a] = j
                }
            }
            if let f = t.fqdn, let m = NameService.hostnameProblem(f) { report("\(path).fqdn", m) }
            if let l = t.locality {
                do { _ = try Locality(l) } catch { report("\(path).locality", error.message) }
            }
            if t.ratio < 0 {
                report("\(path).ratio", "\(t.ratio) must be 0 or more (0 marks a standby)")
            } else if t.ratio > NameService.maxRatio {
                report("\(path).ratio", "\(t.ratio) is above \(NameService.maxRatio); ratios are relative, scale them down")
            }
        }
        if spec.policy == .ratio && !spec.targets.contains(where: { $0.ratio > 0 }) {
            report("spec.targets", "the Ratio policy needs at least one target with ratio > 0 (ratio 0 marks a standby)")
        }
    }

    /// Why `s` is not an RFC 1123 label, or nil.
    static func labelProblem(_ s: String) -> String? {
        if s.isEmpty { return "is required" }
        let ok = s.utf8.count <= 63
            && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
            && s.utf8.first != UInt8(ascii: "-") && s.utf8.last != UInt8(ascii: "-")
        return ok ? nil : "\"\(s)\" is not a DNS label (RFC 1123): 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit"
    }

    /// Why `s` is not a host name to answer A/AAAA for, or nil: it must parse as a domain name,
    /// not be the root, and every label must be letters, digits and inner hyphens (no wildcard).
    static func hostnameProblem(_ s: String) -> String? {
        if s.isEmpty { return "is required" }
        let name: DNSName
        do {
            name = try DNSName(s)
        } catch {
            return "\"\(s)\" is not a domain name (\(error.code == .nameTooLong ? "longer than 255 bytes" : "empty or over-long label"))"
        }
        if name.isRoot { return "must not be the root" }
        var i = 0
        let w = name.wire
        while w[i] != 0 {
            let label = w[(i + 1)...(i + Int(w[i]))]
            let ldh = label.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-")
            }
            if !ldh || label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") {
                return "\"\(s)\" is not a host name: each label must be letters, digits and inner hyphens"
            }
            i += 1 + Int(w[i])
        }
        return nil
    }
}
