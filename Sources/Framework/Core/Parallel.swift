import Dispatch
import Foundation
import Synchronization

/// Two independent pieces of work (the forward and the backward LM's LSTM stacks) on two cores.
///
/// While both run, OpenBLAS is held to one thread per caller: a recurrent GEMM of 32–128 rows gains
/// little from a second thread, but two whole stacks side by side gain nearly 2×.
public enum Parallel {
    /// Runs `first` and `second`, concurrently when OpenBLAS may use two or more threads (its thread
    /// count is restored afterwards), else one after the other. Results must not depend on which.
    public static func both(_ first: () -> Void, _ second: () -> Void) {
        let threads = BLASRuntime.threads
        guard threads >= 2 else {
            first()
            second()
            return
        }
        BLASRuntime.setThreads(1)
        defer { BLASRuntime.setThreads(threads) }
        withoutActuallyEscaping(first) { first in
            withoutActuallyEscaping(second) { second in
                var pair = (first, second)
                withUnsafeMutablePointer(to: &pair) { pointer in
                    HelperThread.shared.run(UnsafeMutableRawPointer(pointer)) { raw, index in
                        let pair = raw.assumingMemoryBound(to: ((() -> Void), (() -> Void)).self).pointee
                        if index == 0 { pair.0() } else { pair.1() }
                    }
                }
            }
        }
    }

    /// True when the caller may occupy two cores: OpenBLAS is allowed two or more threads (inside
    /// ``both(_:_:)`` each side is held to one).
    public static var mayUseTwoCores: Bool { BLASRuntime.threads >= 2 }

    /// One half of a split piece of work: `(context, 0)` and `(context, 1)` must touch disjoint memory.
    public typealias Half = @convention(c) (UnsafeMutableRawPointer, Int) -> Void

    /// `work(context, 0)` here and `work(context, 1)` on the helper thread (both here when it is busy): the
    /// two halves of one product, for callers that have checked ``mayUseTwoCores`` (``StepKernels`` checks
    /// it once per window, then holds OpenBLAS to one thread). A C function and a context rather than a
    /// closure, because handing a closure to another thread allocates, and a window splits dozens of products.
    public static func halves(_ context: UnsafeMutableRawPointer, _ work: Half) {
        HelperThread.shared.run(context, work)
    }
}

/// One long-lived second thread for ``Parallel``, handed work without allocating. Hand-overs come every
/// tenth of a millisecond or so during an LSTM window, and a sleeping thread takes tens of microseconds to
/// wake in a VM, so both sides spin briefly (as OpenBLAS's own threads do) and the helper sleeps on a
/// semaphore only after a quiet spell.
private final class HelperThread: @unchecked Sendable {
    static let shared = HelperThread()
    /// About 0.1 ms of polling before the helper goes to sleep.
    private static let spinRounds = 100_000
    /// Polls between yields of the core: when more threads are runnable than there are cores (OpenBLAS's
    /// own workers poll for a while after each threaded call), a pure spin could starve the other side.
    private static let yieldEvery = 2_000
    private let posted = Atomic<Int>(0)      // generation of the latest hand-over
    private let completed = Atomic<Int>(0)   // the generation the helper has finished
    private let sleeping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let busy = NSLock()
    /// Written by the caller before it posts a generation, read by the helper after it sees it.
    private var work: Parallel.Half?
    private var context: UnsafeMutableRawPointer?

    private init() {
        let thread = Thread { [unowned self] in
            var seen = 0
            while true {
                var spins = 0
                while posted.load(ordering: .acquiring) == seen {
                    spins += 1
                    if spins % Self.yieldEvery == 0 { sched_yield() }
                    guard spins > Self.spinRounds else { continue }
                    // Announce the sleep, then look once more: a caller that posted meanwhile either is
                    // seen here or sees `sleeping` and signals (spurious wake-ups just loop).
                    sleeping.store(true, ordering: .sequentiallyConsistent)
                    if posted.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                    sleeping.store(false, ordering: .sequentiallyConsistent)
                    spins = 0
                }
                seen = posted.load(ordering: .acquiring)
                work!(context!, 1)
                completed.store(seen, ordering: .releasing)
            }
        }
        thread.name = "elmo-helper"
        thread.start()
    }

    /// Half 0 here and half 1 on the helper; both here when the helper is busy (another caller's
    /// hand-over, or a nested one).
    func run(_ context: UnsafeMutableRawPointer, _ work: Parallel.Half) {
        guard busy.try() else {
            work(context, 0)
            work(context, 1)
            return
        }
        defer { busy.unlock() }
        self.work = work
        self.context = context
        let generation = posted.add(1, ordering: .sequentiallyConsistent).newValue
        if sleeping.load(ordering: .sequentiallyConsistent) { wake.signal() }
        work(context, 0)
        // Spin while the other half is short, yielding now and then; past that (a whole LSTM stack in
        // `both`), yield the core at every poll.
        var spins = 0
        while completed.load(ordering: .acquiring) != generation {
            spins += 1
            if spins > Self.spinRounds || spins % Self.yieldEvery == 0 { sched_yield() }
        }
    }
}
