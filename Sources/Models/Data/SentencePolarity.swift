import Foundation
import Framework

/// Sentence polarity dataset v1.0 (rt-polarity): `rt-polarity.pos` (label 1) then `rt-polarity.neg`
/// (label 0), Windows-1252 bytes, tokenized as Kim (2014) / PaddleNLP's example do.
public struct SentencePolarity: Sendable {
    public var sentences: [[String]]
    public var labels: [Int]
    /// The shipped split (PaddleNLP's sklearn split, random_state 2020), if present: indices into `sentences`.
    public var trainIndices: [Int]?
    public var testIndices: [Int]?

    /// Reads `DIR/rt-polarity.pos`, `DIR/rt-polarity.neg` and, when present, `DIR/split-random-state-2020.tsv`.
    /// Sentences are cut at `maxTokens` tokens.
    public init(directory: String, maxTokens: Int = 256) throws {
        sentences = []
        labels = []
        for (file, label) in [("rt-polarity.pos", 1), ("rt-polarity.neg", 0)] {
            let bytes = try Files.readBytes("\(directory)/\(file)", role: "--data-dir file")
            // Split the raw bytes on \n first: 0x85 decodes to U+2026 in Windows-1252 but would be a
            // line break in Latin-1.
            for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
                let text = Self.windows1252(line)
                if text.allSatisfy(\.isWhitespace) { continue }
                sentences.append(Array(Self.cleanString(text).split(separator: " ").map(String.init).prefix(maxTokens)))
                labels.append(label)
            }
        }
        let splitPath = "\(directory)/split-random-state-2020.tsv"
        if FileManager.default.fileExists(atPath: splitPath) {
            let bytes = try Files.readBytes(splitPath, role: "split file")
            guard let text = String(validatingUTF8Bytes: bytes) else { throw InputError("split file \(splitPath): not valid UTF-8") }
            var train: [Int] = [], test: [Int] = []
            for (number, line) in text.split(separator: "\n").enumerated() where !line.hasPrefix("#") && line != "split\tindex" {
                let fields = line.split(separator: "\t")
                guard fields.count == 2, let index = Int(fields[1]), index >= 0, index < sentences.count,
                      fields[0] == "train" || fields[0] == "test" else {
                    throw InputError("split file \(splitPath) line \(number + 1): expected 'train|test<TAB>index' with index < \(sentences.count)")
                }
                if fields[0] == "train" { train.append(index) } else { test.append(index) }
            }
            trainIndices = train
            testIndices = test
        }
    }

    /// Windows-1252 → String (0x80–0x9F are typographic characters there, not C1 controls).
    public static func windows1252<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let high: [UInt32] = [0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
                              0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178]
        var s = String.UnicodeScalarView()
        for b in bytes {
            let value = (0x80...0x9F).contains(b) ? high[Int(b) - 0x80] : UInt32(b)
            s.append(Unicode.Scalar(value)!)
        }
        return String(s)
    }

    /// Kim's `clean_str` (CNN_sentence), as the example applies it, lower-cased. Its replacement strings
    /// `\(`, `\)`, `\?` keep the backslash, so those tokens carry it, as in the example.
    public static func cleanString(_ text: String) -> String {
        var s = String(text.unicodeScalars.map { c -> Character in
            let allowed = (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || "(),!?'`".unicodeScalars.contains(c)
            return allowed ? Character(c) : " "
        })
        for (pattern, replacement) in [("'s", " 's"), ("'ve", " 've"), ("n't", " n't"), ("'re", " 're"), ("'d", " 'd"), ("'ll", " 'll"),
                                       (",", " , "), ("!", " ! "), ("(", " \\( "), (")", " \\) "), ("?", " \\? ")] {
            s = s.replacingOccurrences(of: pattern, with: replacement)
        }
        return s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ").lowercased()
    }
}
