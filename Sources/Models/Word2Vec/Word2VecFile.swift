import Foundation
import Framework

/// Reads bytes from a file, or from `gzip -dc` for `.gz`, in chunks (word2vec files reach gigabytes).
final class ByteStream {
    let path: String
    private let handle: FileHandle
    private let process: Process?
    private var buffer: [UInt8] = []
    private var position = 0
    private var finished = false
    private(set) var consumed = 0

    init(path: String, role: String) throws {
        try Files.requireRegularFile(path, role: role)
        self.path = path
        if path.hasSuffix(".gz") {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/gzip")
            process.arguments = ["-dc", path]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { throw RuntimeFailure("\(role) \(path): cannot run gzip to decompress it (\(error))") }
            self.process = process
            handle = pipe.fileHandleForReading
        } else {
            guard let h = FileHandle(forReadingAtPath: path) else { throw InputError("\(role) \(path): cannot open") }
            handle = h
            process = nil
        }
    }

    deinit {
        if let process, process.isRunning { process.terminate() }
        try? handle.close()
    }

    private func refill() -> Bool {
        if finished { return false }
        let data = handle.readData(ofLength: 1 << 20)
        if data.isEmpty { finished = true; return false }
        buffer = Array(buffer[position...]) + data
        position = 0
        return true
    }

    /// The next byte, or nil at the end.
    func next() -> UInt8? {
        if position >= buffer.count, !refill() { return nil }
        consumed += 1
        defer { position += 1 }
        return buffer[position]
    }

    /// Exactly `count` bytes, or nil if the stream ends first.
    func read(_ count: Int) -> ArraySlice<UInt8>? {
        while buffer.count - position < count { if !refill() { return nil } }
        defer { position += count; consumed += count }
        return buffer[position..<(position + count)]
    }

    /// Bytes up to (not including) `delimiter`; nil at the end with nothing read.
    func read(until delimiter: UInt8) -> [UInt8]? {
        var out: [UInt8] = []
        while let b = next() {
            if b == delimiter { return out }
            out.append(b)
        }
        return out.isEmpty ? nil : out
    }

    /// Whether gzip failed (a corrupt .gz); call at the end.
    var decompressionFailed: Bool {
        guard let process else { return false }
        process.waitUntilExit()
        return process.terminationStatus != 0
    }
}

/// The word2vec formats: binary (`"V D\n"`, then per word its bytes, a space, D little-endian float32,
/// optionally a newline) and text (`"V D\n"`, then `word f₁ … f_D` lines), either gzipped.
public enum Word2VecFile {
    public struct Vectors {
        public var dimension: Int
        public var words: [String]
        public var vectors: [Float]     // [words.count, dimension]
        /// Words in the file (all of them, also those not kept).
        public var fileVocabularySize: Int
    }

    /// Loads the vectors of `keep` (all words when nil), streaming. Binary or text is told by the content.
    public static func load(path: String, keep: Set<String>? = nil) throws -> Vectors {
        let role = "word2vec file"
        let stream = try ByteStream(path: path, role: role)
        let source = "\(role) \(path)"
        let (count, dimension) = try readHeader(stream, source: source)
        var result = Vectors(dimension: dimension, words: [], vectors: [], fileVocabularySize: count)
        var binary: Bool? = nil
        for index in 0..<count {
            // Word: bytes up to a space, skipping the newline that ends the previous binary record.
            var wordBytes: [UInt8] = []
            while true {
                guard let b = stream.next() else {
                    if stream.decompressionFailed { throw InputError("\(source): is not a valid gzip file (or is truncated)") }
                    throw InputError("\(source): ends after \(index) of the \(count) words its header announces")
                }
                if b == 0x20 { if wordBytes.isEmpty { continue } else { break } }
                if b == 0x0A && wordBytes.isEmpty { continue }
                if b == 0x0A { throw InputError("\(source): word \(index + 1) '\(String(decoding: wordBytes, as: UTF8.self))' has no vector on its line") }
                wordBytes.append(b)
            }
            let word = String(decoding: wordBytes, as: UTF8.self)
            let wanted = keep?.contains(word) ?? true
            if binary == nil {
                // Text vectors are ASCII numbers; binary float32 bytes almost never are.
                guard let probe = stream.read(4) else { throw truncated(source, word, index, count) }
                binary = !probe.allSatisfy { (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x2E || $0 == 0x20 || $0 == 0x65 || $0 == 0x45 || $0 == 0x2B }
                if binary! {
                    guard let rest = stream.read(dimension * 4 - 4) else { throw truncated(source, word, index, count) }
                    if wanted { append(Array(probe) + Array(rest), word, &result) }
                } else {
                    guard let line = stream.read(until: 0x0A) else { throw truncated(source, word, index, count) }
                    try appendText(Array(probe) + line, word, index, source, wanted, &result)
                }
                continue
            }
            if binary! {
                guard let bytes = stream.read(dimension * 4) else { throw truncated(source, word, index, count) }
                if wanted { append(Array(bytes), word, &result) }
            } else {
                guard let line = stream.read(until: 0x0A) else { throw truncated(source, word, index, count) }
                try appendText(line, word, index, source, wanted, &result)
            }
        }
        if stream.decompressionFailed { throw InputError("\(source): is not a valid gzip file (or is truncated)") }
        return result
    }

    /// The header's (vocabulary size, dimension), reading nothing more (a gzipped file is not decompressed further).
    public static func header(path: String) throws -> (count: Int, dimension: Int) {
        try readHeader(ByteStream(path: path, role: "word2vec file"), source: "word2vec file \(path)")
    }

    static func readHeader(_ stream: ByteStream, source: String) throws -> (count: Int, dimension: Int) {
        guard let headerBytes = stream.read(until: 0x0A) else {
            if stream.decompressionFailed { throw InputError("\(source): is not a valid gzip file (or is truncated)") }
            throw InputError("\(source): is empty")
        }
        let header = String(decoding: headerBytes, as: UTF8.self).split(separator: " ")
        guard header.count == 2, let count = Int(header[0]), let dimension = Int(header[1]), count > 0, dimension > 0 else {
            throw InputError("\(source): first line must be 'VOCAB_SIZE DIMENSION', got '\(String(decoding: headerBytes.prefix(60), as: UTF8.self))'")
        }
        return (count, dimension)
    }

    static func truncated(_ source: String, _ word: String, _ index: Int, _ count: Int) -> InputError {
        InputError("\(source): ends inside the vector of word \(index + 1) '\(word)' (the header announces \(count) words)")
    }

    static func append(_ bytes: [UInt8], _ word: String, _ result: inout Vectors) {
        result.words.append(word)
        for k in 0..<result.dimension {
            let bits = UInt32(bytes[4 * k]) | UInt32(bytes[4 * k + 1]) << 8 | UInt32(bytes[4 * k + 2]) << 16 | UInt32(bytes[4 * k + 3]) << 24
            result.vectors.append(Float(bitPattern: bits))
        }
    }

    static func appendText(_ line: [UInt8], _ word: String, _ index: Int, _ source: String, _ wanted: Bool, _ result: inout Vectors) throws {
        let fields = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 })
        guard fields.count == result.dimension else {
            throw InputError("\(source): word \(index + 1) '\(word)' has \(fields.count) values, the header says \(result.dimension)")
        }
        guard wanted else { return }
        result.words.append(word)
        for field in fields {
            guard let value = Float(String(decoding: field, as: UTF8.self)) else {
                throw InputError("\(source): word \(index + 1) '\(word)' has a value that is not a number")
            }
            result.vectors.append(value)
        }
    }

    /// Writes the binary format (what word2vec.c and gensim write with binary=True), atomically.
    public static func writeBinary(words: [String], vectors: [Float], dimension: Int, to path: String) throws {
        var bytes = Array("\(words.count) \(dimension)\n".utf8)
        bytes.reserveCapacity(bytes.count + words.count * (dimension * 4 + 16))
        for (i, word) in words.enumerated() {
            bytes += Array(word.utf8)
            bytes.append(0x20)
            for k in 0..<dimension {
                let bits = vectors[i * dimension + k].bitPattern.littleEndian
                withUnsafeBytes(of: bits) { bytes += $0 }
            }
            bytes.append(0x0A)
        }
        try Files.writeAtomically(bytes, to: path)
    }
}
