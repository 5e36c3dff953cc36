import CLISupport
import Framework

// OpenBLAS picks its kernel when it loads: settle OPENBLAS_CORETYPE before anything runs.
BLASRuntime.selectKernelBeforeUse()
ProcessMemory.keepFreedBlocksForReuse()
ExitCodes.run(Bench.self, programName: "bench")
