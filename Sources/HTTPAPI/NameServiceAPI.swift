import GSLB
public import Hummingbird
import HummingbirdCore
public import Logging
public import NameServiceStore
public import NIOCore

/// The NameService HTTP API (issue 3) over any `NameServiceStore`.
///
/// Routes (`NameServiceAPI.routes` is the table; docs/openapi.yaml documents each):
/// - `PUT /v1/nameservices/{name}`: create (201) or replace (200); JSON or YAML; a
///   `metadata.resourceVersion` in the body makes it put-if-version (stale → 409); an invalid spec
///   → 422 with every problem and its field path, nothing stored. The `GlobalDNS-Write-Result`
///   header says `created`, `configured` or `unchanged`.
/// - `GET /v1/nameservices/{name}`, `DELETE /v1/nameservices/{name}[?resourceVersion=]`,
///   `GET /v1/nameservices/{name}/status`.
/// - `GET /v1/nameservices[?labelSelector=][&limit=N&continue=TOKEN]`: a `NameServiceList`, paged
///   the Kubernetes way and always streamed (`ListStream`); with `watch=true` a stream of
///   newline-delimited `{"type":…,"object":…}` events (see `WatchStream`).
/// - `PUT /v1/nameservices/{name}/targets/{target}/drain` (`DrainRequest`: reason, optional
///   `until` or `durationSeconds`) and `DELETE` of the same path: an operator takes a target out of
///   answers and puts it back. The drain records the token's name; answers the NameService.
/// - Reads of one NameService, its status and lists carry this replica's live probe results
///   (`lastProbeTime`, `lastProbeLatencyMilliseconds`) through `APIConfiguration.liveStatus`.
/// - `GET /healthz`, `GET /readyz`.
/// - `GET /metrics`: Prometheus text from `APIConfiguration.metrics` (404 when it is nil).
///
/// Writes need `Authorization: Bearer <token>` when tokens are configured; reads are open. Every
/// error is a Kubernetes `Status` body (`APIStatus`).
///
/// Limits (issue 12, `APILimits`): connection cap, idle/header/body timeouts and a header-size
/// limit per connection (`ConnectionGuard`), a per-client rate limit (429), bounded watch buffers
/// (410), duplicate-member/alias/depth checks on bodies (`BodyLimits`).
///
/// Wiring: `APIServer(api:address:)` is the ServiceLifecycle `Service` to add to the server's
/// `ServiceGroup`: it runs the API on threads of its own. `makeApplication(address:)` returns the
/// bare Hummingbird `Application` (on NIO's singleton group unless one is given).
public struct NameServiceAPI: Sendable {
    /// One route: its method and its path as OpenAPI spells it.
    public struct Route: Sendable, Hashable, CustomStringConvertible {
        public var method: HTTPRequest.Method
        public var path: String
        public var description: String { "\(method) \(path)" }
    }

    /// Every route the router serves.
    public static let routes: [Route] = [
        Route(method: .get, path: "/healthz"),
        Route(method: .get, path: "/readyz"),
        Route(method: .get, path: "/metrics"),
        Route(method: .get, path: "/v1/nameservices"),
        Route(method: .get, path: "/v1/nameservices/{name}"),
        Route(method: .put, path: "/v1/nameservices/{name}"),
        Route(method: .delete, path: "/v1/nameservices/{name}"),
        Route(method: .get, path: "/v1/nameservices/{name}/status"),
        Route(method: .put, path: "/v1/nameservices/{name}/targets/{target}/drain"),
        Route(method: .delete, path: "/v1/nameservices/{name}/targets/{target}/drain"),
    ]

    public let store: any NameServiceStore
    public let configuration: APIConfiguration
    public let logger: Logger
    /// The open connections against `limits.maxConnections`.
    public let connections: ConnectionLimiter
    /// Requests in flight (lists and watches aside), lists in flight and open watches, per client address.
    public let requestsInFlight: ClientSlots
    public let watchesPerClient: ClientSlots
    public let listsInFlight: ClientSlots
    /// The per-client rate limiter; nil when `limits.rateLimitPerSecond` is 0.
    public let rateLimiter: ClientRateLimiter?
    /// Open watch streams and their unread output.
    public let watches: WatchStatistics
    /// Streamed list responses.
    public let lists: ListStatistics

    public init(store: any NameServiceStore, configuration: APIConfiguration = APIConfiguration(), logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        let limits = configuration.limits
        connections = ConnectionLimiter(maxConnections: limits.maxConnections, maxPerClient: limits.maxConnectionsPerClient)
        requestsInFlight = ClientSlots(maxPerClient: limits.maxRequestsInFlightPerClient)
        watchesPerClient = ClientSlots(maxPerClient: limits.watchMaxPerClient)
        listsInFlight = ClientSlots(maxPerClient: limits.maxListsInFlightPerClient)
        rateLimiter = limits.rateLimitPerSecond > 0
            ? ClientRateLimiter(requestsPerSecond: limits.rateLimitPerSecond, burst: limits.rateLimitBurst,
                                maxClients: limits.rateLimitMaxClients)
            : nil
        watches = WatchStatistics()
        lists = ListStatistics()
    }

    /// False when no token is configured: writes are then open, so bind to loopback only.
    public var requiresAuth: Bool { configuration.requiresAuth }

    /// The router with every route and the Status error middleware.
    public func makeRouter() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: StatusErrorMiddleware<APIRequestContext>())
        let wait = configuration.limits.overloadWait
        if let rateLimiter { router.add(middleware: RateLimitMiddleware(limiter: rateLimiter, overloadWait: wait)) }
        router.add(middleware: ClientConcurrencyMiddleware(requests: requestsInFlight, lists: listsInFlight, watches: watchesPerClient,
                                                           overloadWait: wait))
        for route in NameServiceAPI.routes {
            router.on(RouterPath(route.path), method: route.method) { request, context in
                try await self.respond(route, request, context)
            }
        }
        return router
    }

    /// The API as a Hummingbird `Application` (a `Service`) listening on `address`
    /// (e.g. `.hostname("127.0.0.1", port: 8080)`; port 0 picks a free port, reported to
    /// `onServerRunning` via `channel.localAddress`), with the connection cap, timeouts and header
    /// limit of `configuration.limits`, on `eventLoopGroup` (NIO's singleton when nil). `APIServer`
    /// runs it on threads of its own; use that to serve.
    public func makeApplication(
        address: BindAddress = .hostname("127.0.0.1", port: 8080),
        serverName: String? = "globaldns",
        eventLoopGroup: (any EventLoopGroup)? = nil,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> Application<RouterResponder<APIRequestContext>> {
        let limits = configuration.limits
        let limiter = connections
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionGuardInstaller(limits: limits, limiter: limiter)],
            idleTimeout: nil,  // ConnectionGuard's, which also knows header and body timeouts
            httpDecoderConfiguration: .init(maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes,
                                            maxHeaderFieldCount: 1000))
        return Application(router: makeRouter(),
                           server: .http1(configuration: http1),
                           configuration: ApplicationConfiguration(address: address, serverName: serverName,
                                                                   availableConnectionsDelegate: ConnectionLimitDelegate(limiter: limiter)),
                           onServerRunning: onServerRunning,
                           eventLoopGroupProvider: eventLoopGroup.map { EventLoopGroupProvider.shared($0) } ?? .singleton,
                           logger: logger)
    }

    private func respond(_ route: Route, _ request: Request, _ context: APIRequestContext) async throws -> Response {
        switch (route.method, route.path) {
        case (.get, "/healthz"):
            return text("ok\n")
        case (.get, "/readyz"):
            let (ready, reason) = configuration.readiness()
            guard ready else { return APIStatus(code: 503, reason: "ServiceUnavailable", message: "not ready: \(reason)").response() }
            // Ready but degraded (e.g. stored objects that cannot be read): still 200, and said.
            return text(reason.hasPrefix("warning: ") ? "ok (\(reason))\n" : "ok\n")
        case (.get, "/metrics"):
            guard let metrics = configuration.metrics else {
                throw APIStatus(code: 404, reason: "NotFound", message: "metrics are disabled (metrics.enabled: false)")
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: await metrics())))
        case (.get, "/v1/nameservices"):
            return try await listOrWatch(request, context)
        case (.get, "/v1/nameservices/{name}"):
            let name = try context.parameters.require("name")
            guard let ns = try await call(name, { () async throws(StoreError) in try await store.get(name) }) else {
                throw APIStatus.notFound(name)
            }
            return json(await live([ns])[0])
        case (.put, "/v1/nameservices/{name}"):
            return try await put(request, context)
        case (.delete, "/v1/nameservices/{name}"):
            return try await delete(request, context)
        case (.get, "/v1/nameservices/{name}/status"):
            let name = try context.parameters.require("name")
            guard let ns = try await call(name, { () async throws(StoreError) in try await store.get(name) }) else {
                throw APIStatus.notFound(name)
            }
            return json(await live([ns])[0].status ?? NameServiceStatus())
        case (.put, "/v1/nameservices/{name}/targets/{target}/drain"):
            return try await drain(request, context)
        case (.delete, "/v1/nameservices/{name}/targets/{target}/drain"):
            return try await undrain(request, context)
        default:
            throw APIStatus(code: 404, reason: "NotFound", message: "no route for \(route)")
        }
    }

    // MARK: writes

    private func put(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let token = try authorize(request)
        let body = try await readBody(request)
        let format = try bodyFormat(request, body)
        let validation = try BodyDecoding.fieldValidation(request.uri.queryParameters["fieldValidation"])
        var (ns, unknown) = try BodyDecoding.decode(body, as: format, schema: .nameService)
        if ns.metadata.name.isEmpty { ns.metadata.name = name }
        var problems = BodyDecoding.problems(unknown, validation)
        if ns.metadata.name != name {
            problems.append(ValidationProblem(field: "metadata.name",
                                              message: "\"\(ns.metadata.name)\" does not match the name in the URL path \"\(name)\""))
        }
        problems += ns.validate(healthCheckDefaults: configuration.healthCheckDefaults, limits: configuration.specLimits)
        guard problems.isEmpty else { throw APIStatus.invalid(name, problems) }

        let ifVersion = ns.metadata.resourceVersion.flatMap { $0.isEmpty ? nil : $0 }
        ns.status = nil  // written by the server only; the store keeps the stored status
        // The version the object had before this write, when it existed: put-if-version only
        // replaces (the expected version is it); otherwise one read, which for a new name finds
        // no row and decodes nothing. A stored row that cannot be read is replaced by this PUT
        // (the store's repair path): created.
        let previousVersion: String??
        if let ifVersion {
            previousVersion = .some(ifVersion)
        } else {
            previousVersion = try await call(name, { () async throws(StoreError) -> String?? in
                do throws(StoreError) {
                    guard let old = try await store.get(name) else { return nil }
                    return .some(old.metadata.resourceVersion)
                } catch where error.code == .corrupt { return nil }
            })
        }
        let existed = previousVersion != nil
        let stored: NameService
        do {
            stored = try await store.put(ns, ifVersion: ifVersion)
        } catch {
            throw await conflictDetail(error, name: name, expected: ifVersion)
        }
        context.logger.info("nameservice \(existed ? "replaced" : "created")", metadata: [
            "nameservice": .string(name), "token": .string(token),
            "resourceVersion": .string(stored.metadata.resourceVersion ?? ""),
            "generation": .stringConvertible(stored.metadata.generation),
        ])
        // What the write did, for `globaldnsctl apply` (one PUT per object, no GET): the store
        // answers a write that changes nothing with the stored object at its old version.
        let result = switch previousVersion {
        case .none: "created"
        case .some(let version): version == stored.metadata.resourceVersion ? "unchanged" : "configured"
        }
        var response = json(stored, status: existed ? .ok : .created)
        if let field = HTTPFields.Element.Name(Self.writeResultHeader) { response.headers[field] = result }
        BodyDecoding.warnings(unknown, validation, into: &response)
        return response
    }

    /// The response header of a PUT saying what it did: `created`, `configured` (replaced with a
    /// change) or `unchanged` (the same spec and labels: no new resourceVersion, no event).
    public static let writeResultHeader = "GlobalDNS-Write-Result"

    private func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let token = try authorize(request)
        let ifVersion = request.uri.queryParameters["resourceVersion"].flatMap { $0.isEmpty ? nil : String($0) }
        let deleted: NameService
        do {
            deleted = try await store.delete(name, ifVersion: ifVersion)
        } catch {
            if error.code == .notFound && ifVersion == nil { throw APIStatus.notFound(name) }
            throw await conflictDetail(error, name: name, expected: ifVersion)
        }
        context.logger.info("nameservice deleted", metadata: [
            "nameservice": .string(name), "token": .string(token),
            "resourceVersion": .string(deleted.metadata.resourceVersion ?? ""),
        ])
        return json(deleted)
    }

    // MARK: drains

    private func drain(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let target = try context.parameters.require("target")
        let token = try authorize(request)
        let body = try await readBody(request)
        let format = try bodyFormat(request, body)
        let validation = try BodyDecoding.fieldValidation(request.uri.queryParameters["fieldValidation"])
        let (asked, unknown) = try BodyDecoding.decode(body, as: format, DrainRequest.self,
                                                       what: "a drain ({\"reason\": \"...\", \"until\": \"...\"})",
                                                       schema: .drainRequest)
        var (made, problems) = asked.drain(target: target, by: token, now: WallTime.now)
        problems = BodyDecoding.problems(unknown, validation) + problems
        guard let drain = made, problems.isEmpty else {
            throw APIStatus.invalid(name, problems, what: "the drain of target \"\(target)\" of NameService \"\(name)\"")
        }
        let stored = try await changeDrains(name, target: target) { drains in
            drains.removeAll { $0.target == target }
            drains.append(drain)
        }
        context.logger.notice("target drained", metadata: [
            "nameservice": .string(name), "target": .string(target), "token": .string(token),
            "reason": .string(drain.reason), "until": .string(drain.until?.rfc3339 ?? "undrained"),
        ])
        var response = json(stored)
        BodyDecoding.warnings(unknown, validation, into: &response)
        return response
    }

    private func undrain(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let target = try context.parameters.require("target")
        let token = try authorize(request)
        var lifted: TargetDrain?
        let stored = try await changeDrains(name, target: target) { drains in
            lifted = drains.first { $0.target == target }
            drains.removeAll { $0.target == target }
        }
        guard let lifted else {
            throw APIStatus(code: 404, reason: "NotFound", message: "target \"\(target)\" of nameservice \"\(name)\" is not drained",
                            details: .init(name: name, kind: NameService.kindName))
        }
        context.logger.notice("target undrained", metadata: [
            "nameservice": .string(name), "target": .string(target), "token": .string(token),
            "drain": .string(lifted.summary),
        ])
        return json(stored)
    }

    /// Read-modify-write of a NameService's drains, guarded by the version read and retried when
    /// another writer (a controller's spec, the reconciler's status, another replica) got between.
    /// The target must be in the spec.
    private func changeDrains(_ name: String, target: String,
                              _ change: (inout [TargetDrain]) -> Void) async throws(APIStatus) -> NameService {
        for _ in 0..<8 {
            guard let current = try await call(name, { () async throws(StoreError) in try await store.get(name) }) else {
                throw APIStatus.notFound(name)
            }
            guard current.spec.targets.contains(where: { $0.name == target }) else {
                let known = current.spec.targets.map(\.name).joined(separator: ", ")
                throw APIStatus(code: 404, reason: "NotFound",
                                message: "nameservice \"\(name)\" has no target \"\(target)\" in spec.targets (it has: \(known))",
                                details: .init(name: name, kind: NameService.kindName))
            }
            var drains = current.drains
            change(&drains)
            do {
                return try await store.updateDrains(name, drains: drains, ifVersion: current.metadata.resourceVersion)
            } catch where error.code == .conflict {
                continue
            } catch {
                throw APIStatus.from(error, name: name)
            }
        }
        throw APIStatus(code: 409, reason: "Conflict",
                        message: "nameservice \"\(name)\" kept changing while its drains were written; retry",
                        details: .init(name: name, kind: NameService.kindName))
    }

    /// The objects with this replica's live probe results filled into their target status.
    private func live(_ items: [NameService]) async -> [NameService] {
        guard let overlay = configuration.liveStatus else { return items }
        return await overlay(items)
    }

    /// The Status for a failed write; a version conflict names the current resourceVersion so the
    /// client can re-read and retry.
    private func conflictDetail(_ error: StoreError, name: String, expected: String?) async -> APIStatus {
        guard error.code == .conflict || (error.code == .notFound && expected != nil) else {
            return APIStatus.from(error, name: name)
        }
        let current: String
        do {
            current = try await store.get(name).map { "the current resourceVersion is \($0.metadata.resourceVersion ?? "unknown")" }
                ?? "the object does not exist"
        } catch {
            current = "the current resourceVersion could not be read (\(error.message))"
        }
        return APIStatus(code: 409, reason: "Conflict",
                         message: "nameservice \"\(name)\": resourceVersion \(expected.map { "\"\($0)\"" } ?? "(none)") is stale; \(current)",
                         details: .init(name: name, kind: NameService.kindName))
    }

    /// JSON or YAML by `Content-Type` (sniffed when absent); 415 for a type this API does not read.
    private func bodyFormat(_ request: Request, _ body: [UInt8]) throws(APIStatus) -> BodyDecoding.Format {
        guard let format = BodyDecoding.format(contentType: request.headers[.contentType], body: body) else {
            throw APIStatus(code: 415, reason: "UnsupportedMediaType",
                            message: "Content-Type \"\(request.headers[.contentType] ?? "")\" is not read; use application/json or application/yaml")
        }
        return format
    }

    /// The configured token's name for a write, "(auth disabled)" when no token is configured.
    private func authorize(_ request: Request) throws(APIStatus) -> String {
        let tokens = configuration.tokens  // one read: a reload may swap them meanwhile
        guard !tokens.isEmpty else { return "(auth disabled)" }
        guard let name = BearerAuth.tokenName(authorization: request.headers[.authorization], tokens: tokens) else {
            throw APIStatus.unauthorized
        }
        return name
    }

    /// The body, at most `maxBodyBytes`: a larger declared `Content-Length` is refused before
    /// reading, and the streamed size is counted too (chunked bodies declare none).
    private func readBody(_ request: Request) async throws -> [UInt8] {
        let limit = configuration.maxBodyBytes
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw APIStatus.tooLarge(limit: limit)
        }
        var bytes: [UInt8] = []
        for try await chunk in request.body {
            guard bytes.count + chunk.readableBytes <= limit else { throw APIStatus.tooLarge(limit: limit) }
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        return bytes
    }

    // MARK: reads

    private func listOrWatch(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let selector: LabelSelector?
        if let text = query["labelSelector"], !text.isEmpty {
            do {
                selector = try LabelSelector(parsing: String(text))
            } catch {
                throw APIStatus.badRequest("labelSelector: \(error.message)")
            }
        } else {
            selector = nil
        }
        let watch = query["watch"].map { $0 == "true" || $0 == "1" } ?? false
        guard watch else { return try await list(query, selector, context) }
        var from: Int64?
        if let rv = query["resourceVersion"], !rv.isEmpty, rv != "0" {
            guard let n = Int64(rv), n >= 0 else { throw APIStatus.badRequest("resourceVersion \"\(rv)\" is not a store revision") }
            from = n
        }
        var timeout: Duration?
        if let t = query["timeoutSeconds"], !t.isEmpty {
            timeout = try Self.watchTimeout(String(t))
        }
        if let from {
            try await requireReachable(from)
        }
        let lists = self.lists
        let stream = WatchStream(store: store, selector: selector, fromRevision: from, timeout: timeout,
                                 maxBufferBytes: configuration.limits.watchMaxBufferBytes, statistics: watches,
                                 pageSize: max(1, configuration.limits.maxListLimit),
                                 initialListGuard: StalledWriteGuard(channel: context.channel, timeout: configuration.limits.writeTimeout,
                                                                     onStall: { lists.stall() }),
                                 channel: context.channel, logger: context.logger)
        return Response(status: .ok,
                        headers: [.contentType: "application/json;stream=watch", .cacheControl: "no-cache"],
                        body: ResponseBody { writer in try await stream.run(&writer) })
    }

    /// A list, Kubernetes style (issue 13): `limit` (at most `api.maxListLimit` objects per page;
    /// 0 or absent: all of them) and `continue` (a previous page's token: the page after it, at
    /// that page's revision; expired → 410 Expired, not one of ours → 400). Always streamed
    /// (`ListStream`): a list of everything is read from the store page by page and written as it
    /// is encoded.
    private func list(_ query: Parameters, _ selector: LabelSelector?, _ context: APIRequestContext) async throws -> Response {
        let limit = try Self.listLimit(query["limit"].map(String.init))
        let token = query["continue"].flatMap { $0.isEmpty ? nil : String($0) }
        let maxPage = max(1, configuration.limits.maxListLimit)
        let pageSize = min(limit ?? maxPage, maxPage)
        let options = ListOptions(selector: selector, limit: pageSize, continueToken: token)
        let first: ListPage
        do {
            first = try await store.listPage(options)
        } catch {
            if error.code == .invalid, token != nil {
                throw APIStatus(code: 400, reason: "BadRequest", message: "continue: \(error.message); list again without it",
                                details: .init(causes: [APIStatus.Cause(field: "continue", reason: "FieldValueInvalid", message: error.message)]))
            }
            throw APIStatus.from(error, name: nil)
        }
        let lists = self.lists
        let stream = ListStream(store: store, selector: selector, first: first, followPages: limit == nil, pageSize: pageSize,
                                guardian: StalledWriteGuard(channel: context.channel, timeout: configuration.limits.writeTimeout,
                                                            onStall: { lists.stall() }),
                                live: configuration.liveStatus, statistics: lists, logger: context.logger)
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: ResponseBody { writer in try await stream.run(&writer) })
    }

    /// `limit` of a list: absent, empty or 0 → nil (everything, as Kubernetes); a whole number of
    /// objects ≥ 1 otherwise; anything else (negative, not a number, too large for an Int) → 400.
    static func listLimit(_ text: String?) throws(APIStatus) -> Int? {
        guard let text, !text.isEmpty else { return nil }
        guard let n = Int(text), n >= 0 else {
            throw APIStatus(code: 400, reason: "BadRequest", message: "limit \"\(text)\" is not a whole number of objects (0 or more)",
                            details: .init(causes: [APIStatus.Cause(field: "limit", reason: "FieldValueInvalid", message: "must be a whole number ≥ 0")]))
        }
        return n == 0 ? nil : n
    }

    /// The longest `timeoutSeconds` a watch may ask for: one day.
    static let maxWatchTimeoutSeconds: Double = 86_400

    /// `timeoutSeconds` of a watch: a number of seconds in (0, 86400]; anything else (NaN, ±inf,
    /// 1e300, 0, negative, not a number) is a 400, never a conversion that traps.
    static func watchTimeout(_ text: String) throws(APIStatus) -> Duration {
        guard let s = Double(text), s > 0, s <= maxWatchTimeoutSeconds else {
            throw APIStatus.badRequest("timeoutSeconds \"\(text)\" is not a number of seconds in (0, \(Int(maxWatchTimeoutSeconds))]")
        }
        return .milliseconds(Int64((s * 1000).rounded(.up)))
    }

    /// A watch from a revision the store has not reached: wait a little (`futureRevisionWait`) for
    /// it to appear, as Kubernetes does, then 504 `ResourceVersionTooLarge` with a retry hint
    /// instead of a stream that never sends anything.
    private func requireReachable(_ from: Int64) async throws(APIStatus) {
        let deadline = ContinuousClock.now + configuration.limits.futureRevisionWait
        while true {
            let current: Int64
            do {
                current = try await store.revision()
            } catch {
                return  // the stream reports the store's failure as its ERROR line, as before
            }
            if from <= current { return }
            if ContinuousClock.now >= deadline || Task.isCancelled {
                throw APIStatus(code: 504, reason: "Timeout", message: "Too large resource version: \(from), current: \(current)",
                                details: .init(causes: [APIStatus.Cause(field: "resourceVersion", reason: "ResourceVersionTooLarge",
                                                              message: "Too large resource version")],
                                               retryAfterSeconds: 1))
            }
            do { try await Task.sleep(for: .milliseconds(100)) } catch {}
        }
    }

    // MARK: helpers

    private func call<T>(_ name: String?, _ body: () async throws(StoreError) -> T) async throws(APIStatus) -> T {
        do {
            return try await body()
        } catch {
            throw APIStatus.from(error, name: name)
        }
    }

    private func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: JSONCoding.encode(value))))
    }

    private func text(_ s: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: s)))
    }
}
