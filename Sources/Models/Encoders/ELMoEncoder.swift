import Foundation
import Framework

/// The pretrained BiLM as an encoder (PaddleNLP's run_finetune.py): per sentence the representation of
/// `<S> w… </S>` (the boundaries included, as the example averages them), reduced to one vector per
/// token by `layers`: `top` (the example), `mix` (AllenNLP's scalar mix, trained) or `average`.
///
/// Frozen (default): the BiLM runs once per distinct sentence in ``prepare(_:)`` and its features are
/// reused every epoch. Trainable: the BiLM runs in every step and back-propagates into the LSTMs and
/// the char-CNN (no dropout inside the BiLM).
public final class ELMoEncoder<T: Scalar> {
    public enum LayerChoice: String, CaseIterable, Sendable, OptionValue { case top, mix, average }

    public let embedder: ELMoEmbedder<T>
    public let choice: LayerChoice
    public let trainable: Bool
    public let mix: ScalarMix<T>?
    var model: BidirectionalLM<T> { embedder.model }
    /// Frozen features per sentence: [K, n + 2, 2P] with K = 3 for `mix`, else 1.
    var cache: [[String]: Tensor<T>] = [:]

    public var dimension: Int { 2 * model.outputDim }
    public var layerCount: Int { model.options.layerCount + 1 }

    public init(embedder: ELMoEmbedder<T>, choice: LayerChoice, trainable: Bool) {
        self.embedder = embedder
        self.choice = choice
        self.trainable = trainable
        mix = choice == .mix ? ScalarMix(layers: embedder.model.options.layerCount + 1) : nil
        let bilm = embedder.model.encoderParameters
        for p in embedder.model.softmax.parameters { p.isTrainable = false }
        for p in bilm { p.isTrainable = trainable }
        bilmParameters = trainable ? bilm : []
    }

    let bilmParameters: [Parameter<T>]
    public var parameters: [Parameter<T>] { (mix?.parameters ?? []) + bilmParameters }

    /// The layers this choice reads, [layers, n + 2, 2P] per row of a pass.
    func features(_ pass: ELMoEmbedder<T>.Representations, row: Int) -> Tensor<T> {
        let p = model.outputDim, n = pass.lengths[row] + 2
        let all = (0..<layerCount).map { ELMoEmbedder<T>.representation(pass, row: row, layer: $0, outputDim: p, keepBoundaries: true) }
        switch choice {
        case .top: return Tensor(shape: [1, n, 2 * p], scalars: all.last!)
        case .mix: return Tensor(shape: [layerCount, n, 2 * p], scalars: all.flatMap { $0 })
        case .average:
            var mean = [T](repeating: 0, count: n * 2 * p)
            for layer in all { for i in mean.indices { mean[i] += layer[i] / T(all.count) } }
            return Tensor(shape: [1, n, 2 * p], scalars: mean)
        }
    }

    public func prepare(_ sentences: [[String]]) throws {
        guard !trainable else { return }
        var distinct: [[String]] = []
        var seen = Set<[String]>()
        for s in sentences where seen.insert(s).inserted { distinct.append(s) }
        // By length, as the embedder batches: few padded steps per batch, and the features do not depend on the batch.
        distinct.sort { $0.count < $1.count }
        let batch = 64
        for start in stride(from: 0, to: distinct.count, by: batch) {
            let chunk = Array(distinct[start..<min(start + batch, distinct.count)])
            var states = model.zeroStates(batch: chunk.count)
            let representations = embedder.infer(chunk, states: &states)
            for (r, s) in chunk.enumerated() { cache[s] = features(representations, row: r) }
        }
    }

    public struct Cache {
        var features: [Tensor<T>]          // per sentence [K, n + 2, 2P]
        var pass: ELMoEmbedder<T>.BatchPass?      // trainable only
    }

    /// Vectors [B, L, D] (L = longest sentence + 2), lengths (n + 2 each) and the backward cache.
    @_specialize(exported: true, where T == Float)
    public func forwardVectors(_ sentences: [[String]]) -> (vectors: Tensor<T>, lengths: [Int], cache: Cache) {
        var pass: ELMoEmbedder<T>.BatchPass? = nil
        let features: [Tensor<T>]
        if trainable || sentences.contains(where: { cache[$0] == nil }) {
            var states = model.zeroStates(batch: sentences.count)
            // Frozen: the representations alone; trainable: with the caches the backward pass reads.
            let representations: ELMoEmbedder<T>.Representations
            if trainable {
                let run = embedder.run(sentences, states: &states)
                representations = run.representations
                pass = run
            } else {
                representations = embedder.infer(sentences, states: &states)
            }
            features = sentences.indices.map { self.features(representations, row: $0) }
        } else {
            features = sentences.map { cache[$0]! }
        }
        let b = sentences.count, l = (sentences.map(\.count).max() ?? 0) + 2, d = dimension
        var out = Tensor<T>(shape: [b, l, d])
        for (r, f) in features.enumerated() {
            let n = f.shape[1]
            let vectors: Tensor<T>
            if let mix {
                let k = f.shape[0], size = n * d
                vectors = mix.forward((0..<k).map { Tensor(shape: [n, d], scalars: Array(f.scalars[($0 * size)..<(($0 + 1) * size)])) })
            } else {
                vectors = f
            }
            out.scalars.replaceSubrange((r * l * d)..<(r * l * d + n * d), with: vectors.scalars)
        }
        return (out, sentences.map { $0.count + 2 }, Cache(features: features, pass: pass))
    }

    @_specialize(exported: true, where T == Float)
    public func backwardVectors(_ dVectors: Tensor<T>, cache: Cache) {
        guard mix != nil || trainable else { return }
        let b = cache.features.count, l = dVectors.shape[1], d = dimension, p = model.outputDim
        // Per sentence, the gradient w.r.t. each layer it read.
        var dLayers: [[Tensor<T>]] = []
        for r in 0..<b {
            let f = cache.features[r], n = f.shape[1], k = f.shape[0], size = n * d
            let dRow = Tensor(shape: [n, d], scalars: Array(dVectors.scalars[(r * l * d)..<(r * l * d + size)]))
            if let mix {
                dLayers.append(mix.backward(dRow, layers: (0..<k).map { Tensor(shape: [n, d], scalars: Array(f.scalars[($0 * size)..<(($0 + 1) * size)])) }))
            } else if choice == .top {
                dLayers.append((0..<layerCount).map { $0 == layerCount - 1 ? dRow : Tensor(shape: [n, d]) })
            } else {
                var scaled = dRow
                scaled.withUnsafeMutableBufferPointer { Kernels.scale($0, by: 1 / T(layerCount)) }
                dLayers.append(Array(repeating: scaled, count: layerCount))
            }
        }
        guard trainable, let pass = cache.pass else { return }
        var (dEmbeddings, dOutputs) = pass.scatter(dLayers, outputDim: p)
        let tokens = pass.layout.tokens
        for (k, direction) in Direction.allCases.enumerated() {
            let dx = model.backwardStack(direction, dTop: nil, dLayerOutputs: dOutputs[direction], cache: pass.stacks[direction],
                                         dropout: Dropout(rate: 0))
            dEmbeddings.withUnsafeMutableBufferPointer { de in
                dx.withUnsafeBufferPointer { g in
                    Kernels.add(g, into: UnsafeMutableBufferPointer(rebasing: de[(k * tokens * p)..<((k + 1) * tokens * p)]))
                }
            }
        }
        model.charCNN.backward(dEmbeddings, cache: pass.charCache)
    }
}

extension ELMoEncoder: Encoder where T == Float {
    public var addsSentenceBoundaries: Bool { true }

    public func forward(_ sentences: [[String]], training: Bool, rng: inout SeededRandom) -> EncodedBatch {
        let (vectors, lengths, cache) = forwardVectors(sentences)
        return EncodedBatch(vectors: TokenVectors(vectors: vectors, lengths: lengths)) { [self] dVectors in
            backwardVectors(dVectors, cache: cache)
        }
    }
}
