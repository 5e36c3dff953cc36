import Foundation
import Framework
import Heads
import Models
import Optimizers
import Testing
import TestSupport

/// An encoder defined only here: a sentence's tokens map to one-hot-ish vectors by their first letter.
final class FirstLetterEncoder: Encoder {
    let dimension = 4
    var parameters: [Parameter<Float>] { [] }
    func prepare(_ sentences: [[String]]) throws {}
    func forward(_ sentences: [[String]], training: Bool, rng: inout SeededRandom) -> EncodedBatch {
        let l = max(sentences.map(\.count).max() ?? 0, 1)
        var out = Tensor<Float>(shape: [sentences.count, l, 4])
        for (r, s) in sentences.enumerated() {
            for (k, w) in s.enumerated() { out.scalars[(r * l + k) * 4 + Int(w.utf8.first! % 4)] = 1 }
        }
        return EncodedBatch(vectors: TokenVectors(vectors: out, lengths: sentences.map(\.count))) { _ in }
    }
}

/// An encoder with sentence boundaries, as ELMo's: n + 2 rows, row t = (scale₀·(t + 1), scale₁·characters).
final class BoundaryToyEncoder: Encoder {
    let dimension = 2
    let scale = Parameter(name: "toy.scale", value: Tensor<Float>(shape: [2], scalars: [0.5, -2]))
    var parameters: [Parameter<Float>] { [scale] }
    var addsSentenceBoundaries: Bool { true }
    func prepare(_ sentences: [[String]]) throws {}
    static func characters(_ s: [String], _ t: Int) -> Float { t == 0 || t == s.count + 1 ? 0 : Float(s[t - 1].count) }
    func forward(_ sentences: [[String]], training: Bool, rng: inout SeededRandom) -> EncodedBatch {
        let l = (sentences.map(\.count).max() ?? 0) + 2
        var out = Tensor<Float>(shape: [sentences.count, l, 2])
        for (r, s) in sentences.enumerated() {
            for t in 0..<(s.count + 2) {
                out.scalars[(r * l + t) * 2] = scale.value.scalars[0] * Float(t + 1)
                out.scalars[(r * l + t) * 2 + 1] = scale.value.scalars[1] * Self.characters(s, t)
            }
        }
        return EncodedBatch(vectors: TokenVectors(vectors: out, lengths: sentences.map { $0.count + 2 })) { [scale] dVectors in
            let l = dVectors.shape[1]
            for (r, s) in sentences.enumerated() {
                for t in 0..<(s.count + 2) {
                    scale.grad.scalars[0] += dVectors.scalars[(r * l + t) * 2] * Float(t + 1)
                    scale.grad.scalars[1] += dVectors.scalars[(r * l + t) * 2 + 1] * Self.characters(s, t)
                }
            }
        }
    }
}

@Suite("Downstream: plugins, sentence polarity, word2vec")
struct DownstreamTests {
    @Test func aNewEncoderTrainsThroughTheRegistry() throws {
        var registries = Registries()
        try Models.register(into: &registries)
        try Heads.register(into: &registries)
        try Optimizers.register(into: &registries)
        try registries.encoders.register(ComponentInfo(name: "first-letter", summary: "test encoder")) { _ in { _ in FirstLetterEncoder() } }
        #expect(registries.encoders.names == ["elmo", "word2vec", "random", "concat", "first-letter"])
        #expect(throws: InputError("unknown encoder 'bert' (known: elmo, word2vec, random, concat, first-letter)")) {
            try registries.encoders.make("bert", context: EncoderContext())
        }
        let encoder = try registries.encoders.make("first-letter", context: EncoderContext())
        let head = try registries.heads.make("bow", options: ["dropout": "0.1"], context: HeadContext(inputDimension: 4, classes: 2, seed: 1))
        let optimizer = try registries.optimizers.make("adam", options: ["lr": "0.05"], context: ())
        // Label: whether "b…" words (first byte % 4 == 2) dominate.
        var rng = SeededRandom(seed: 3)
        var sentences: [[String]] = [], labels: [Int] = []
        for _ in 0..<200 {
            let label = rng.integer(below: 2)
            sentences.append((0..<(2 + rng.integer(below: 5))).map { _ in rng.unitDouble() < (label == 1 ? 0.8 : 0.2) ? "bee" : "ant" })
            labels.append(label)
        }
        let trainer = ClassifierTrainer(encoder: encoder, head: head, optimizer: optimizer, seed: 4)
        trainer.batchSize = 16
        for _ in 0..<15 { trainer.trainEpoch(sentences: sentences, labels: labels, indices: Array(0..<150)) }
        #expect(trainer.accuracy(sentences: sentences, labels: labels, indices: Array(150..<200)) > 0.85)
    }

    /// `concat` lays its parts side by side per token: a part without boundaries moves down one row
    /// when another part has them, and each part's backward gets exactly its own columns and rows.
    @Test func concatenatedEncodersAlignTokensAndSplitGradients() throws {
        var registries = Registries()
        try Models.register(into: &registries)
        try registries.encoders.register(ComponentInfo(name: "boundary-toy", summary: "test encoder")) { _ in { _ in BoundaryToyEncoder() } }
        try registries.encoders.register(ComponentInfo(name: "same-names", summary: "test encoder")) { _ in { _ in BoundaryToyEncoder() } }
        func make(_ options: [String: String], trainable: Bool = true) throws -> any Encoder {
            let context = EncoderContext(trainable: trainable, seed: 5, encoders: registries.encoders,
                                         optionDefaults: ["word2vec": ["file": RepositoryPaths.path("Tests/Golden/Resources/word2vec/vectors.txt")]])
            return try registries.encoders.makeEncoder("concat", options: options, context: context)
        }
        let encoder = try make(["parts": "random,boundary-toy", "random.dim": "3"])
        let sentences = [["ab", "c", "ab"], ["xyz"]]
        try encoder.prepare(sentences)
        #expect(encoder.dimension == 5 && encoder.addsSentenceBoundaries)
        let table = encoder.parameters.first { $0.name == "embedding.table" }!, scale = encoder.parameters.first { $0.name == "toy.scale" }!
        var rng = SeededRandom(seed: 6)
        let encoded = encoder.forward(sentences, training: true, rng: &rng)
        let vectors = encoded.vectors
        #expect(vectors.lengths == [5, 3] && vectors.vectors.shape == [2, 5, 5])
        let rowOf = ["ab": 1, "c": 2, "xyz": 3]
        var expectedTableGrad = [Float](repeating: 0, count: table.count)
        var dOut = Tensor<Float>(shape: [2, 5, 5])
        rng.fillUniform(&dOut, -1, 1)
        var expectedScaleGrad: [Float] = [0, 0]
        for (r, s) in sentences.enumerated() {
            for t in 0..<5 {
                let v = Array(vectors.vectors.scalars[((r * 5 + t) * 5)..<((r * 5 + t) * 5 + 5)]), g = dOut.scalars[((r * 5 + t) * 5)..<((r * 5 + t) * 5 + 5)]
                let inside = t >= 1 && t <= s.count, inRange = t < s.count + 2
                let word = inside ? rowOf[s[t - 1]]! : 0
                // Columns 0–2: the word vector at rows 1…n, zero at the boundaries and the padding.
                #expect(Array(v[0..<3]) == (inside ? Array(table.value.scalars[(word * 3)..<(word * 3 + 3)]) : [0, 0, 0]), "row \(r) token \(t)")
                // Columns 3–4: the boundary part's own rows 0…n + 1, zero padding after.
                let toy: [Float] = inRange ? [0.5 * Float(t + 1), -2 * BoundaryToyEncoder.characters(s, t)] : [0, 0]
                #expect(Array(v[3..<5]) == toy, "row \(r) token \(t)")
                if inside { for c in 0..<3 { expectedTableGrad[word * 3 + c] += g[g.startIndex + c] } }
                if inRange {
                    expectedScaleGrad[0] += g[g.startIndex + 3] * Float(t + 1)
                    expectedScaleGrad[1] += g[g.startIndex + 4] * BoundaryToyEncoder.characters(s, t)
                }
            }
        }
        encoded.backward(dOut)
        #expect(table.grad.scalars == expectedTableGrad)
        #expect(zip(scale.grad.scalars, expectedScaleGrad).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "\(scale.grad.scalars) vs \(expectedScaleGrad)")

        // PART.trainable overrides --trainable for one part; options reach their part or are refused.
        for (override, parameters) in [("false", ["toy.scale"]), ("true", ["embedding.table", "toy.scale"])] {
            let words = try make(["parts": "word2vec,boundary-toy", "word2vec.trainable": override], trainable: override == "false")
            try words.prepare(sentences)
            #expect(words.parameters.map(\.name) == parameters)
        }
        for (options, message) in [
            ([:], "option parts is required"),
            (["parts": "random,random"], "part random is named twice"),
            (["parts": "random,concat"], "concat cannot be one of its own parts"),
            (["parts": "random,bert"], "unknown encoder 'bert'"),
            (["parts": "random,boundary-toy", "elmo.layers": "mix"], "option elmo.layers names no part"),
            (["parts": "random,boundary-toy", "random.size": "3"], "encoder random has no option size"),
            (["parts": "random,boundary-toy", "random.trainable": "maybe"], "random.trainable=maybe is invalid"),
            (["parts": "random,boundary-toy", "normalize": "batch"], "normalize"),
        ] {
            let error = #expect(throws: InputError.self) { try make(options) }
            #expect(error?.message.contains(message) == true, "\(options): \(String(describing: error))")
        }
        let clash = try make(["parts": "boundary-toy,same-names"])
        let error = #expect(throws: InputError.self) { try clash.prepare(sentences) }
        #expect(error?.message.contains("parts boundary-toy and same-names both have a parameter named toy.scale") == true)
    }

    /// `normalize=layer`: each part's token vectors are layer-normalized on their own before joining (the boundary rows
    /// a part lacks stay zero), and each part's backward gets its slice of the gradient through that normalization.
    @Test func concatenatedEncodersNormalizeEachPart() throws {
        var registries = Registries()
        try Models.register(into: &registries)
        try registries.encoders.register(ComponentInfo(name: "boundary-toy", summary: "test encoder")) { _ in { _ in BoundaryToyEncoder() } }
        let context = EncoderContext(trainable: true, seed: 5, encoders: registries.encoders)
        let plain = try registries.encoders.makeEncoder("concat", options: ["parts": "random,boundary-toy", "random.dim": "3"], context: context)
        let normalized = try registries.encoders.makeEncoder("concat", options: ["parts": "random,boundary-toy", "random.dim": "3", "normalize": "layer"], context: context)
        let sentences = [["ab", "c", "ab"], ["xyz"]]
        try plain.prepare(sentences)
        try normalized.prepare(sentences)
        var rng = SeededRandom(seed: 6)
        let before = plain.forward(sentences, training: true, rng: &rng).vectors.vectors
        let encoded = normalized.forward(sentences, training: true, rng: &rng)
        let after = encoded.vectors.vectors
        #expect(after.shape == [2, 5, 5])
        var dOut = Tensor<Float>(shape: [2, 5, 5])
        rng.fillUniform(&dOut, -1, 1)
        let norm = LayerNorm<Float>()
        var expectedTableGrad = [Float](repeating: 0, count: 4 * 3)
        let rowOf = ["ab": 1, "c": 2, "xyz": 3]
        for (r, s) in sentences.enumerated() {
            for t in 0..<5 {
                let at = (r * 5 + t) * 5
                for (columns, present) in [(0..<3, t >= 1 && t <= s.count), (3..<5, t < s.count + 2)] {
                    let raw = Tensor(shape: [1, columns.count], scalars: Array(before.scalars[(at + columns.lowerBound)..<(at + columns.upperBound)]))
                    let (expected, cache) = norm.forward(raw)
                    let got = Array(after.scalars[(at + columns.lowerBound)..<(at + columns.upperBound)])
                    #expect(got == (present ? expected.scalars : [Float](repeating: 0, count: columns.count)), "row \(r) token \(t) columns \(columns)")
                    if present && columns.lowerBound == 0 {
                        let g = Tensor(shape: [1, 3], scalars: Array(dOut.scalars[at..<(at + 3)]))
                        let word = rowOf[s[t - 1]]!
                        for (c, v) in norm.backward(g, cache: cache).scalars.enumerated() { expectedTableGrad[word * 3 + c] += v }
                    }
                }
            }
        }
        encoded.backward(dOut)
        let table = normalized.parameters.first { $0.name == "embedding.table" }!
        #expect(table.count == expectedTableGrad.count)
        #expect(zip(table.grad.scalars, expectedTableGrad).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(table.grad.scalars) vs \(expectedTableGrad)")
    }

    @Test func learningRateSchedules() throws {
        let linear = LearningRateSchedule(shape: .linear, warmupFraction: 0.2)
        #expect((0..<10).map { linear.factor(step: $0, totalSteps: 10) } == [0.5, 1, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
        #expect((0..<4).map { LearningRateSchedule().factor(step: $0, totalSteps: 4) } == [1, 1, 1, 1])
        #expect((0..<4).map { LearningRateSchedule(shape: .constant, warmupFraction: 0.5).factor(step: $0, totalSteps: 4) } == [0.5, 1, 1, 1])

        // The trainer sets the rate before every update: after the run's last one it is base / updates.
        var registries = Registries()
        try Heads.register(into: &registries)
        try Optimizers.register(into: &registries)
        let head = try registries.heads.make("bow", context: HeadContext(inputDimension: 4, classes: 2, seed: 1))
        let optimizer = try registries.optimizers.make("adam", options: ["lr": "0.05"], context: ())
        let trainer = ClassifierTrainer(encoder: FirstLetterEncoder(), head: head, optimizer: optimizer, seed: 4)
        trainer.batchSize = 16
        trainer.schedule = LearningRateSchedule(shape: .linear)
        trainer.totalSteps = trainer.updates(examples: 40, epochs: 2)
        #expect(trainer.totalSteps == 6)
        let sentences = (0..<40).map { ["w\($0 % 3)"] }, labels = (0..<40).map { $0 % 2 }
        for _ in 0..<2 { trainer.trainEpoch(sentences: sentences, labels: labels, indices: Array(0..<40)) }
        #expect(trainer.stepsTaken == 6 && optimizer.learningRate == 0.05 / 6)
    }

    /// `encoderFrozen` trains the head alone: the encoder's weights and gradients stay untouched. Thawed, the
    /// encoder trains at its own `learningRateScale`, with Adam's first-step correction (its own step count).
    @Test func frozenThenThawedEncoder() throws {
        var registries = Registries()
        try Models.register(into: &registries)
        try Heads.register(into: &registries)
        try Optimizers.register(into: &registries)
        let encoder = try registries.encoders.make("random", options: ["dim": "4"], context: EncoderContext(trainable: true, seed: 2))
        let sentences = (0..<40).map { ["w\($0 % 3)", "v\($0 % 5)"] }, labels = (0..<40).map { $0 % 2 }
        try encoder.prepare(sentences)
        let head = try registries.heads.make("bow", context: HeadContext(inputDimension: 4, classes: 2, seed: 1))
        let optimizer = try registries.optimizers.make("adam", options: ["lr": "0.01"], context: ())
        let trainer = ClassifierTrainer(encoder: encoder, head: head, optimizer: optimizer, seed: 4)
        trainer.batchSize = 16
        let table = encoder.parameters[0], initialTable = table.value.scalars, initialHead = head.parameters.map(\.value.scalars)
        table.learningRateScale = 0.5
        trainer.encoderFrozen = true
        trainer.trainEpoch(sentences: sentences, labels: labels, indices: Array(0..<40))
        #expect(table.value.scalars == initialTable && table.grad.scalars.allSatisfy { $0 == 0 })
        #expect(head.parameters.map(\.value.scalars) != initialHead)

        // Thawed: Adam's first update of an element moves it by lr·scale·sign(g) (up to ε and decay 0).
        trainer.encoderFrozen = false
        trainer.batchSize = 40
        trainer.trainEpoch(sentences: sentences, labels: labels, indices: Array(0..<40))
        let moved = zip(table.value.scalars, initialTable).map { abs($0 - $1) }.filter { $0 > 0 }
        #expect(!moved.isEmpty && moved.allSatisfy { abs($0 - 0.005) < 1e-5 }, "\(moved)")
    }

    @Test func sentencePolarityAsTheExampleReadsIt() throws {
        let data = try SentencePolarity(directory: RepositoryPaths.path("data/rt-polarity"))
        #expect(data.sentences.count == 10662)
        #expect(data.labels.filter { $0 == 1 }.count == 5331)
        #expect(data.trainIndices?.count == 9595 && data.testIndices?.count == 1067)
        #expect(Set(data.trainIndices!).isDisjoint(with: data.testIndices!))
        #expect(SentencePolarity.cleanString("It's a (great) film, isn't it?!") == "it 's a \\( great \\) film , is n't it \\? !")
        #expect(SentencePolarity.windows1252([0x63, 0x61, 0x66, 0xE9, 0x85]) == "café…")
        #expect(data.sentences.allSatisfy { !$0.isEmpty })
    }

    struct Expected: Decodable { var words: [String]; var vectors: [[Float]]; var text_vectors: [[Float]] }

    @Test(arguments: ["vectors.bin", "vectors.txt", "vectors.bin.gz", "vectors.txt.gz"])
    func word2vecFilesWrittenByGensim(_ name: String) throws {
        let directory = RepositoryPaths.path("Tests/Golden/Resources/word2vec")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: "\(directory)/expected.json")))
        let loaded = try Word2VecFile.load(path: "\(directory)/\(name)")
        #expect(loaded.words == expected.words)
        #expect(loaded.dimension == 5)
        let reference = name.contains("txt") ? expected.text_vectors : expected.vectors
        #expect(loaded.vectors == reference.flatMap { $0 })
        // Keeping only the words a task needs.
        let kept = try Word2VecFile.load(path: "\(directory)/\(name)", keep: ["東京", "naïve", "absent"])
        #expect(kept.words == ["naïve", "東京"] && kept.fileVocabularySize == 7)
    }

    @Test func word2vecBadFiles() throws {
        let directory = RepositoryPaths.path("Tests/Golden/Resources/word2vec")
        #expect(throws: InputError("word2vec file \(directory)/truncated.bin: ends inside the vector of word 7 'bad' (the header announces 7 words)")) {
            try Word2VecFile.load(path: "\(directory)/truncated.bin")
        }
        let temporary = RepositoryPaths.temporaryDirectory("w2v")
        try "hello world\n".write(toFile: "\(temporary)/header.txt", atomically: true, encoding: .utf8)
        #expect(throws: InputError("word2vec file \(temporary)/header.txt: first line must be 'VOCAB_SIZE DIMENSION', got 'hello world'")) {
            try Word2VecFile.load(path: "\(temporary)/header.txt")
        }
        try "2 3\na 0.1 0.2 0.3\nb 0.1 0.2\n".write(toFile: "\(temporary)/short.txt", atomically: true, encoding: .utf8)
        #expect(throws: InputError("word2vec file \(temporary)/short.txt: word 2 'b' has 2 values, the header says 3")) {
            try Word2VecFile.load(path: "\(temporary)/short.txt")
        }
    }

    /// A small corpus with structure: pets (cat, dog) and vehicles (car, bus) in their own contexts.
    static func skipGramCorpus(_ name: String) throws -> Corpus {
        let directory = RepositoryPaths.temporaryDirectory(name)
        var text = ""
        var rng = SeededRandom(seed: 19)
        let pets = ["cat", "dog"], vehicles = ["car", "bus"]
        for _ in 0..<4_000 {   // 44,000 words: several chunks
            if rng.integer(below: 2) == 0 {
                text += "the \(pets[rng.integer(below: 2)]) eats and sleeps and purrs near the warm bed\n"
            } else {
                text += "a \(vehicles[rng.integer(below: 2)]) drives on the road with fuel and wheels\n"
            }
        }
        try text.write(toFile: "\(directory)/corpus.txt", atomically: true, encoding: .utf8)
        return try Corpus(glob: "\(directory)/corpus.txt", role: "corpus")
    }

    static func skipGramConfig(threads: Int) -> SkipGramConfig {
        var config = SkipGramConfig()
        config.dimension = 16
        config.minCount = 1
        config.epochs = 2
        config.threads = threads
        return config
    }

    /// One thread is the sequential algorithm: its vectors are pinned bit for bit (FNV-1a of the float bits) for each
    /// kernel variant, so a change to the sampling order, the learning-rate schedule or the update arithmetic shows here.
    @Test func skipGramOneThreadIsPinned() throws {
        let trainer = try SkipGramTrainer(corpus: Self.skipGramCorpus("skipgram-pinned"), config: Self.skipGramConfig(threads: 1))
        trainer.log = { _ in }
        try trainer.train()
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in trainer.input { hash = (hash ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3 }
        // The kernels' variants round differently (FMA, the dot product's lane count); the wide two agree at 16 values.
        let pinned = ["baseline": "a20fa35128f81ade", "avx2+fma": "b8f51690f032d8bb", "avx512": "b8f51690f032d8bb"]
        #expect(String(hash, radix: 16) == pinned[FastMath.variant], "kernels \(FastMath.variant)")
    }

    /// Two workers (Hogwild) learn what one learns: both busy, the same pairs within sampling noise, a loss
    /// within a tenth, and in both the pets nearer each other than to the vehicles.
    @Test func skipGramTwoThreadsLearnWhatOneLearns() throws {
        let corpus = try Self.skipGramCorpus("skipgram-threads")
        var results: [SkipGramTrainer] = []
        for threads in [1, 2] {
            var config = Self.skipGramConfig(threads: threads)
            config.epochs = 3
            config.sample = 0   // no subsampling: the pair counts then vary only with the window draws
            let trainer = try SkipGramTrainer(corpus: corpus, config: config)
            trainer.log = { _ in }
            try trainer.train()
            #expect(trainer.input.allSatisfy { $0.isFinite })
            #expect(trainer.epochs.count == 3 && trainer.epochs.allSatisfy { $0.busyWorkers == threads }, "\(threads) threads")
            let vectors = Dictionary(uniqueKeysWithValues: trainer.words.enumerated().map { index, word in
                (word, Array(trainer.input[(index * 16)..<((index + 1) * 16)]))
            })
            func cosine(_ a: String, _ b: String) -> Float {
                let x = vectors[a]!, y = vectors[b]!
                let dot = zip(x, y).map(*).reduce(0, +)
                return dot / (x.map { $0 * $0 }.reduce(0, +).squareRoot() * y.map { $0 * $0 }.reduce(0, +).squareRoot())
            }
            #expect(cosine("cat", "dog") > cosine("cat", "car") + 0.2 && cosine("car", "bus") > cosine("bus", "dog") + 0.2,
                    "\(threads) threads: cat·dog \(cosine("cat", "dog")), cat·car \(cosine("cat", "car")), car·bus \(cosine("car", "bus"))")
            results.append(trainer)
        }
        let one = results[0].epochs.last!, two = results[1].epochs.last!
        #expect(abs(Double(two.pairs) / Double(one.pairs) - 1) < 0.02, "pairs \(one.pairs) vs \(two.pairs)")
        #expect(abs(two.lossPerPair / one.lossPerPair - 1) < 0.1, "loss \(one.lossPerPair) vs \(two.lossPerPair)")
        #expect(results[0].epochs.map(\.words) == results[1].epochs.map(\.words))
    }

    @Test func skipGramWritesWhatTheLoaderReads() throws {
        let directory = RepositoryPaths.temporaryDirectory("skipgram")
        var text = ""
        var rng = SeededRandom(seed: 9)
        for _ in 0..<300 { text += ["the cat sat", "a dog ran", "the dog sat", "a cat ran"][rng.integer(below: 4)] + "\n" }
        try text.write(toFile: "\(directory)/corpus.txt", atomically: true, encoding: .utf8)
        var config = SkipGramConfig()
        config.dimension = 8
        config.minCount = 1
        config.epochs = 2
        config.sample = 0
        let trainer = try SkipGramTrainer(corpus: Corpus(glob: "\(directory)/corpus.txt", role: "corpus"), config: config)
        trainer.log = { _ in }
        try trainer.train()
        try trainer.write(to: "\(directory)/v.bin")
        let loaded = try Word2VecFile.load(path: "\(directory)/v.bin")
        #expect(loaded.words == trainer.words && loaded.vectors == trainer.input)
        #expect(Set(loaded.words) == ["the", "cat", "sat", "a", "dog", "ran"])
    }
}
