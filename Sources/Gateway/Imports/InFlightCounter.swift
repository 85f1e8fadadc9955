import Synchronization

/// A count shared by the worker loop and its delivery tasks.
final class InFlightCounter: Sendable {
    private let count = Atomic<Int>(0)

    var value: Int { count.load(ordering: .relaxed) }

    func add(_ delta: Int) {
        count.wrappingAdd(delta, ordering: .relaxed)
    }
}
