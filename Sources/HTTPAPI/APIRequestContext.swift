public import Hummingbird
public import NIOCore

/// The request context of the NameService API: Hummingbird's core storage plus the connection's
/// channel, so a watch stream can end as soon as its client goes away.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client connection (a testing channel under `app.test(.router)`).
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
