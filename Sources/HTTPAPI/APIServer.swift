#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Hummingbird
public import Logging
public import NIOCore
import NIOPosix
public import ServiceLifecycle

/// The API as a `Service` on threads of its own (issue 12): each `run()` starts an event-loop group
/// of `limits.threads` threads at nice `limits.niceness`, serves the API there, and stops the group
/// when it returns (a supervisor may run it again).
///
/// Connections are accepted and read on those threads (Hummingbird's `eventLoopGroupProvider`),
/// and the request handling itself (routing, store calls, JSON encoding, watch streams) runs
/// there as well: the whole server runs under a Swift task-executor preference for the group
/// (SE-0417), which every connection's child task inherits, so it competes neither with the DNS
/// event loops nor with the shared cooperative pool. Work that hops to an actor (the store's, for
/// instance) runs where that actor runs.
public struct APIServer: Service {
    public let api: NameServiceAPI
    public let address: BindAddress
    public let serverName: String?
    /// The listen address as the configuration wrote it, for error messages.
    public let listen: String?
    let onServerRunning: @Sendable (any Channel) async -> Void

    public init(api: NameServiceAPI, address: BindAddress, serverName: String? = "globaldns", listen: String? = nil,
                onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) {
        self.api = api
        self.address = address
        self.listen = listen
        self.serverName = serverName
        self.onServerRunning = onServerRunning
    }

    public func run() async throws {
        let limits = api.configuration.limits
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, limits.threads))
        do {
            await Self.lowerPriority(of: group, to: limits.niceness, logger: api.logger)
            let app = api.makeApplication(address: address, serverName: serverName, eventLoopGroup: group,
                                          onServerRunning: onServerRunning)
            if #available(macOS 15.0, *) {
                try await withTaskExecutorPreference(EventLoopGroupTaskExecutor(group)) {
                    try await app.run()
                }
            } else {
                try await app.run()
            }
        } catch let error as IOError where [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(error.errnoCode) {
            try? await group.shutdownGracefully()
            // NIO says `bind(descriptor:ptr:bytes:): Address already in use`, not where (issue 14).
            throw APIListenError(listen: listen ?? "\(address)", errno: error.errnoCode)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    /// Sets the nice value of each of the group's threads (Linux: `setpriority(PRIO_PROCESS, 0, …)`
    /// acts on the calling thread). Raising it needs no privilege; failures are logged only.
    static func lowerPriority(of group: MultiThreadedEventLoopGroup, to niceness: Int, logger: Logger) async {
        #if os(Linux)
        guard niceness > 0 else { return }
        for loop in group.makeIterator() {
            let rc: Int32
            do {
                rc = try await loop.submit { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Int32(niceness)) }.get()
            } catch {
                rc = -1
            }
            if rc != 0 {
                logger.warning("could not lower the API threads' priority", metadata: ["niceness": "\(niceness)", "errno": "\(errno)"])
            }
        }
        #endif
    }
}

/// A Swift `TaskExecutor` that runs jobs on an event-loop group's threads (NIO 2.101's event loops
/// are serial executors only). A task's jobs never run concurrently, so a job may go to any loop.
@available(macOS 15.0, *)
final class EventLoopGroupTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let group: any EventLoopGroup

    init(_ group: any EventLoopGroup) { self.group = group }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let loop = group.any()
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

/// The API listener could not be opened: where, and why in words.
public struct APIListenError: Error, CustomStringConvertible {
    /// The address as configured (`api.listen`).
    public let listen: String
    public let errno: Int32

    public var description: String {
        let hint = switch errno {
        case EADDRINUSE: "; another process holds it (ss -lntp shows which)"
        case EACCES: "; ports below 1024 need root or CAP_NET_BIND_SERVICE"
        default: "; no interface of this host has that address"
        }
        return "cannot listen on the API address \(listen) (api.listen): \(String(cString: strerror(errno))) (errno \(errno))\(hint)"
    }
}
