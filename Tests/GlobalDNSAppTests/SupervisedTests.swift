@testable import GlobalDNSApp
import Logging
import ServiceLifecycle
import Testing

/// `lifecycle.onComponentFailure` on a real `ServiceGroup`: a failing component next to one that
/// runs until graceful shutdown (standing in for the DNS listeners).
@Suite struct SupervisedTests {
    struct Failing: Service {
        func run() async throws { throw TestFailure("port taken") }
    }

    struct Returning: Service {
        func run() async throws {}
    }

    /// Runs until graceful shutdown, then records that it drained.
    final class Serving: Service, Sendable {
        let drained = ComponentFailures()
        func run() async throws {
            try? await gracefulShutdown()
            drained.record("serving", "drained")
        }
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    func group(_ failing: any Service, policy: ComponentFailurePolicy, failures: ComponentFailures,
               serving: Serving) -> ServiceGroup {
        let logger = Logger(label: "test")
        return ServiceGroup(configuration: .init(
            services: [.init(service: serving, failureTerminationBehavior: .gracefullyShutdownGroup),
                       Supervised(component: "api", service: failing, policy: policy, failures: failures, logger: logger).configuration],
            logger: logger))
    }

    @Test func keepServingRecordsTheFailureAndTheRestRuns() async throws {
        for failing in [Failing() as any Service, Returning()] {
            let failures = ComponentFailures()
            let serving = Serving()
            let g = group(failing, policy: .keepServing, failures: failures, serving: serving)
            let run = Task { try await g.run() }
            for _ in 0..<200 where failures.all.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
            #expect(failures.all == [failing is Failing ? "api: port taken" : "api: stopped unexpectedly"])
            #expect(serving.drained.all.isEmpty, "the group stopped on a component failure under keepServing")
            await g.triggerGracefulShutdown()
            try await run.value
            #expect(serving.drained.all == ["serving: drained"])
        }
    }

    @Test func exitDrainsTheRestAndEndsWithTheFailure() async throws {
        let failures = ComponentFailures()
        let serving = Serving()
        let g = group(Failing(), policy: .exit, failures: failures, serving: serving)
        do {
            try await g.run()
            Issue.record("the group ran on after a component failure under exit")
        } catch let error as ComponentFailure {
            #expect(error.component == "api" && error.reason == "port taken")
        }
        #expect(serving.drained.all == ["serving: drained"], "the other service was not shut down gracefully")
    }

    @Test func readiness() {
        #expect(GlobalDNSServer.readiness(failed: [], storeProblem: nil, planServed: true).ready)
        #expect(!GlobalDNSServer.readiness(failed: [], storeProblem: nil, planServed: false).ready)
        let store = GlobalDNSServer.readiness(failed: [], storeProblem: "the store is failing", planServed: true)
        #expect(!store.ready && store.reason.contains("store is failing") && store.reason.contains("last plan"))
        let failed = GlobalDNSServer.readiness(failed: ["api: port taken"], storeProblem: nil, planServed: true)
        #expect(!failed.ready && failed.reason.contains("api: port taken"))
    }
}
