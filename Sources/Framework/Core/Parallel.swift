import Dispatch

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
                let work = IndependentWork(first: first, second: second)
                DispatchQueue.concurrentPerform(iterations: 2) { index in
                    if index == 0 { work.first() } else { work.second() }
                }
            }
        }
    }
}

/// The caller of ``Parallel/both(_:_:)`` promises the two closures touch disjoint mutable state.
private struct IndependentWork: @unchecked Sendable {
    let first: () -> Void
    let second: () -> Void
}
