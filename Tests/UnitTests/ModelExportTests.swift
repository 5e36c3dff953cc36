import Foundation
import Framework
import Models
import Testing
import TestSupport

@Suite("elmo export: a language model's encoder as a shippable model directory", .serialized)
struct ModelExportTests {
    @Test func exportedEncoderEmbedsAsTheLanguageModelDoes() throws {
        let d = BadInputTests.directory
        let out = RepositoryPaths.temporaryDirectory("export")
        let run = try BadInputTests.run(["export", "--init-from-ckpt", "\(d)/ckpt/final", "--output", "\(out)/model"])
        #expect(run.status == 0, "\(run.stderr)")
        // No softmax and no optimizer state travel; options.json and the LM's vocabulary do.
        let file = try SafeTensors.read(path: "\(out)/model/elmo.safetensors", role: "test")
        #expect(file.names.filter { $0.hasPrefix("softmax.") }.allSatisfy { file[$0]!.shape.first == 3 })
        #expect(!FileManager.default.fileExists(atPath: "\(out)/model/elmo.optim.safetensors"))
        let options = try BiLMOptions.parse(Files.readBytes("\(out)/model/options.json", role: "test"), source: "test")
        #expect(options == PretrainTests.options)
        #expect(try Vocabulary(contentsOf: "\(out)/model/vocab.txt").tokens == ["<S>", "</S>", "<UNK>", "a", "b"])
        // The same vectors as the full checkpoint, for words in and out of the LM's vocabulary.
        let sentences = [["a", "b", "a"], ["zebra", "a"], []]
        let full = try ELMoEmbedder(checkpoint: "\(d)/ckpt/final").encode(sentences)
        let exported = try ELMoEmbedder(checkpoint: "\(out)/model/elmo").encode(sentences)
        #expect(full.map(\.shape) == exported.map(\.shape))
        #expect(zip(full, exported).allSatisfy { $0.scalars == $1.scalars })
        // It embeds but is not a language model: eval and pretrain refuse it with one line.
        try BadInputTests.expectRejected(["eval", "--init-from-ckpt", "\(out)/model/elmo", "--dev-data-path", "\(d)/corpus.txt"],
                                         mentions: ["exported from final", "without its softmax"])
        try BadInputTests.expectRejected(["export", "--init-from-ckpt", "\(out)/nothing/final", "--output", "\(out)/x"],
                                         mentions: ["nothing/final.safetensors"])
    }
}
