import Foundation

/// A Merkle–Damgård hash over 64-byte blocks: buffering is shared, the compression function is each one's own.
public protocol BlockDigest {
    var pending: [UInt8] { get set }
    var length: UInt64 { get set }
    mutating func block(_ chunk: ArraySlice<UInt8>)
}

extension BlockDigest {
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        length += UInt64(bytes.count)
        pending += bytes
        var offset = 0
        while pending.count - offset >= 64 {
            block(pending[offset..<(offset + 64)])
            offset += 64
        }
        pending.removeFirst(offset)
    }
}

/// SHA-256 (FIPS 180-4) and MD5 (RFC 1321), streaming, for verifying downloads against published sums.
public struct SHA256Digest: BlockDigest {
    private var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    public var pending: [UInt8] = []
    public var length: UInt64 = 0
    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
        0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
        0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
        0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]

    public init() {}

    public mutating func block(_ chunk: ArraySlice<UInt8>) {
        var w = [UInt32](repeating: 0, count: 64)
        let base = chunk.startIndex
        for i in 0..<16 {
            w[i] = UInt32(chunk[base + 4 * i]) << 24 | UInt32(chunk[base + 4 * i + 1]) << 16 | UInt32(chunk[base + 4 * i + 2]) << 8 | UInt32(chunk[base + 4 * i + 3])
        }
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
        for i in 0..<64 {
            let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ Self.k[i] &+ w[i]
            let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
            (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
        }
        for (i, v) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] = h[i] &+ v }
    }

    public mutating func hexDigest() -> String {
        let bits = length * 8
        var tail: [UInt8] = [0x80] + [UInt8](repeating: 0, count: (119 - Int(length % 64)) % 64)
        for k in (0..<8).reversed() { tail.append(UInt8((bits >> (8 * UInt64(k))) & 0xFF)) }
        let saved = length
        update(tail)
        length = saved
        return h.map { String(format: "%08x", $0) }.joined()
    }
}

public struct MD5Digest: BlockDigest {
    private var state: [UInt32] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]
    public var pending: [UInt8] = []
    public var length: UInt64 = 0
    static let shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                   4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    static let table: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64(abs(sin(Double($0 + 1))) * 4294967296.0)) }

    public init() {}

    public mutating func block(_ chunk: ArraySlice<UInt8>) {
        let base = chunk.startIndex
        let m = (0..<16).map { i in
            UInt32(chunk[base + 4 * i]) | UInt32(chunk[base + 4 * i + 1]) << 8 | UInt32(chunk[base + 4 * i + 2]) << 16 | UInt32(chunk[base + 4 * i + 3]) << 24
        }
        var (a, b, c, d) = (state[0], state[1], state[2], state[3])
        for i in 0..<64 {
            var f: UInt32, g: Int
            switch i {
            case 0..<16: f = (b & c) | (~b & d); g = i
            case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
            case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
            default: f = c ^ (b | ~d); g = (7 * i) % 16
            }
            f = f &+ a &+ Self.table[i] &+ m[g]
            (a, d, c) = (d, c, b)
            b = b &+ (f << Self.shifts[i] | f >> (32 - Self.shifts[i]))
        }
        state[0] = state[0] &+ a; state[1] = state[1] &+ b; state[2] = state[2] &+ c; state[3] = state[3] &+ d
    }

    public mutating func hexDigest() -> String {
        let bits = length * 8
        var tail: [UInt8] = [0x80] + [UInt8](repeating: 0, count: (119 - Int(length % 64)) % 64)
        for k in 0..<8 { tail.append(UInt8((bits >> (8 * UInt64(k))) & 0xFF)) }
        update(tail)
        return state.map { v in (0..<4).map { String(format: "%02x", (v >> (8 * UInt32($0))) & 0xFF) }.joined() }.joined()
    }
}

public enum Checksum {
    /// The hex digest of a file ("sha256" or "md5"), read in 4 MB chunks.
    public static func file(_ path: String, algorithm: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw InputError("\(path): cannot open") }
        defer { try? handle.close() }
        var sha = SHA256Digest(), md5 = MD5Digest()
        while true {
            let data = handle.readData(ofLength: 4 << 20)
            if data.isEmpty { break }
            if algorithm == "md5" { md5.update(data) } else { sha.update(data) }
        }
        return algorithm == "md5" ? md5.hexDigest() : sha.hexDigest()
    }
}
