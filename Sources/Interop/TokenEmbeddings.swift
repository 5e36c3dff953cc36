import Foundation
import Framework
import Models

/// bilm-tf's `dump_token_embeddings`: the char-CNN vector of every vocabulary line, so that a model can look context-
/// independent token vectors up instead of running the char-CNN.
public enum TokenEmbeddings {
    /// Row k: the token vector [P] of `tokens[k]` (`<S>` and `</S>` get the sentence-marker characters, as in bilm-tf).
    public static func compute(_ model: BidirectionalLM<Float>, tokens: [String], chunk: Int = 512) -> Tensor<Float> {
        let width = CharacterIDs.tokenLength, p = model.tokenDim
        var out = Tensor<Float>(shape: [tokens.count, p])
        for start in stride(from: 0, to: tokens.count, by: chunk) {
            let part = tokens[start..<min(start + chunk, tokens.count)]
            var chars = [Int32](repeating: 0, count: part.count * width)
            chars.withUnsafeMutableBufferPointer { buffer in
                for (k, token) in part.enumerated() {
                    CharacterIDs.encode(token, into: UnsafeMutableBufferPointer(rebasing: buffer[(k * width)..<((k + 1) * width)]))
                }
            }
            let (vectors, _) = model.charCNN.forward(chars: chars)
            out.scalars.replaceSubrange((start * p)..<((start + part.count) * p), with: vectors.scalars)
        }
        return out
    }

    /// Reads `vocabularyPath` as bilm-tf does (a token per line, stripped; row k = line k) and writes dataset
    /// `embedding` [lines, P] to `outputPath`. Returns the number of rows.
    @discardableResult
    public static func dump(_ model: BidirectionalLM<Float>, vocabularyPath: String, outputPath: String) throws -> Int {
        let lines = try SentenceFile(path: vocabularyPath, role: "--vocab-file")
        guard lines.count > 0 else { throw InputError("--vocab-file \(vocabularyPath): empty") }
        let tokens = (0..<lines.count).map { lines.sentence($0) }
        let vectors = compute(model, tokens: tokens)
        let writer = try HDF5ArrayWriter(path: outputPath, role: "--output")
        try writer.write("embedding", shape: vectors.shape, values: vectors.scalars)
        try writer.commit()
        return tokens.count
    }
}
