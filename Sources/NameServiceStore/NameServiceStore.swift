import GSLB

/// The one persistence seam (docs/design.md), shaped like etcd so the embedded SQLite store and an
/// etcd store are interchangeable:
///
/// - Every write that changes something gets the next value of one store-wide **revision** (a
///   64-bit counter that never goes back). A write that changes nothing (same spec, labels, status)
///   returns the stored object without a new revision or event, as Kubernetes does, so status
///   writers cannot loop. A NameService's `metadata.resourceVersion` is the revision of its last
///   change, as a decimal string; an empty expected version counts as none.
/// - `put` and `delete` take an optional expected `resourceVersion` (put-if-version): when given
///   and different from the stored one — or when the object does not exist — the write fails with
///   `StoreError.conflict` and changes nothing. `put` with `ifVersion: nil` creates or replaces.
/// - `put` stores the spec and labels; it bumps `metadata.generation` when the spec changed (a new
///   object starts at 1) and keeps the stored status and drains. `updateStatus` changes only the
///   status (no generation bump) and is the reconciler's write. `updateDrains` changes only the
///   operator drains (no generation bump) and is the drain endpoints' write.
/// - `watch(fromRevision:)` yields every change with a revision greater than the one given, in
///   revision order, then follows live changes until the stream is dropped. Resuming from the
///   revision of the last event seen loses nothing. If the store no longer has events that old, the
///   stream fails with `StoreError.compacted(oldest:)` and the caller relists. The SQLite and
///   in-memory stores fail a watch from a revision above their current one at once with
///   `.tooLargeResourceVersion` (carrying the current revision), as the Kubernetes API does (504).
/// - A write that returned has been made durable (it survives kill -9 and power loss of the
///   process; SQLite: WAL with synchronous=FULL).
public protocol NameServiceStore: Sendable {
    func get(_ name: String) async throws(StoreError) -> NameService?

    /// Every object whose labels match `selector` (all when nil), sorted by name, and the store
    /// revision the list is consistent with (watch from it to follow on).
    func list(selector: LabelSelector?) async throws(StoreError) -> (items: [NameService], revision: Int64)

    /// Creates or replaces the spec and labels of `nameService.metadata.name`.
    func put(_ nameService: NameService, ifVersion: String?) async throws(StoreError) -> NameService

    /// Replaces the status of an existing object. `ifGeneration`, when given, must equal the stored
    /// generation (so a status computed for an older spec is not written over a newer one).
    func updateStatus(_ name: String, status: NameServiceStatus, ifGeneration: Int64?) async throws(StoreError) -> NameService

    /// Replaces the operator drains of an existing object (at most one per target; stored sorted by
    /// target). `ifVersion`, when given, must equal the stored `resourceVersion` (read-modify-write
    /// without lost updates).
    func updateDrains(_ name: String, drains: [TargetDrain], ifVersion: String?) async throws(StoreError) -> NameService

    /// Deletes; returns the object as it was (with the deletion's revision as resourceVersion).
    func delete(_ name: String, ifVersion: String?) async throws(StoreError) -> NameService

    /// The current revision.
    func revision() async throws(StoreError) -> Int64

    /// One page of the list (Kubernetes `limit` / `continue`): sorted by name, every page of one
    /// list consistent with the first page's revision; a stale continue token fails with
    /// `.expired`, a malformed or foreign one with `.invalid`. (A requirement, so a store's own
    /// implementation is the one called through `any NameServiceStore`; the default below cuts
    /// pages from a full list.)
    func listPage(_ options: ListOptions) async throws(StoreError) -> ListPage

    /// Status writes as one batch (one transaction where the store can), one result per update,
    /// in order (conflict on a generation mismatch, notFound). Default: one `updateStatus` each.
    func updateStatuses(_ updates: [StatusUpdate]) async -> [Result<NameService, StoreError>]

    func watch(fromRevision: Int64) -> AsyncThrowingStream<StoreEvent, any Error>
}

/// One page of a list (`listPage`): Kubernetes `limit` / `continue`.
public struct ListPage: Sendable {
    /// At most `limit` objects, sorted by name.
    public var items: [NameService]
    /// The revision the whole list (every page of it) is consistent with.
    public var revision: Int64
    /// Opaque: pass it back for the next page; nil on the last page.
    public var continueToken: String?
    /// Objects after this page, when the store knows (Kubernetes `remainingItemCount`).
    public var remainingItemCount: Int?

    public init(items: [NameService], revision: Int64, continueToken: String? = nil, remainingItemCount: Int? = nil) {
        self.items = items
        self.revision = revision
        self.continueToken = continueToken
        self.remainingItemCount = remainingItemCount
    }
}

/// What a paged list asks for.
public struct ListOptions: Sendable, Hashable {
    public var selector: LabelSelector?
    /// Objects per page at most; nil: all of them.
    public var limit: Int?
    /// A previous page's `continueToken`: the page after it, at that page's revision.
    public var continueToken: String?

    public init(selector: LabelSelector? = nil, limit: Int? = nil, continueToken: String? = nil) {
        self.selector = selector
        self.limit = limit
        self.continueToken = continueToken
    }
}

/// One status write of a batch (`updateStatuses`).
public struct StatusUpdate: Sendable, Hashable {
    public var name: String
    public var status: NameServiceStatus
    /// As `updateStatus(_:status:ifGeneration:)`.
    public var ifGeneration: Int64?

    public init(name: String, status: NameServiceStatus, ifGeneration: Int64?) {
        self.name = name
        self.status = status
        self.ifGeneration = ifGeneration
    }
}

extension NameServiceStore {
    /// Default for stores without their own paging: pages cut from a full list. The token is
    /// `<revision>:<last name>`; a later page lists again and serves the names after the last one
    /// (stores with history serve it at the first page's revision instead).
    public func listPage(_ options: ListOptions) async throws(StoreError) -> ListPage {
        let (all, revision) = try await list(selector: options.selector)
        var after: String?
        var pinned = revision
        if let token = options.continueToken {
            guard let colon = token.firstIndex(of: ":"), let r = Int64(token[..<colon]) else {
                throw StoreError(.invalid, "continue token '\(token)' is not one this server made")
            }
            pinned = r
            after = String(token[token.index(after: colon)...])
        }
        let rest = after.map { a in all.filter { $0.metadata.name > a } } ?? all
        guard let limit = options.limit, limit > 0, rest.count > limit else {
            return ListPage(items: rest, revision: pinned)
        }
        let page = Array(rest.prefix(limit))
        return ListPage(items: page, revision: pinned, continueToken: "\(pinned):\(page.last!.metadata.name)",
                        remainingItemCount: rest.count - limit)
    }

    /// Default for stores without batched writes: one `updateStatus` per item, in order. Stores
    /// override it to commit the batch in one transaction. Each result is the item's own.
    public func updateStatuses(_ updates: [StatusUpdate]) async -> [Result<NameService, StoreError>] {
        var results: [Result<NameService, StoreError>] = []
        results.reserveCapacity(updates.count)
        for u in updates {
            do throws(StoreError) {
                results.append(.success(try await updateStatus(u.name, status: u.status, ifGeneration: u.ifGeneration)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }
}

/// One change, as watch streams deliver it (Kubernetes watch event types).
public struct StoreEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
    }

    public var kind: Kind
    /// The object after the change (for `deleted`, as it was, with the deletion's revision).
    public var object: NameService
    public var revision: Int64

    public init(kind: Kind, object: NameService, revision: Int64) {
        self.kind = kind
        self.object = object
        self.revision = revision
    }
}

/// Why a store operation failed. Compared on `code` (an error is a struct with a code).
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case notFound, conflict, compacted, unavailable, corrupt, invalid, tooLargeResourceVersion, timedOut, expired
        }
        private let base: Base
        private init(_ b: Base) { base = b }
        /// The object does not exist.
        public static let notFound = Code(.notFound)
        /// put-if-version / delete-if-version / status-if-generation did not match.
        public static let conflict = Code(.conflict)
        /// watch asked for events older than the store keeps; relist.
        public static let compacted = Code(.compacted)
        /// The store cannot be reached or written (disk full, etcd down): retry later.
        public static let unavailable = Code(.unavailable)
        /// Stored data could not be read back.
        public static let corrupt = Code(.corrupt)
        /// The request itself is unusable (e.g. an empty name).
        public static let invalid = Code(.invalid)
        /// watch asked for a revision the store has not reached (`currentRevision` says where it
        /// is): Kubernetes answers "Too large resource version" with 504 and Retry-After.
        public static let tooLargeResourceVersion = Code(.tooLargeResourceVersion)
        /// A write did not finish within the store's write timeout (a stalled disk): its outcome is
        /// unknown until the disk answers (it may still be applied). HTTP 503, retry later.
        public static let timedOut = Code(.timedOut)
        /// A list's continue token is older than the store keeps (Kubernetes 410 Expired): list
        /// again from the start.
        public static let expired = Code(.expired)
        public var description: String { "\(base)" }
    }

    public let code: Code
    public let message: String
    /// For `.compacted`: the oldest revision still available.
    public let oldestRevision: Int64?
    /// For `.tooLargeResourceVersion`: the store's current revision.
    public let currentRevision: Int64?

    public init(_ code: Code, _ message: String, oldestRevision: Int64? = nil, currentRevision: Int64? = nil) {
        self.code = code
        self.message = message
        self.oldestRevision = oldestRevision
        self.currentRevision = currentRevision
    }

    public static func == (l: StoreError, r: StoreError) -> Bool { l.code == r.code }
    public var description: String { "\(code): \(message)" }
}

/// Kubernetes label selectors, equality- and set-based: `team=payments,tier!=canary,env`, `!key`
/// ("does not have it"), `env in (prod,staging)`, `env notin (dev)`. Keys and values are checked
/// as Kubernetes checks them, so a typo is an error, never a selector that silently matches
/// nothing.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    public enum Requirement: Sendable, Hashable {
        case equals(String, String)
        case notEquals(String, String)
        case exists(String)
        case notExists(String)
        /// The label is one of the values (Kubernetes `in`: the key must exist).
        case `in`(String, [String])
        /// The label is absent or none of the values (Kubernetes `notin`).
        case notIn(String, [String])
    }

    public var requirements: [Requirement]

    public init(requirements: [Requirement]) { self.requirements = requirements }

    /// Parses `a=b,c!=d,e,!f,g in (h,i),j notin (k)` (also `==`). Throws `.invalid` naming the
    /// offending term.
    public init(parsing text: String) throws(StoreError) {
        var reqs: [Requirement] = []
        for term in try Self.terms(text) {
            guard !term.isEmpty else { throw StoreError(.invalid, "empty term in label selector '\(text)'") }
            func key(_ k: String) throws(StoreError) -> String {
                guard !k.isEmpty else { throw StoreError(.invalid, "no key in '\(term)'") }
                if let problem = NameService.labelKeyProblem(k) {
                    throw StoreError(.invalid, "invalid label key \"\(k)\" in selector term '\(term)': \(problem)")
                }
                return k
            }
            func value(_ v: String) throws(StoreError) -> String {
                if let problem = NameService.labelValueProblem(v) {
                    throw StoreError(.invalid, "invalid label value \"\(v)\" in selector term '\(term)': \(problem)")
                }
                return v
            }
            if let set = try Self.setTerm(term) {
                let values = try set.values.map { (v) throws(StoreError) in try value(v) }
                reqs.append(set.negated ? .notIn(try key(set.key), values) : .in(try key(set.key), values))
            } else if let r = term.firstRange(of: "!=") {
                reqs.append(.notEquals(try key(term[..<r.lowerBound].trimmingSpaces()), try value(term[r.upperBound...].trimmingSpaces())))
            } else if let r = term.firstRange(of: "==") ?? term.firstRange(of: "=") {
                reqs.append(.equals(try key(term[..<r.lowerBound].trimmingSpaces()), try value(term[r.upperBound...].trimmingSpaces())))
            } else if term.hasPrefix("!") {
                reqs.append(.notExists(try key(String(term.dropFirst()).trimmingSpaces())))
            } else {
                reqs.append(.exists(try key(term)))
            }
        }
        requirements = reqs
    }

    /// The terms of `text`: split at commas outside parentheses, trimmed.
    private static func terms(_ text: String) throws(StoreError) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for c in text {
            switch c {
            case "(": depth += 1
            case ")":
                depth -= 1
                guard depth >= 0 else { throw StoreError(.invalid, "unbalanced ')' in label selector '\(text)'") }
            case "," where depth == 0:
                terms.append(current.trimmingSpaces())
                current = ""
                continue
            default: break
            }
            current.append(c)
        }
        guard depth == 0 else { throw StoreError(.invalid, "unclosed '(' in label selector '\(text)'") }
        terms.append(current.trimmingSpaces())
        return terms
    }

    /// `key in (a,b)` / `key notin (a)`, or nil for another kind of term.
    private static func setTerm(_ term: String) throws(StoreError) -> (key: String, negated: Bool, values: [String])? {
        guard let open = term.firstIndex(of: "(") else { return nil }
        let head = term[..<open].split(separator: " ", omittingEmptySubsequences: true)
        guard head.count == 2, head[1] == "in" || head[1] == "notin" else {
            throw StoreError(.invalid, "'\(term)' is not a selector term: use key in (v1,v2) or key notin (v1,v2)")
        }
        guard term.hasSuffix(")") else { throw StoreError(.invalid, "text after ')' in '\(term)'") }
        let inner = term[term.index(after: open)..<term.index(before: term.endIndex)]
        let values = inner.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces() }
        guard !(values.count == 1 && values[0].isEmpty) else { throw StoreError(.invalid, "no values in '\(term)'") }
        return (String(head[0]), head[1] == "notin", values)
    }

    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { r in
            switch r {
            case .equals(let k, let v): labels[k] == v
            case .notEquals(let k, let v): labels[k] != v
            case .exists(let k): labels[k] != nil
            case .notExists(let k): labels[k] == nil
            case .in(let k, let values): labels[k].map { values.contains($0) } ?? false
            case .notIn(let k, let values): labels[k].map { !values.contains($0) } ?? true
            }
        }
    }

    public var description: String {
        requirements.map { r in
            switch r {
            case .equals(let k, let v): "\(k)=\(v)"
            case .notEquals(let k, let v): "\(k)!=\(v)"
            case .exists(let k): k
            case .notExists(let k): "!\(k)"
            case .in(let k, let values): "\(k) in (\(values.joined(separator: ",")))"
            case .notIn(let k, let values): "\(k) notin (\(values.joined(separator: ",")))"
            }
        }.joined(separator: ",")
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
