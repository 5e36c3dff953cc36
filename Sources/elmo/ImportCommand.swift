import ArgumentParser
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
