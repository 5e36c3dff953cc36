import ArgumentParser
import CLISupport
import Framework
import Heads
import Models
import Optimizers

// OpenBLAS picks its kernel when it loads: settle OPENBLAS_CORETYPE before anything runs.
BLASRuntime.selectKernelBeforeUse()
ProcessMemory.keepFreedBlocksForReuse()
ExitCodes.run(Elmo.self, programName: "elmo")
