import GSLB

/// What a prober thread tells the checker about one probe time of one target.
struct ProbeReport: Sendable {
    var target: ProbeTarget
    /// Which start of the target this belongs to; reports of a removed (or re-added) one are dropped.
    var token: UInt64
    /// nil: no verdict: skipped (the previous probe was still in flight or waiting), or, with
    /// `localErrno`, not started for this server's own lack of a resource.
    var outcome: Result<Duration, ProbeError>?
    /// The errno (EMFILE, ENFILE, ENOBUFS, ENOMEM, …) when the probe could not start for lack of
    /// a local resource; 0 otherwise.
    var localErrno: Int32 = 0
    /// True when the probe waited for a socket under the thread's budget before it started.
    var delayed = false
    /// The most probe sockets its thread has had open at once so far (never above its budget).
    var socketsHighWater: Int32 = 0
    /// Actual − scheduled start of the probe time.
    var drift: Duration
    /// When the probe ended (or was skipped).
    var time: WallTime
}

/// Changes for one prober thread's probes, sent in one command.
struct ProbeCommands: Sendable {
    struct Start: Sendable {
        var target: ProbeTarget
        var token: UInt64
        var firstDelay: Duration
    }
    var starts: [Start] = []
    /// Tokens of starts to stop (a token names one start of one target).
    var stops: [UInt64] = []

    var isEmpty: Bool { starts.isEmpty && stops.isEmpty }
}
