import CLISupport
import Framework

// `elmo serve` lives in its own program so that the rest of elmo builds without the HTTP stack; `elmo serve` runs it.
BLASRuntime.selectKernelBeforeUse()
ProcessMemory.keepFreedBlocksForReuse()
ExitCodes.run(ServeCommand.self, programName: "elmo serve")
