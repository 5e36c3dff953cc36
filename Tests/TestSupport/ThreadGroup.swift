import Foundation
import Framework

/// An in-process stand-in for MPI: `size` ranks on threads of one process, with the same
/// all-reduce contract as ``OpenMPI``. Sums are taken in rank order, so every rank gets the
/// identical result whatever order the threads arrive in.
public final class ThreadGroup: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var contributions: [[Double]]
    private var arrived = 0
    private var generation = 0
    private var result: [Double] = []

    public init(size: Int) {
        precondition(size > 0)
        self.size = size
        contributions = Array(repeating: [], count: size)
    }

    /// The communicator of rank `rank` in this group.
    public func rank(_ rank: Int) -> any Communicator { ThreadRank(group: self, rank: rank) }

    fileprivate func sum(rank: Int, _ values: [Double]) -> [Double] {
        condition.lock()
        defer { condition.unlock() }
        contributions[rank] = values
        arrived += 1
        let myGeneration = generation
        if arrived == size {
            var total = contributions[0]
            for r in 1..<size {
                precondition(contributions[r].count == total.count, "ranks reduced buffers of different lengths")
                for i in total.indices { total[i] += contributions[r][i] }
            }
            result = total
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == myGeneration { condition.wait() }
        }
        return result
    }
}

private final class ThreadRank: Communicator, @unchecked Sendable {
    let group: ThreadGroup
    let rank: Int
    var size: Int { group.size }

    init(group: ThreadGroup, rank: Int) {
        self.group = group
        self.rank = rank
    }

    func sum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        // Summed in Double and rounded once, as MPI's float sum of two ranks rounds once.
        let total = group.sum(rank: rank, buffer.map(Double.init))
        for i in buffer.indices { buffer[i] = Float(total[i]) }
    }

    func sum(_ buffer: UnsafeMutableBufferPointer<Double>) {
        let total = group.sum(rank: rank, Array(buffer))
        for i in buffer.indices { buffer[i] = total[i] }
    }

    func finish() {}
}
