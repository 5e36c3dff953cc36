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
        onTwoCores { index in if index == 0 { first() } else { second() } }
    }

    /// True when the caller may occupy two cores: OpenBLAS is allowed two or more threads (inside
    /// ``both(_:_:)`` each side is held to one).
    public static var mayUseTwoCores: Bool { BLASRuntime.threads >= 2 }

    /// `body(0)` and `body(1)`, on two cores when ``mayUseTwoCores``, else in turn: the two halves of one
    /// product that write disjoint memory. OpenBLAS's thread count is left alone (the halves do not call it).
    public static func halves(_ body: (Int) -> Void) {
        guard mayUseTwoCores else {
            body(0)
            body(1)
            return
        }
        onTwoCores(body)
    }

    private static func onTwoCores(_ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            let work = IndependentWork(body: body)
            DispatchQueue.concurrentPerform(iterations: 2) { index in work.body(index) }
        }
    }
}

/// The callers of ``Parallel/both(_:_:)`` and ``Parallel/halves(_:)`` promise that the two calls touch
/// disjoint mutable state.
private struct IndependentWork: @unchecked Sendable {
    let body: (Int) -> Void
}
