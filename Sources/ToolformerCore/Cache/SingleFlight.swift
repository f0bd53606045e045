import ToolformerProtocol
import Synchronization

/// Merges identical calls in flight: the first starts the work, later ones wait for its outcome.
///
/// The work runs in a task of its own rather than in the first caller's: the protocol says shared
/// work stops only when no request waits on it any more, so the first caller cancelling must not
/// cancel it for the others. Each flight counts its waiters; the last one to leave cancels it.
public final class SingleFlight: Sendable {
    private let flights = Mutex<[CacheKey: Flight]>([:])
    private let joins = Atomic<Int>(0)

    public init() {}

    /// Runs `work` for `key`, or joins the run in flight. `joined` says whether this caller joined
    /// another's run. A cancelled caller gets `.failure(.cancelled)` at once.
    public func run(
        _ key: CacheKey, events: EventSink, callID: String, work: @escaping @Sendable (EventSink) async -> CallOutcome
    ) async -> (outcome: CallOutcome, joined: Bool) {
        // Joining happens under the table's lock, so a flight is never found before its first
        // member joined, and one its members all left (cancelled, still winding down) is replaced
        // rather than joined: a newcomer must not inherit a cancellation that was not its own.
        let (flight, ticket, joined): (Flight, UInt64, Bool) = flights.withLock { flights in
            if let existing = flights[key], let ticket = existing.join(events, callID: callID) {
                return (existing, ticket, true)
            }
            let flight = Flight()
            flights[key] = flight
            return (flight, flight.join(events, callID: callID)!, false)
        }
        if joined {
            joins.add(1, ordering: .relaxed)
        } else {
            flight.start { [self] in
                let outcome = await work(flight.fanout)
                flights.withLock { flights in
                    if flights[key] === flight { flights[key] = nil }
                }
                return outcome
            }
        }
        return (await flight.wait(ticket), joined)
    }

    /// Identical calls running now.
    public var count: Int { flights.withLock { $0.count } }

    /// Calls that joined another's run since start-up (each one a run saved).
    public var joinCount: Int { joins.load(ordering: .relaxed) }
}

private final class Flight: Sendable {
    private struct State {
        var outcome: CallOutcome?
        var waiters: [UInt64: CheckedContinuation<CallOutcome, Never>] = [:]
        /// Each waiter's sink, and the callId its events carry (its index in its own batch).
        var sinks: [UInt64: (sink: EventSink, callID: String)] = [:]
        var members = 0
        var nextTicket: UInt64 = 0
        var task: Task<Void, Never>?
        /// Every member left before the outcome: the work is being cancelled.
        var abandoned = false
    }

    private let state = Mutex(State())

    /// Forwards the shared run's events to every request still waiting on it.
    var fanout: EventSink {
        EventSink { [self] type, fields in
            for member in state.withLock({ Array($0.sinks.values) }) {
                var own = fields
                own["callId"] = .string(member.callID)
                member.sink.emit(type, own)
            }
        }
    }

    /// A ticket to wait with; nil when the flight was abandoned and must not be joined.
    func join(_ events: EventSink, callID: String) -> UInt64? {
        state.withLock { state in
            guard !state.abandoned else { return nil }
            state.nextTicket += 1
            state.members += 1
            state.sinks[state.nextTicket] = (events, callID)
            return state.nextTicket
        }
    }

    func start(_ work: @escaping @Sendable () async -> CallOutcome) {
        let task = Task { [self] in
            let outcome = await work()
            let waiters = state.withLock { state in
                state.outcome = outcome
                state.sinks = [:]
                defer { state.waiters = [:] }
                return Array(state.waiters.values)
            }
            for waiter in waiters { waiter.resume(returning: outcome) }
        }
        // Its only member may have left before the task existed: nothing would cancel it then.
        if state.withLock({ state in
            state.task = task
            return state.abandoned
        }) {
            task.cancel()
        }
    }

    func wait(_ ticket: UInt64) async -> CallOutcome {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<CallOutcome, Never>) in
                let ready: CallOutcome? = state.withLock { state in
                    if let outcome = state.outcome { return outcome }
                    if Task.isCancelled {
                        leave(ticket, &state)
                        return .failure(.cancelled())
                    }
                    state.waiters[ticket] = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let continuation = state.withLock { state in
                defer { leave(ticket, &state) }
                return state.waiters.removeValue(forKey: ticket)
            }
            continuation?.resume(returning: .failure(.cancelled()))
        }
    }

    /// A waiter leaves; the last one out cancels the shared work. Idempotent: a ticket counts
    /// once, and not at all once the outcome is out (the sinks are cleared then).
    private func leave(_ ticket: UInt64, _ state: inout State) {
        guard state.sinks.removeValue(forKey: ticket) != nil else { return }
        state.members -= 1
        if state.members == 0 && state.outcome == nil {
            state.abandoned = true
            state.task?.cancel()
        }
    }
}
