import COpenBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The OpenBLAS kernel and thread choice (Debian's OpenBLAS misreads some CPUs; see the README).
///
/// Debian's OpenBLAS 0.3.21 does not recognise some recent CPUs and falls back to its SSE3
/// `Prescott` kernel, about 5× slower. OpenBLAS reads `OPENBLAS_CORETYPE` when the library loads,
/// before `main`, so the executables call ``selectKernelBeforeUse(arguments:)`` first: a value
/// already in the environment is respected; otherwise one is chosen from the CPU flags and the
/// process re-executes itself once with it set.
public enum BLASRuntime {
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"

    /// Picks a kernel from `/proc/cpuinfo` flags: avx512f → SkylakeX, avx2 → Haswell, else none.
    public static func preferredCoreType(cpuFlags: Set<String>) -> String? {
        if cpuFlags.contains("avx512f") { return "SkylakeX" }
        if cpuFlags.contains("avx2") { return "Haswell" }
        return nil
    }

    /// The `flags` line of the first processor in `/proc/cpuinfo` (empty if unreadable).
    public static func cpuFlags(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> Set<String> {
        guard let cpuinfo else { return [] }
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// Re-executes the current process with `OPENBLAS_CORETYPE` set when it is unset and the CPU
    /// supports a better kernel than OpenBLAS may pick. Returns normally when nothing is needed
    /// (or when re-execution is impossible, in which case OpenBLAS's own choice stands).
    public static func selectKernelBeforeUse() {
        if let current = getenv(coreTypeVariable), current.pointee != 0 { return }
        guard let core = preferredCoreType(cpuFlags: cpuFlags()) else { return }
        setenv(coreTypeVariable, core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv only returns on failure: carry on with the library's own choice.
    }

    /// The kernel OpenBLAS is using (`openblas_get_corename()`).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's thread count for one GEMM.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    public static func setThreads(_ n: Int) {
        precondition(n >= 1, "thread count must be at least 1")
        openblas_set_num_threads(Int32(n))
    }

    /// Cores OpenBLAS sees.
    public static var processors: Int { Int(openblas_get_num_procs()) }

    /// "OpenBLAS <config>, kernel <core>, <n> threads", the elementwise variant and the step-product backend with
    /// oneDNN's version and instruction set: for `--version` and benchmark headers.
    public static var summary: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "OpenBLAS"
        let coreType = getenv(coreTypeVariable).map { String(cString: $0) }
        let source = coreType.map { "\(coreTypeVariable)=\($0)" } ?? "auto-detected"
        return "\(config); kernel \(coreName) (\(source)); \(threads) thread\(threads == 1 ? "" : "s"); elementwise kernels \(FastMath.variant); "
            + "LSTM step products \(StepKernels.productBackend.name) (oneDNN \(PackedMatmul.version), \(PackedMatmul.isaName))"
    }
}
