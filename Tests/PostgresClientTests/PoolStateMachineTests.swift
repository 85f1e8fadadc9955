import Testing

@testable import PostgresClient

@Suite struct PoolStateMachineTests {
    @Test func leasesEachSlotOnceThenQueues() {
        var machine = PoolStateMachine(size: 2)
        #expect(machine.acquire(1) == .lease(0))
        #expect(machine.acquire(2) == .lease(1))
        #expect(machine.acquire(3) == .wait)
        #expect(machine.leasedSlots == [0, 1])
        #expect(machine.waiters == [3])
    }

    @Test func releasedSlotsGoToTheOldestWaiter() {
        var machine = PoolStateMachine(size: 1)
        #expect(machine.acquire(1) == .lease(0))
        for id: UInt64 in 2...5 { #expect(machine.acquire(id) == .wait) }
        for id: UInt64 in 2...5 { #expect(machine.release(0) == .handOver(0, to: id)) }
        #expect(machine.release(0) == .keepIdle)
        #expect(machine.idleSlots == [0])
        #expect(machine.leasedSlots.isEmpty)
    }

    @Test func theMostRecentlyReleasedSlotIsReusedFirst() {
        var machine = PoolStateMachine(size: 3)
        #expect(machine.acquire(1) == .lease(0))
        #expect(machine.acquire(2) == .lease(1))
        #expect(machine.release(1) == .keepIdle)
        #expect(machine.acquire(3) == .lease(1))  // warm, rather than the never-opened slot 2
        #expect(machine.release(0) == .keepIdle)
        #expect(machine.release(1) == .keepIdle)
        #expect(machine.acquire(4) == .lease(1))
    }

    @Test func aWaiterThatGivesUpIsSkipped() {
        var machine = PoolStateMachine(size: 1)
        _ = machine.acquire(1)
        _ = machine.acquire(2)
        _ = machine.acquire(3)
        _ = machine.acquire(4)
        #expect(machine.removeWaiter(3) == true)
        #expect(machine.removeWaiter(3) == false)
        #expect(machine.release(0) == .handOver(0, to: 2))
        #expect(machine.release(0) == .handOver(0, to: 4))
        #expect(machine.release(0) == .keepIdle)
    }

    @Test func aServedWaiterCannotBeRemovedAnyMore() {
        var machine = PoolStateMachine(size: 1)
        _ = machine.acquire(1)
        _ = machine.acquire(2)
        #expect(machine.release(0) == .handOver(0, to: 2))
        // E.g. its timeout fires just after it was served.
        #expect(machine.removeWaiter(2) == false)
        #expect(machine.leasedSlots == [0])
    }

    @Test func closeFailsWaitersAndShutsSlotsDownAsTheyComeBack() {
        var machine = PoolStateMachine(size: 3)
        _ = machine.acquire(1)  // slot 0
        _ = machine.acquire(2)  // slot 1
        _ = machine.acquire(3)  // slot 2
        _ = machine.acquire(4)
        _ = machine.acquire(5)
        #expect(machine.release(2) == .handOver(2, to: 4))
        #expect(machine.close() == .init(failWaiters: [5], shutDownSlots: []))
        #expect(machine.acquire(6) == .fail)
        #expect(machine.release(0) == .shutDown(0))
        #expect(machine.release(2) == .shutDown(2))
        #expect(machine.release(1) == .shutDown(1))
        #expect(machine.leasedSlots.isEmpty)
        #expect(machine.close() == .init(failWaiters: [], shutDownSlots: []))
    }

    @Test func closeShutsIdleSlotsDownAtOnce() {
        var machine = PoolStateMachine(size: 3)
        _ = machine.acquire(1)
        #expect(machine.close() == .init(failWaiters: [], shutDownSlots: [1, 2]))
        #expect(machine.release(0) == .shutDown(0))
    }
}
