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
