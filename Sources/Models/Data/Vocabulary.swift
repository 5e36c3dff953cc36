import Foundation
import Framework

/// The softmax vocabulary: token ↔ id, with bilm-tf's specials `<S>`, `</S>`, `<UNK>`.
///
/// Reads bilm-tf's format (the specials among the lines, normally first) and PaddleNLP's (no specials:
/// they are prepended). WikiText's own unknown-word token `<unk>` is read as `<UNK>`.
public struct Vocabulary: Sendable, Equatable {
    public static let unknown = "<UNK>"
    public private(set) var tokens: [String]
    private var ids: [String: Int32]
    public let beginID: Int32, endID: Int32, unknownID: Int32

    public var count: Int { tokens.count }

    /// `tokens` in id order; the specials are prepended when missing. Duplicates are an error naming `source`.
    public init(tokens given: [String], source: String = "vocabulary") throws {
        var tokens: [String] = []
        var ids: [String: Int32] = [:]
        let specials = [CharacterIDs.sentenceBegin, CharacterIDs.sentenceEnd, Vocabulary.unknown]
        let givenSet = Set(given)
        for special in specials where !givenSet.contains(special) {
            ids[special] = Int32(tokens.count)
            tokens.append(special)
        }
        for (line, token) in given.enumerated() {
            guard ids[token] == nil else {
                let first = given.firstIndex(of: token).map { $0 + 1 } ?? 0
                throw InputError("\(source) line \(line + 1): duplicate entry \"\(token)\" (first on line \(first))")
            }
            ids[token] = Int32(tokens.count)
            tokens.append(token)
        }
        self.tokens = tokens
        self.ids = ids
        beginID = ids[CharacterIDs.sentenceBegin]!
        endID = ids[CharacterIDs.sentenceEnd]!
        unknownID = ids[Vocabulary.unknown]!
    }

    /// Reads a vocab file: one token per line (anything after the first whitespace, e.g. a count, is ignored).
    public init(contentsOf path: String) throws {
        let bytes = try Files.readBytes(path, role: "vocab file")
        guard let text = String(validatingUTF8Bytes: bytes) else {
            throw InputError("vocab file \(path): not valid UTF-8 text")
        }
        var tokens: [String] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            let token = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).first.map(String.init)
            guard let token else {
                if index == lines.count - 1 { continue }   // the newline that ends the last line
                throw InputError("vocab file \(path) line \(index + 1): empty line")
            }
            if token == "!!!MAXTERMID" { continue }   // bilm-tf's marker line
            tokens.append(token)
        }
        guard !tokens.isEmpty else { throw InputError("vocab file \(path): is empty") }
        try self.init(tokens: tokens, source: "vocab file \(path)")
    }

    @inlinable public func token(_ id: Int32) -> String { tokens[Int(id)] }

    /// The id of `token`; unknown words (and WikiText's `<unk>`) map to `<UNK>`.
    public func id(_ token: String) -> Int32 { ids[token] ?? unknownID }

    public func contains(_ token: String) -> Bool { ids[token] != nil }

    /// One token per line, specials first, as bilm-tf writes it.
    public var fileText: String { tokens.joined(separator: "\n") + "\n" }

    /// Counts tokens over `corpus` and keeps those seen at least `minCount` times, most frequent first
    /// (ties by token, so the result is deterministic), at most `maxSize` words besides the specials.
    public static func build(from corpus: Corpus, minCount: Int, maxSize: Int?) throws -> Vocabulary {
        var counts: [String: Int] = [:]
        try corpus.forEachSentence { tokens in
            for token in tokens { counts[token, default: 0] += 1 }
        }
        return try build(counts: counts, minCount: minCount, maxSize: maxSize, source: corpus.description)
    }

    /// The same from word counts gathered elsewhere (`source` names them in errors).
    public static func build(counts: [String: Int], minCount: Int, maxSize: Int?, source: String) throws -> Vocabulary {
        var counts = counts
        guard !counts.isEmpty else { throw InputError("\(source): contains no tokens") }
        // The corpus's own unknown-word markers are <UNK>, not words.
        for marker in ["<unk>", Vocabulary.unknown, CharacterIDs.sentenceBegin, CharacterIDs.sentenceEnd] {
            counts[marker] = nil
        }
        var words = counts.filter { $0.value >= minCount }.map { ($0.key, $0.value) }
        words.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        if let maxSize, words.count > maxSize { words.removeLast(words.count - maxSize) }
        return try Vocabulary(tokens: [CharacterIDs.sentenceBegin, CharacterIDs.sentenceEnd, Vocabulary.unknown]
                              + words.map(\.0))
    }

    public static func == (a: Vocabulary, b: Vocabulary) -> Bool { a.tokens == b.tokens }
}

extension String {
    /// Decodes UTF-8, or nil when the bytes are not valid UTF-8 (no silent replacement characters).
    public init?(validatingUTF8Bytes bytes: some Collection<UInt8>) {
        var decoded = ""
        var iterator = bytes.makeIterator()
        var codec = UTF8()
        decoded.reserveCapacity(bytes.count)
        loop: while true {
            switch codec.decode(&iterator) {
            case .scalarValue(let scalar): decoded.unicodeScalars.append(scalar)
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        self = decoded
    }
}
