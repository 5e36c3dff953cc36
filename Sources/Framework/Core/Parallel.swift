import Dispatch
import Foundation

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

    /// `work(context, 0)` and `work(context, 1)`, on two cores when ``mayUseTwoCores``, else in turn: the
    /// two halves of one product. A C function and a context rather than a closure, because handing a
    /// closure to another thread allocates, and an LSTM window splits dozens of products.
    public static func halves(_ context: UnsafeMutableRawPointer, _ work: Half) {
        guard mayUseTwoCores else {
            work(context, 0)
            work(context, 1)
            return
        }
        HelperThread.shared.run(context, work)
    }
}

/// One long-lived second thread for ``Parallel``: a hand-over is two semaphore operations and no
/// allocation (DispatchQueue.concurrentPerform allocated on each call).
private final class HelperThread: @unchecked Sendable {
    static let shared = HelperThread()
    private let start = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let busy = NSLock()
    /// Set only while a caller holds `busy` and waits on `done`.
    private var work: Parallel.Half?
    private var context: UnsafeMutableRawPointer?

    private init() {
        let thread = Thread { [unowned self] in
            while true {
                start.wait()
                work!(context!, 1)
                done.signal()
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
        start.signal()
        work(context, 0)
        done.wait()
        self.work = nil
        self.context = nil
    }
}
