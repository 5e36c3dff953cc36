import Foundation
import Framework
import Interop
import Testing
import TestSupport

/// `elmo embed` reads its input as `allennlp elmo` does: the same sentence keys, tokens and `sentence_to_index`
/// string as Python's own reading of an input built to hit every rule (generate/embed_reference.py).
@Suite("embed input and sentence_to_index match Python's reading")
struct EmbedInputGoldenTests {
    static let directory = RepositoryPaths.path("Tests/Golden/Resources/embed")

    @Test func linesKeysTokensAndIndexAsPython() throws {
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(Self.directory)/expected.json"))) as! [String: Any]
        let sentences = expected["sentences"] as! [String], tokens = expected["tokens"] as! [[String]]
        let file = try SentenceFile(path: "\(Self.directory)/sentences.txt", role: "test")
        #expect(file.count == sentences.count)
        for i in 0..<min(file.count, sentences.count) {
            // Compared as code points: Swift's String equality would treat canonically equivalent keys as equal.
            #expect(Array(file.sentence(i).unicodeScalars) == Array(sentences[i].unicodeScalars), "line \(i): \(file.sentence(i).debugDescription)")
            #expect(file.tokens(i).map { Array($0.unicodeScalars) } == tokens[i].map { Array($0.unicodeScalars) }, "line \(i) tokens")
            #expect(Int(file.tokenCounts[i]) == tokens[i].count)
        }
        #expect(file.sentenceToIndexJSON() == Array((expected["sentence_to_index"] as! String).utf8))
        #expect(file.blankLines.isEmpty)
    }

    @Test func blankLinesFoundAsAllenNLPFindsThem() throws {
        // Whitespace-only lines count as blank (strip() leaves nothing); a final newline adds no line.
        let file = try SentenceFile(bytes: Array("a\n \t\nb\r\n\u{85}\r\n\nc\n".utf8), source: "test")
        #expect(file.count == 6)
        #expect(file.blankLines == [1, 3, 4])
        #expect(try SentenceFile(bytes: [], source: "test").count == 0)
        #expect(throws: InputError.self) { try SentenceFile(bytes: [0x61, 0x0A, 0xE9, 0x0A], source: "test") }
    }
}
