import Foundation
import Framework
import Models

/// The input of `allennlp elmo` read the way it reads it, so that sentence keys and token boundaries match:
/// Python's universal newlines (`\n`, `\r\n` and `\r` end a line; U+0085 and U+2028 do not), each line
/// stripped of Python's whitespace (`str.strip()`), tokens split on it (`str.split()`).
///
/// The file's bytes are held once; a sentence's string and tokens are made when asked for, so a corpus costs
/// its size plus a few machine words per line.
public struct SentenceFile: Sendable {
    public let source: String
    private let bytes: [UInt8]
    /// Byte range of each stripped line.
    private let starts: [Int]
    private let ends: [Int]
    /// Tokens per line.
    public let tokenCounts: [Int32]

    public var count: Int { starts.count }

    /// Reads `path` ("-" for standard input). `role` names the argument in errors.
    public init(path: String, role: String) throws {
        let bytes: [UInt8]
        if path == "-" {
            bytes = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        } else {
            bytes = try Files.readBytes(path, role: role)
        }
        try self.init(bytes: bytes, source: "\(role) \(path == "-" ? "(standard input)" : path)")
    }

    public init(bytes: [UInt8], source: String) throws {
        self.bytes = bytes
        self.source = source
        var starts: [Int] = [], ends: [Int] = [], counts: [Int32] = []
        var lineStart = 0, i = 0
        func addLine(_ range: Range<Int>) throws {
            guard let line = String(validating: bytes[range], as: UTF8.self) else {
                throw InputError("\(source): line \(starts.count + 1) is not valid UTF-8")
            }
            // Strip by code points, keeping byte offsets: `str.strip()` works on code points, not graphemes.
            var first = range.lowerBound, last = range.upperBound, tokens: Int32 = 0, inToken = false
            var offset = range.lowerBound, seenText = false
            for scalar in line.unicodeScalars {
                let width = UTF8.width(scalar)
                if PythonText.isSpace(scalar) {
                    inToken = false
                } else {
                    if !seenText { first = offset; seenText = true }
                    last = offset + width
                    if !inToken { tokens += 1; inToken = true }
                }
                offset += width
            }
            if !seenText { first = range.lowerBound; last = range.lowerBound }
            starts.append(first)
            ends.append(last)
            counts.append(tokens)
        }
        while i < bytes.count {
            let byte = bytes[i]
            if byte == 0x0A || byte == 0x0D {
                try addLine(lineStart..<i)
                i += (byte == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A) ? 2 : 1
                lineStart = i
            } else {
                i += 1
            }
        }
        if lineStart < bytes.count { try addLine(lineStart..<bytes.count) }
        self.starts = starts
        self.ends = ends
        tokenCounts = counts
    }

    /// Line `i` (0-based) stripped: AllenNLP's sentence key.
    public func sentence(_ i: Int) -> String {
        String(decoding: bytes[starts[i]..<ends[i]], as: UTF8.self)
    }

    /// Line `i`'s tokens.
    public func tokens(_ i: Int) -> [String] { PythonText.split(sentence(i)) }

    /// 0-based indexes of the lines with no tokens (AllenNLP refuses them).
    public var blankLines: [Int] { tokenCounts.indices.filter { tokenCounts[$0] == 0 } }

    /// Line `i`'s stripped bytes, a view into the file (no copy).
    private func lineBytes(_ i: Int) -> ArraySlice<UInt8> { bytes[starts[i]..<ends[i]] }

    /// `json.dumps({stripped line: "index"})` as AllenNLP stores it in `sentence_to_index`: keys in
    /// first-occurrence order, a repeated sentence mapping to its last index. Sentences are compared as views
    /// into the file, so a corpus costs a table entry per distinct line here, not a copy of its text.
    public func sentenceToIndexJSON() -> [UInt8] {
        var first: [Int] = [], last: [ArraySlice<UInt8>: Int] = [:]
        last.reserveCapacity(count)
        for i in 0..<count where last.updateValue(i, forKey: lineBytes(i)) == nil { first.append(i) }
        return PythonText.jsonObject(first.lazy.map { (self.sentence($0), String(last[self.lineBytes($0)]!)) })
    }

    /// Sentences as dataset names: AllenNLP's rule (a repeated sentence is an error), checked before anything
    /// runs, and the names HDF5 reads as paths (`/`, `.`), which AllenNLP would turn into groups.
    public func checkUsableAsKeys(role: String) throws {
        var firstLine: [ArraySlice<UInt8>: Int] = [:]
        firstLine.reserveCapacity(count)
        for i in 0..<count {
            let line = lineBytes(i)
            if let earlier = firstLine.updateValue(i, forKey: line) {
                throw InputError("\(role): lines \(earlier) and \(i) (0-based) are the same sentence; drop the flag to embed duplicates")
            }
            guard !line.contains(0x2F), !line.elementsEqual([0x2E]) else {
                throw InputError("\(role): line \(i) (0-based) \(sentence(i).prefix(40).debugDescription) is not a usable HDF5 name ('/' or '.'); drop the flag")
            }
        }
    }

    /// The SHA-256 of the file's bytes.
    public var sha256: String {
        var digest = SHA256Digest()
        digest.update(bytes)
        return digest.hexDigest()
    }
}

/// Python's text conventions where AllenNLP's files depend on them.
public enum PythonText {
    /// `str.isspace()` for one code point: Unicode White_Space plus the four separators U+001C–U+001F.
    public static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// `s.split()`: runs of whitespace separate tokens; none are empty.
    public static func split(_ s: String) -> [String] {
        var tokens: [String] = [], current = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            if isSpace(scalar) {
                if !current.isEmpty { tokens.append(String(current)); current = String.UnicodeScalarView() }
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { tokens.append(String(current)) }
        return tokens
    }

    /// `json.dumps(s)` for a string with Python's defaults (`ensure_ascii=True`): printable ASCII as is, the
    /// short escapes, every other code point as `\uxxxx` in lowercase hex (astral ones as a surrogate pair).
    public static func jsonString(_ s: String, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        func unit(_ u: UInt32) {
            out += [0x5C, 0x75]   // \u
            for shift in stride(from: 12, through: 0, by: -4) { out.append(hex[Int((u >> UInt32(shift)) & 0xF)]) }
        }
        out.append(0x22)
        for scalar in s.unicodeScalars {
            let v = scalar.value
            switch v {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0x08: out += [0x5C, 0x62]
            case 0x0C: out += [0x5C, 0x66]
            case 0x20...0x7E: out.append(UInt8(v))
            case 0x10000...:
                let u = v - 0x10000
                unit(0xD800 + (u >> 10))
                unit(0xDC00 + (u & 0x3FF))
            default: unit(v)
            }
        }
        out.append(0x22)
    }

    /// `json.dumps(d)` of a `dict[str, str]` given as key–value pairs in the dict's order.
    public static func jsonObject(_ pairs: some Sequence<(String, String)>) -> [UInt8] {
        var out: [UInt8] = [0x7B]
        var first = true
        for (key, value) in pairs {
            if !first { out += [0x2C, 0x20] }
            first = false
            jsonString(key, into: &out)
            out += [0x3A, 0x20]
            jsonString(value, into: &out)
        }
        out.append(0x7D)
        return out
    }
}
