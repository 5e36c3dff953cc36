import Foundation
import Framework
import Models

/// Small random-weight language models saved as checkpoints, for tests that drive `elmo embed` or `elmo serve`.
public enum RandomModel {
    /// Saves a model of `cellSize` cells and `projectionDim` outputs (2 layers, a 2-filter char-CNN) as `directory/model`
    /// and returns that checkpoint prefix; `rng` goes on to make the test's inputs.
    public static func checkpoint(in directory: String, cellSize: Int, projectionDim: Int, rng: inout SeededRandom) -> String {
        checkpoint(in: directory, options: BiLMOptions(cellSize: cellSize, projectionDim: projectionDim, layerCount: 2, cellClip: 3,
                                                       projectionClip: 3, skipConnections: true, charEmbeddingDim: 8, filters: [[1, 16], [2, 16]],
                                                       highwayCount: 1, maxCharactersPerToken: 50, activation: "relu"), rng: &rng)
    }

    /// The shipped model's shape (cells 512, projection 256, 512 filters, two highways), random weights.
    public static let shippedShape = BiLMOptions(cellSize: 512, projectionDim: 256, layerCount: 2, cellClip: 3, projectionClip: 3,
                                                 skipConnections: true, charEmbeddingDim: 16, filters: [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256]],
                                                 highwayCount: 2, maxCharactersPerToken: 50, activation: "relu")

    public static func checkpoint(in directory: String, options: BiLMOptions, rng: inout SeededRandom) -> String {
        let vocabulary = try! Vocabulary(tokens: ["the", "cat"])
        let model = BidirectionalLM<Float>(options: options, vocabularySize: vocabulary.count, rng: &rng)
        try! BiLMCheckpoint.parametersFile(model, vocabulary: vocabulary).write(to: "\(directory)/model.safetensors")
        return "\(directory)/model"
    }
}
