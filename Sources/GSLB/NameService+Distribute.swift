import DNSWire

extension NameService {
    /// Most `spec.distribute` rules, and `to` buckets per rule (Istio has no caps; these keep a
    /// compile cheap and the explain answer one reply).
    public static let maxDistributeRules = 256
    public static let maxDistributeBuckets = 64
    /// Accepted `spec.overprovisioningFactor` (Envoy's `overprovisioning_factor` / 100; below 1 a
    /// fully healthy bucket would lose weight).
    public static let overprovisioningFactorRange = 1.0...100.0

    /// Issue 15: `distribute`, `overprovisioningFactor`, `allDown: Fallback` and `fallback`, every
    /// problem with its field path (`spec.distribute[0].to["us-east/*"]`).
    func validateDistributeAndFallback(_ spec: NameServiceSpec, _ limits: SpecLimits, _ report: (String, String) -> Void) {
        if !spec.distribute.isEmpty && spec.policy.isKnown && spec.policy != .locality {
            report("spec.distribute", "only the Locality policy distributes by client locality (policy is \(spec.policy))")
        }
        if spec.distribute.count > NameService.maxDistributeRules {
            report("spec.distribute", "\(spec.distribute.count) rules; at most \(NameService.maxDistributeRules) are accepted")
        }
        // The targets' localities, for `to` patterns that would hold no target.
        let localities: [Locality?] = spec.targets.map { t in t.locality.flatMap { try? Locality($0) } }
        var froms: [(pattern: LocalityPattern, index: Int)] = []
        for (i, rule) in spec.distribute.prefix(NameService.maxDistributeRules).enumerated() {
            let path = "spec.distribute[\(i)]"
            if rule.from.isEmpty {
                report("\(path).from", "must name the client locality pattern (region[/zone[/subzone]], * for any part, \"*\" for every client)")
            } else {
                do {
                    let p = try LocalityPattern(rule.from)
                    // An earlier rule whose pattern covers this one's takes every client this one would.
                    if let earlier = froms.first(where: { e in e.pattern.prefix == nil || (p.prefix.map(e.pattern.matches) ?? false) }) {
                        let same = earlier.pattern == p
                        report("\(path).from", same ? "\"\(rule.from)\" repeats spec.distribute[\(earlier.index)].from; the first matching rule applies, so this one never would"
                            : "\"\(rule.from)\" is inside spec.distribute[\(earlier.index)].from (\"\(earlier.pattern)\"), which comes first and matches every client this rule would: it never applies")
                    }
                    froms.append((p, i))
                } catch {
                    report("\(path).from", error.message)
                }
            }
            if rule.to.isEmpty {
                report("\(path).to", "needs at least one target locality pattern with a weight")
                continue
            }
            if rule.to.count > NameService.maxDistributeBuckets {
                report("\(path).to", "\(rule.to.count) patterns; at most \(NameService.maxDistributeBuckets) are accepted")
                continue
            }
            var patterns: [(key: String, pattern: LocalityPattern)] = []
            var seen: [LocalityPattern: String] = [:]
            var sum = 0
            for (key, weight) in rule.to.sorted(by: { $0.key < $1.key }) {
                let p = "\(path).to[\"\(key.utf8.count > 64 ? String(decoding: key.utf8.prefix(60), as: UTF8.self) + "..." : key)\"]"
                if weight < 0 || weight > 100 {
                    report(p, "weight \(weight) is outside 0...100 (percent of the client's traffic)")
                } else {
                    sum += weight
                }
                do {
                    let pattern = try LocalityPattern(key)
                    if let other = seen[pattern] {
                        report(p, "is the same pattern as \"\(other)\" (\(pattern)): a target can be in one bucket only")
                    } else {
                        seen[pattern] = key
                        patterns.append((key, pattern))
                    }
                } catch {
                    report(p, error.message)
                }
            }
            if sum != 100 && rule.to.values.allSatisfy({ $0 >= 0 && $0 <= 100 }) {
                report("\(path).to", "the weights sum to \(sum); they must sum to 100 (percent, as Istio's distribute)")
            }
            // Each target joins the most specific pattern matching it; a pattern that ends up with
            // none would silently never answer.
            var holds = Set<String>()
            for l in localities {
                guard let l else { continue }
                var best: (key: String, pattern: LocalityPattern)?
                for candidate in patterns where candidate.pattern.matches(l) {
                    if best == nil || candidate.pattern.specificity > best!.pattern.specificity { best = candidate }
                }
                if let best { holds.insert(best.key) }
            }
            for (key, pattern) in patterns where !holds.contains(key) {
                let anyMatch = localities.contains { $0.map(pattern.matches) ?? false }
                report("\(path).to[\"\(key)\"]", anyMatch
                    ? "every target it matches is in a more specific pattern of this rule: the bucket would never answer"
                    : "matches no target's locality: the bucket would never answer")
            }
        }
        if let f = spec.overprovisioningFactor {
            if !(f >= NameService.overprovisioningFactorRange.lowerBound && f <= NameService.overprovisioningFactorRange.upperBound) {
                report("spec.overprovisioningFactor", "\(f.secondsText) is outside 1...100 (Envoy's default is 1.4; below 1 a fully healthy bucket would lose weight)")
            } else if spec.distribute.isEmpty {
                report("spec.overprovisioningFactor", "only distribute rules use it; set spec.distribute or remove it")
            }
        }

        if spec.allDown == .fallback {
            if let fb = spec.fallback {
                if fb.addresses.isEmpty && fb.fqdn == nil {
                    report("spec.fallback", "needs addresses or fqdn: there is nothing to answer with when every target is down")
                }
            } else {
                report("spec.fallback", "allDown Fallback needs spec.fallback (addresses or fqdn) to answer when every target is down")
            }
        } else if spec.fallback != nil && spec.allDown.isKnown {
            report("spec.fallback", "is used only by allDown: Fallback (allDown is \(spec.allDown)); set it or remove the fallback")
        }
        guard let fb = spec.fallback else { return }
        if fb.addresses.count > limits.maxAddressesPerTarget {
            report("spec.fallback.addresses", "\(fb.addresses.count) addresses; at most \(limits.maxAddressesPerTarget) are accepted (limits.maxAddressesPerTarget)")
        }
        var seen: [IPAddress: Int] = [:]
        for (j, text) in fb.addresses.prefix(limits.maxAddressesPerTarget).enumerated() {
            let p = "spec.fallback.addresses[\(j)]"
            guard let a = IPAddress(text) else {
                report(p, "\"\(text)\" is not an IPv4 or IPv6 address")
                continue
            }
            if let why = NameService.unservableAddress(a) {
                report(p, "\"\(text)\" is \(why): not an address a client can connect to")
            } else if let k = seen[a] {
                report(p, "\"\(text)\" repeats spec.fallback.addresses[\(k)]")
            } else {
                seen[a] = j
            }
        }
        if let f = fb.fqdn, let m = NameService.hostnameProblem(f) { report("spec.fallback.fqdn", m) }
    }
}
