import ArgumentParser
import CLISupport
import Foundation
import Framework
import Interop
import Models

struct ImportAllenNLPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-allennlp",
        abstract: "Convert AllenNLP / bilm-tf ELMo weights (options.json + weights.hdf5) into a checkpoint for `embed` and `--encoder elmo`.")

    @Option(help: "AllenNLP options.json.") var options: String
    @Option(help: "AllenNLP weights.hdf5 (bilm-tf dump_weights layout).") var weights: String
    @Option(help: "Checkpoint to write, DIR/STEP (DIR/STEP.safetensors).") var output: String

    func run() throws {
        guard !output.hasSuffix(".safetensors") else {
            throw InputError("--output \(output): give the checkpoint without its extension (DIR/STEP)")
        }
        let model = try AllenNLPWeights.importCheckpoint(optionsPath: options, weightsPath: weights, output: output)
        print("wrote \(BiLMCheckpoint.parametersPath(output)): \(model.parameterCount) parameters "
              + "(\(model.options.layerCount) layers of \(model.options.cellSize) cells, projection \(model.options.projectionDim)); no softmax: embedding only")
    }
}

/// A trained language model → a model directory that embeds: `DIR/elmo.safetensors` (char-CNN and LSTMs,
/// no softmax, no optimizer state), `DIR/options.json` (AllenNLP's format) and `DIR/vocab.txt` (the LM's
/// vocabulary, for the record). `--encoder elmo --init-from-ckpt DIR/elmo` and `ELMoEmbedder(checkpoint:)` load it.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a pretrained LM's encoder (no softmax, no optimizer state) with options.json and vocab.txt into a model directory.")

    @Option(help: "Checkpoint DIR/STEP of the trained language model.") var initFromCkpt: String
    @Option(help: "Model directory to write (DIR/elmo.safetensors, DIR/options.json, DIR/vocab.txt).") var output: String

    func run() throws {
        let (model, vocabulary) = try BiLMCheckpoint.loadModel(initFromCkpt)
        let resolved = try BiLMCheckpoint.resolve(initFromCkpt)
        let file = try BiLMCheckpoint.encoderFile(model, vocabulary: vocabulary, origin: URL(fileURLWithPath: resolved).lastPathComponent)
        try Files.ensureDirectory(output, role: "--output")
        try file.write(to: BiLMCheckpoint.parametersPath("\(output)/elmo"))
        try Files.writeAtomically(Array((model.options.jsonText() + "\n").utf8), to: "\(output)/options.json")
        try Files.writeAtomically(Array(vocabulary.fileText.utf8), to: "\(output)/vocab.txt")
        let encoderCount = model.parameterCount - model.softmax.parameterCount
        print("wrote \(output)/elmo.safetensors (\(encoderCount) encoder parameters; the softmax's \(model.parameterCount - encoderCount) left out), options.json, vocab.txt (\(vocabulary.count) tokens)")
    }
}

/// Our checkpoint → the `options.json` + `weights.hdf5` pair that AllenNLP (`Elmo`, `ElmoEmbedder`) and bilm-tf load.
struct ExportAllenNLPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-allennlp",
        abstract: "Write a checkpoint's char-CNN and LSTMs as AllenNLP/bilm-tf options.json + weights.hdf5 (no softmax).")

    @Option(help: "Checkpoint DIR/STEP (default: the shipped model).") var initFromCkpt = ShippedModels.elmo
    @Option(help: "options.json to write.") var outputOptions: String
    @Option(help: "weights .hdf5 to write (bilm-tf's dump_weights layout).") var outputWeights: String

    func run() throws {
        try Files.ensureParentDirectory(of: outputOptions, role: "--output-options")
        try Files.ensureParentDirectory(of: outputWeights, role: "--output-weights")
        let (model, _) = try BiLMCheckpoint.loadModel(initFromCkpt)
        try AllenNLPWeights.export(model, optionsPath: outputOptions, weightsPath: outputWeights)
        print("wrote \(outputOptions) and \(outputWeights): \(model.parameterCount - model.softmax.parameterCount) parameters "
              + "(\(model.options.layerCount) layers of \(model.options.cellSize) cells, projection \(model.options.projectionDim)); the softmax is not part of the format")
    }
}

/// bilm-tf's `dump_token_embeddings`: one `embedding` dataset [vocabulary lines, P], row k the char-CNN vector of line k.
struct DumpTokenEmbeddingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump-token-embeddings",
        abstract: "Write the char-CNN token vector of every vocabulary line to HDF5 (bilm-tf's dump_token_embeddings).")

    @Option(help: "Checkpoint DIR/STEP (default: the shipped model).") var initFromCkpt = ShippedModels.elmo
    @Option(help: "Vocabulary: one token per line; row k of the output is line k.") var vocabFile: String
    @Option(help: "HDF5 file to write (dataset `embedding`).") var output = "token_embeddings.hdf5"

    func run() throws {
        try Files.ensureParentDirectory(of: output, role: "--output")
        let (model, _) = try BiLMCheckpoint.loadModel(initFromCkpt)
        let rows = try TokenEmbeddings.dump(model, vocabularyPath: vocabFile, outputPath: output)
        print("wrote \(output): embedding [\(rows), \(model.tokenDim)]")
    }
}
