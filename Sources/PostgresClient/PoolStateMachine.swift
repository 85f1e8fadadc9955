/// The pool's bookkeeping, and nothing else: which slots are idle or leased, who is waiting,
/// whether the pool is closing. Pure (no locks, threads, continuations or I/O), so every rule can
/// be unit-tested by driving it directly. `PostgresPool` keeps it under a lock and carries out the
/// actions it returns.
///
/// Rules:
/// - a slot is leased to at most one caller at a time;
/// - waiters are served first-come, first-served; a released slot goes straight to the oldest
///   waiter;
/// - the most recently released slot is reused first, so its connection stays warm while spare ones
///   stay unopened;
/// - once closed, new callers fail, waiters fail, idle slots shut down now and leased ones when
///   released.
struct PoolStateMachine: Sendable, Equatable {
    typealias Slot = Int
    typealias WaiterID = UInt64

    enum AcquireAction: Equatable {
        case lease(Slot)
        /// No slot is free: the caller is queued and waits for a `.handOver` (or its timeout /
        /// cancellation).
        case wait
        /// The pool is closed.
        case fail
    }

    enum ReleaseAction: Equatable {
        /// Give the slot to this waiter, who was the oldest.
        case handOver(Slot, to: WaiterID)
        /// Nobody waits; the slot is idle.
        case keepIdle
        /// The pool is closing: stop the slot's thread.
        case shutDown(Slot)
    }

    struct CloseAction: Equatable {
        var failWaiters: [WaiterID]
        var shutDownSlots: [Slot]
    }

    let size: Int
    /// A stack: the last element is the most recently released slot.
    private(set) var idleSlots: [Slot]
    private(set) var leasedSlots: Set<Slot> = []
    /// Oldest first.
    private(set) var waiters: [WaiterID] = []
    private(set) var isClosed = false

    init(size: Int) {
        precondition(size > 0, "a pool needs at least one connection")
        self.size = size
        self.idleSlots = Array((0..<size).reversed())  // slot 0 is used first
    }

    mutating func acquire(_ waiter: WaiterID) -> AcquireAction {
        if isClosed { return .fail }
        // Never true while anyone waits: release hands slots over directly.
        if let slot = idleSlots.popLast() {
            leasedSlots.insert(slot)
            return .lease(slot)
        }
        waiters.append(waiter)
        return .wait
    }

    mutating func release(_ slot: Slot) -> ReleaseAction {
        precondition(leasedSlots.contains(slot), "slot \(slot) released but not leased")
        if isClosed {
            leasedSlots.remove(slot)
            return .shutDown(slot)
        }
        if !waiters.isEmpty {
            return .handOver(slot, to: waiters.removeFirst())  // stays leased, now to the waiter
        }
        leasedSlots.remove(slot)
        idleSlots.append(slot)
        return .keepIdle
    }

    /// A waiter gave up (timed out or cancelled). False if it was not waiting any more (already
    /// served or failed), in which case whoever served it is responsible for it.
    mutating func removeWaiter(_ waiter: WaiterID) -> Bool {
        guard let index = waiters.firstIndex(of: waiter) else { return false }
        waiters.remove(at: index)
        return true
    }

    mutating func close() -> CloseAction {
        guard !isClosed else { return CloseAction(failWaiters: [], shutDownSlots: []) }
        isClosed = true
        let action = CloseAction(failWaiters: waiters, shutDownSlots: idleSlots.sorted())
        waiters = []
        idleSlots = []
        return action
    }
}
