import Synchronization

/// A count of work under way, read without a lock: the worker's accounts in
/// delivery, the import requests a replica is serving.
final class InFlightCounter: Sendable {
    private let count = Atomic<Int>(0)

    var value: Int { count.load(ordering: .relaxed) }

    func add(_ delta: Int) {
        count.wrappingAdd(delta, ordering: .relaxed)
    }
}
