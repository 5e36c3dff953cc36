import Foundation
import Framework

/// Perplexity of a trained BiLM on held-out text: one pass, continuous streams with carried state
/// (as in training), full softmax, no dropout. Every word and each line's end marker is predicted
/// once per direction, so the forward figure is the standard per-token perplexity of the text.
public struct Evaluation: Sendable {
    public var forwardNLL = 0.0
    public var backwardNLL = 0.0
    public var tokens = 0

    public var forwardPerplexity: Double { Foundation.exp(forwardNLL / Double(max(tokens, 1))) }
    public var backwardPerplexity: Double { Foundation.exp(backwardNLL / Double(max(tokens, 1))) }
    /// exp of the mean of the two directions' mean NLL (PaddleNLP's run_eval.py).
    public var perplexity: Double { Foundation.exp((forwardNLL + backwardNLL) / 2 / Double(max(tokens, 1))) }

    public var json: String {
        "{\"perplexity\": \(JSONText.number(perplexity)), \"forward_perplexity\": \(JSONText.number(forwardPerplexity)), "
            + "\"backward_perplexity\": \(JSONText.number(backwardPerplexity)), \"tokens\": \(tokens)}"
    }

    public static func run(model: BidirectionalLM<Float>, vocabulary: Vocabulary, corpus: Corpus, batchSize: Int,
                           unrollSteps: Int, progress: ((Evaluation) -> Void)? = nil) throws -> Evaluation {
        let stream = try SentenceStream(corpus: corpus, vocabulary: vocabulary, seed: 0, shuffle: false, singlePass: true)
        let batcher = StreamBatcher(stream: stream, rows: batchSize, steps: unrollSteps)
        var states = model.zeroStates(batch: batchSize)
        var result = Evaluation()
        var rng = SeededRandom(seed: 0)
        while let batch = try batcher.next() {
            let (report, cache) = model.loss(batch, states: &states, dropoutRate: 0, training: false, rng: &rng)
            model.release(cache)
            result.forwardNLL += report.forward.total
            result.backwardNLL += report.backward.total
            result.tokens += report.forward.tokens
            progress?(result)
        }
        guard result.tokens > 0 else { throw InputError("\(corpus.description): contains no tokens") }
        return result
    }
}
