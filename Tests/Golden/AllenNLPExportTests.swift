import Foundation
import Framework
import Interop
import Models
import Testing
import TestSupport

/// `elmo export-allennlp` and `elmo dump-token-embeddings`: our checkpoints as the files AllenNLP and bilm-tf load.
@Suite("AllenNLP export and token-embedding dump")
struct AllenNLPExportTests {
    static let golden = AllenNLPImportTests.directory

    @Test func importThenExportGivesBackTheH5pyWrittenArrays() throws {
        let d = RepositoryPaths.temporaryDirectory("export-allennlp")
        let (model, _) = try AllenNLPWeights.load(optionsPath: "\(Self.golden)/options.json", weightsPath: "\(Self.golden)/weights.hdf5")
        try AllenNLPWeights.export(model, optionsPath: "\(d)/options.json", weightsPath: "\(d)/weights.hdf5")
        // Every array of the file numpy/h5py wrote, unchanged (the char table back to bilm-tf's 261 rows).
        let original = try HDF5File(path: "\(Self.golden)/weights.hdf5", role: "test"), exported = try HDF5File(path: "\(d)/weights.hdf5", role: "test")
        let names = AllenNLPWeights.sources(model.options).map(\.dataset)
        #expect(names.count == 25)   // char_embed, 3 filters × 2, 1 highway × 4, projection × 2, 2 directions × 2 layers × 3
        for name in names {
            let a = try original.floats(name), b = try exported.floats(name)
            #expect(a.shape == b.shape, "\(name)")
            #expect(a.values == b.values, "\(name)")
        }
        #expect(try exported.shape("char_embed") == [261, 4])
        #expect(try BiLMOptions.parse(Files.readBytes("\(d)/options.json", role: "test"), source: "test") == model.options)
    }

    @Test func exportThenImportIsBitIdentical() throws {
        let d = RepositoryPaths.temporaryDirectory("export-roundtrip")
        let options = BiLMOptions(cellSize: 24, projectionDim: 8, layerCount: 2, cellClip: 3, projectionClip: 3, skipConnections: true,
                                  charEmbeddingDim: 4, filters: [[1, 4], [2, 6]], highwayCount: 2, maxCharactersPerToken: 50, activation: "relu")
        var rng = SeededRandom(seed: 12)
        let model = BidirectionalLM<Float>(options: options, vocabularySize: 7, rng: &rng)
        try AllenNLPWeights.export(model, optionsPath: "\(d)/options.json", weightsPath: "\(d)/weights.hdf5")
        let (back, _) = try AllenNLPWeights.load(optionsPath: "\(d)/options.json", weightsPath: "\(d)/weights.hdf5")
        #expect(back.options == options)
        let softmax = Set(model.softmax.parameters.map(\.name))
        let theirs = Dictionary(uniqueKeysWithValues: back.parameters.map { ($0.name, $0) })
        for p in model.parameters where !softmax.contains(p.name) {
            #expect(theirs[p.name]?.value.scalars == p.value.scalars, "\(p.name)")
        }
        // Exporting twice writes the same bytes (no timestamps).
        try AllenNLPWeights.export(model, optionsPath: "\(d)/again.json", weightsPath: "\(d)/again.hdf5")
        #expect(try Files.readBytes("\(d)/weights.hdf5", role: "test") == Files.readBytes("\(d)/again.hdf5", role: "test"))
    }

    @Test func tokenEmbeddingsAreLayerZeroOfEachVocabularyLine() throws {
        let d = RepositoryPaths.temporaryDirectory("dump-tokens")
        let (model, vocabulary) = try AllenNLPWeights.load(optionsPath: "\(Self.golden)/options.json", weightsPath: "\(Self.golden)/weights.hdf5")
        let lines = ["<S>", "</S>", "<UNK>", "the", "naïve", String(repeating: "x", count: 70), "the"]
        try (lines.joined(separator: "\r\n") + "\n").write(toFile: "\(d)/vocab.txt", atomically: true, encoding: .utf8)
        #expect(try TokenEmbeddings.dump(model, vocabularyPath: "\(d)/vocab.txt", outputPath: "\(d)/tokens.hdf5") == lines.count)
        let (shape, table) = try HDF5File(path: "\(d)/tokens.hdf5", role: "test").floats("embedding")
        let p = model.tokenDim
        #expect(shape == [lines.count, p])
        // What the embedder computes for the same token inside a sentence: layer 0 (markers at the sentence's ends).
        let embedder = ELMoEmbedder(model: model, vocabulary: vocabulary)
        var states = model.zeroStates(batch: 1)
        let pass = embedder.infer([["the", "naïve", String(repeating: "x", count: 70), "<UNK>"]], states: &states)
        let layer0 = ELMoEmbedder.representation(pass, row: 0, layer: 0, outputDim: model.outputDim, keepBoundaries: true)
        let d2 = 2 * model.outputDim
        for (line, position) in [(0, 0), (1, 5), (3, 1), (4, 2), (5, 3), (2, 4), (6, 1)] {
            #expect(Array(table[(line * p)..<((line + 1) * p)]) == Array(layer0[(position * d2)..<(position * d2 + p)]), "line \(line)")
        }
    }
}
