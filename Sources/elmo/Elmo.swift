import ArgumentParser
import CLISupport
import Framework
import Heads
import Models
import Optimizers

/// Every plugin of the program, registered once.
func builtinRegistries() throws -> Registries {
    var registries = Registries()
    try Models.register(into: &registries)
    try Heads.register(into: &registries)
    try Optimizers.register(into: &registries)
    return registries
}

struct Elmo: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "elmo",
            abstract: "Pretrain ELMo bidirectional language models on the CPU and use them as encoders.",
            version: "swift-elmo 0.1.0 — \(BLASRuntime.summary)",
            subcommands: [VocabCommand.self, PretrainCommand.self, EvalCommand.self, EmbedCommand.self, ImportAllenNLPCommand.self, ExportCommand.self, ExportAllenNLPCommand.self, DumpTokenEmbeddingsCommand.self, ServeForwarder.self, Word2VecCommand.self,
                          TrainCommand.self, PlotCommand.self, DataCommand.self, List.self])
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the registered encoders, heads and optimizers.")

    func run() throws {
        print(try builtinRegistries().listing())
    }
}
