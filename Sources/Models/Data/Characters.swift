/// Token → character ids, as AllenNLP / bilm-tf / PaddleNLP encode them (all ids shifted by +1 so 0
/// means "no token"; the char embedding has 262 rows).
public enum CharacterIDs {
    public static let tokenLength = 50
    public static let vocabularySize = 262
    /// Raw ids before the +1 shift.
    @usableFromInline static let beginSentence: Int32 = 256, endSentence: Int32 = 257
    @usableFromInline static let beginWord: Int32 = 258, endWord: Int32 = 259, padding: Int32 = 260

    public static let sentenceBegin = "<S>"
    public static let sentenceEnd = "</S>"

    /// Writes the 50 ids of `token` into `out` (which must hold ``tokenLength`` elements).
    /// The sentence markers `<S>`/`</S>` get their dedicated ids; any other token its UTF-8 bytes, at most 48.
    @inlinable
    public static func encode(_ token: String, into out: UnsafeMutableBufferPointer<Int32>) {
        precondition(out.count == tokenLength)
        out.update(repeating: padding + 1)
        out[0] = beginWord + 1
        if token == sentenceBegin || token == sentenceEnd {
            out[1] = (token == sentenceBegin ? beginSentence : endSentence) + 1
            out[2] = endWord + 1
            return
        }
        var k = 1
        for byte in token.utf8 {
            if k > tokenLength - 2 { break }
            out[k] = Int32(byte) + 1
            k += 1
        }
        out[k] = endWord + 1
    }

    public static func encode(_ token: String) -> [Int32] {
        var ids = [Int32](repeating: 0, count: tokenLength)
        ids.withUnsafeMutableBufferPointer { encode(token, into: $0) }
        return ids
    }
}
