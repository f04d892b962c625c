import NIOCore

/// Tells a streaming response that its client went away.
///
/// Hummingbird's server allows half-closure, so a client that hangs up shows as an `inputClosed`
/// event on a channel that stays open, and nothing reads the inbound side while a response
/// streams. This handler sits at the front of the pipeline for the life of one watch and calls
/// `onHangUp` on that event (or when the channel goes inactive), so an idle watch ends at once
/// instead of at its next write.
final class HangUpDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    static let name = "globaldns.watch.hangUp"

    private let onHangUp: @Sendable () -> Void

    init(onHangUp: @escaping @Sendable () -> Void) {
        self.onHangUp = onHangUp
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent { onHangUp() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        onHangUp()
        context.fireChannelInactive()
    }

    /// Installs a detector on `channel` (at most one; a second watch on a kept-alive connection
    /// cannot start before the first ends).
    static func install(on channel: any Channel, _ onHangUp: @escaping @Sendable () -> Void) async throws {
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(HangUpDetector(onHangUp: onHangUp), name: name, position: .first)
        }.get()
    }

    static func remove(from channel: any Channel) async {
        do {
            try await channel.pipeline.removeHandler(name: name).get()
        } catch {
            // the channel is already closed and its pipeline torn down: nothing to remove
        }
    }
}
