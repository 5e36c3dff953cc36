import Framework
@testable import Models
import Testing

@Suite("Char-CNN windows")
struct CharCNNWindowTests {
    /// Max-pooled convolution over every window position, computed plainly: what the char-CNN's output must be
    /// when it skips the repeated windows of a token's trailing run.
    static func everyWindow(_ cnn: CharCNN<Double>, chars: [Int32]) -> [Double] {
        let length = CharacterIDs.tokenLength, e = cnn.embeddingDim, table = cnn.embedding.table.value.scalars
        var out: [Double] = []
        for t in 0..<(chars.count / length) {
            for (k, filter) in cnn.filters.enumerated() {
                let w = cnn.convolutionWeights[k].value.scalars, b = cnn.convolutionBiases[k].value.scalars
                for f in 0..<filter.count {
                    var best = -Double.infinity
                    for p in 0...(length - filter.width) {
                        var s = 0.0
                        for i in 0..<filter.width {
                            let id = Int(chars[t * length + p + i])
                            for j in 0..<e { s += table[id * e + j] * w[(i * e + j) * filter.count + f] }
                        }
                        best = max(best, s)
                    }
                    out.append(max(best + b[f], 0))
                }
            }
        }
        return out
    }

    @Test("Skipping a token's repeated trailing windows changes nothing: runs of every length, all-equal rows, no run")
    func trailingRunMatchesEveryWindow() {
        var rng = SeededRandom(seed: 4)
        let cnn = CharCNN<Double>(embeddingDim: 3, filters: [(1, 2), (3, 3), (7, 2)], highwayCount: 0, outputDim: 7, rng: &rng)
        rng.fillUniform(&cnn.convolutionBiases[1].value, -0.5, 0.5)
        let length = CharacterIDs.tokenLength
        var chars: [Int32] = []
        // The run begins at 0 (all equal), 1, …, 49 (last two differ: no run), with random ids before it.
        for runStart in 0..<length {
            let runID = Int32(1 + rng.integer(below: 261))
            for c in 0..<length {
                if c >= runStart { chars.append(runID); continue }
                var id = Int32(rng.integer(below: 262))
                if c == runStart - 1 && id == runID { id = (id + 1) % 262 }
                chars.append(id)
            }
        }
        chars += [Int32](repeating: 0, count: length)   // a padding slot
        #expect(CharCNN<Double>.trailingRunStarts(chars) == Array(0..<length) + [0])
        let (output, _) = cnn.forward(chars: chars)
        let expected = Self.everyWindow(cnn, chars: chars)
        let worst = zip(output.scalars, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(output.scalars.count == expected.count && worst <= 1e-12, "max |Δ| \(worst)")
    }
}
