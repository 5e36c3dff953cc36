import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The processes of a data-parallel job and the one collective it needs: an element-wise sum
/// that every rank receives (MPI's all-reduce). Every rank must call the collectives in the same
/// order with buffers of the same length.
public protocol Communicator: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `buffer` on every rank by the element-wise sum over ranks.
    func sum(_ buffer: UnsafeMutableBufferPointer<Float>)
    func sum(_ buffer: UnsafeMutableBufferPointer<Double>)
    /// Called once when the job's work is done.
    func finish()
}

extension Communicator {
    public var isLeader: Bool { rank == 0 }

    /// Rank 0's `decision`, on every rank (so that all ranks stop at the same step).
    public func leaderDecides(_ decision: Bool) -> Bool {
        guard size > 1 else { return decision }
        var flag = [rank == 0 && decision ? 1.0 : 0.0]
        flag.withUnsafeMutableBufferPointer { sum($0) }
        return flag[0] > 0
    }

    public func sum(_ values: inout [Double]) {
        guard size > 1 else { return }
        values.withUnsafeMutableBufferPointer { sum($0) }
    }
}

/// A job of one process: every collective is the identity.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ buffer: UnsafeMutableBufferPointer<Float>) {}
    public func sum(_ buffer: UnsafeMutableBufferPointer<Double>) {}
    public func finish() {}
}

/// Open MPI, loaded at run time with `dlopen` when the process was started by `mpirun`.
///
/// The build never needs MPI: without `mpirun` (no `OMPI_COMM_WORLD_SIZE` in the environment)
/// nothing is loaded and the program runs as one process. Open MPI's predefined handles
/// (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`) are the addresses of exported globals, which is
/// what makes binding without its header possible; MPICH's are integers, so MPICH is not supported.
public final class OpenMPI: Communicator, @unchecked Sendable {
    private typealias InitFunction = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int32
    private typealias CommIntFunction = @convention(c) (UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> Int32
    private typealias AllreduceFunction = @convention(c) (
        UnsafeRawPointer?, UnsafeMutableRawPointer, Int32, UnsafeMutableRawPointer, UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int32
    private typealias FinalizeFunction = @convention(c) () -> Int32

    public let rank: Int
    public let size: Int
    private let allreduce: AllreduceFunction
    private let finalize: FinalizeFunction
    private let world: UnsafeMutableRawPointer
    private let floatType: UnsafeMutableRawPointer
    private let doubleType: UnsafeMutableRawPointer
    private let sumOperation: UnsafeMutableRawPointer
    private var finished = false
    /// `MPI_IN_PLACE` in Open MPI's mpi.h.
    private static var inPlace: UnsafeRawPointer? { UnsafeRawPointer(bitPattern: 1) }

    /// The communicator of an `mpirun` launch, or nil when the process was not started by `mpirun`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> OpenMPI? {
        guard let sizeText = environment["OMPI_COMM_WORLD_SIZE"] else {
            if environment["PMI_SIZE"] != nil || environment["PMI_RANK"] != nil {
                throw InputError("started by an MPI launcher other than Open MPI's mpirun (PMI_SIZE is set): only Open MPI is supported")
            }
            return nil
        }
        guard let expected = Int(sizeText), expected >= 1 else {
            throw InputError("OMPI_COMM_WORLD_SIZE=\(sizeText): not a positive integer")
        }
        return try OpenMPI(expectedSize: expected)
    }

    private init(expectedSize: Int) throws {
        var handle: UnsafeMutableRawPointer? = nil
        // RTLD_GLOBAL: Open MPI's own plugins, which it dlopens, resolve symbols of libmpi.
        for name in ["libmpi.so.40", "libmpi.so"] where handle == nil {
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
        }
        guard let handle else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            throw RuntimeFailure("started by mpirun (OMPI_COMM_WORLD_SIZE=\(expectedSize)) but Open MPI's libmpi.so.40 cannot be loaded (\(reason)); install openmpi-bin")
        }
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let address = dlsym(handle, name) else { throw RuntimeFailure("libmpi has no symbol \(name): not Open MPI 4 or newer?") }
            return address
        }
        let initialize = unsafeBitCast(try symbol("MPI_Init"), to: InitFunction.self)
        let commRank = unsafeBitCast(try symbol("MPI_Comm_rank"), to: CommIntFunction.self)
        let commSize = unsafeBitCast(try symbol("MPI_Comm_size"), to: CommIntFunction.self)
        allreduce = unsafeBitCast(try symbol("MPI_Allreduce"), to: AllreduceFunction.self)
        finalize = unsafeBitCast(try symbol("MPI_Finalize"), to: FinalizeFunction.self)
        world = try symbol("ompi_mpi_comm_world")
        floatType = try symbol("ompi_mpi_float")
        doubleType = try symbol("ompi_mpi_double")
        sumOperation = try symbol("ompi_mpi_op_sum")
        guard initialize(nil, nil) == 0 else { throw RuntimeFailure("MPI_Init failed") }
        var value: Int32 = 0
        guard commRank(world, &value) == 0 else { throw RuntimeFailure("MPI_Comm_rank failed") }
        rank = Int(value)
        guard commSize(world, &value) == 0 else { throw RuntimeFailure("MPI_Comm_size failed") }
        size = Int(value)
        guard size == expectedSize else {
            throw RuntimeFailure("MPI_COMM_WORLD has \(size) ranks, OMPI_COMM_WORLD_SIZE says \(expectedSize)")
        }
    }

    private func reduce(_ base: UnsafeMutableRawPointer?, count: Int, elementSize: Int, type: UnsafeMutableRawPointer) {
        guard let base, count > 0 else { return }
        // MPI counts are 32-bit: large buffers go in pieces.
        let piece = 1 << 28
        var start = 0
        while start < count {
            let n = min(piece, count - start)
            let status = allreduce(Self.inPlace, base + start * elementSize, Int32(n), type, sumOperation, world)
            // Open MPI's default error handler aborts the job before a failure could return here.
            precondition(status == 0, "MPI_Allreduce failed with code \(status)")
            start += n
        }
    }

    public func sum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        reduce(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, elementSize: MemoryLayout<Float>.stride, type: floatType)
    }

    public func sum(_ buffer: UnsafeMutableBufferPointer<Double>) {
        reduce(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, elementSize: MemoryLayout<Double>.stride, type: doubleType)
    }

    public func finish() {
        guard !finished else { return }
        finished = true
        _ = finalize()
    }
}
