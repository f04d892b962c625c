import Dispatch

/// Runs an actor's jobs on one private serial dispatch queue, so the blocking SQLite calls (an
/// fsync per commit) occupy that queue's thread instead of a thread of Swift's small cooperative
/// pool, which the HTTP API and the reconciler share.
final class SerialQueueExecutor: SerialExecutor {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}
