import Foundation

/// NumPy `.npy` (format 1.0) arrays and `.npz` archives (an uncompressed zip of `.npy` members, what
/// `numpy.savez` writes), so that `numpy.load(path)` reads our outputs without pickle.
public enum NumPy {
    /// One float32 array as `.npy` bytes (little-endian, C order).
    public static func npy(_ tensor: Tensor<Float>) -> [UInt8] {
        let shape = tensor.shape.isEmpty ? "()" : tensor.shape.count == 1 ? "(\(tensor.shape[0]),)"
            : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        // magic(6) + version(2) + length(2) + header + '\n' is a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        bytes += [UInt8(length & 0xFF), UInt8(length >> 8)]
        bytes += Array(header.utf8)
        bytes.reserveCapacity(bytes.count + tensor.count * 4)
        for x in tensor.scalars {
            let bits = x.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes += $0 }
        }
        return bytes
    }

    /// Streams `.npz` members to a file; ``finish()`` writes the zip directory and renames into place.
    public final class NPZWriter {
        private let path: String
        private let temporary: String
        private let handle: FileHandle
        private var offset: UInt64 = 0
        private var directory: [UInt8] = []
        private var entries = 0

        public init(path: String) throws {
            self.path = path
            temporary = "\(path).tmp-\(getpid())"
            guard FileManager.default.createFile(atPath: temporary, contents: nil),
                  let handle = FileHandle(forWritingAtPath: temporary) else {
                throw InputError("output \(path): cannot create file")
            }
            self.handle = handle
        }

        /// Adds `name.npy`.
        public func add(_ name: String, _ tensor: Tensor<Float>) throws {
            let data = NumPy.npy(tensor)
            let fileName = Array("\(name).npy".utf8)
            let crc = CRC32.checksum(data)
            guard offset + UInt64(data.count) < 0xFFFF_FFFF, entries < 0xFFFF else {
                throw InputError("output \(path): larger than a zip without Zip64 can hold; use .jsonl or split the input")
            }
            var local: [UInt8] = []
            local.append32(0x0403_4B50); local.append16(20); local.append16(0); local.append16(0)   // stored
            local.append16(0); local.append16(0x21)   // time, date (1980-01-01)
            local.append32(crc); local.append32(UInt32(data.count)); local.append32(UInt32(data.count))
            local.append16(UInt16(fileName.count)); local.append16(0)
            local += fileName
            var central: [UInt8] = []
            central.append32(0x0201_4B50); central.append16(20); central.append16(20); central.append16(0); central.append16(0)
            central.append16(0); central.append16(0x21)
            central.append32(crc); central.append32(UInt32(data.count)); central.append32(UInt32(data.count))
            central.append16(UInt16(fileName.count)); central.append16(0); central.append16(0); central.append16(0)
            central.append16(0); central.append32(0); central.append32(UInt32(offset))
            central += fileName
            directory += central
            handle.write(Data(local))
            handle.write(Data(data))
            offset += UInt64(local.count + data.count)
            entries += 1
        }

        public func finish() throws {
            var end: [UInt8] = []
            end.append32(0x0605_4B50); end.append16(0); end.append16(0)
            end.append16(UInt16(entries)); end.append16(UInt16(entries))
            end.append32(UInt32(directory.count)); end.append32(UInt32(offset)); end.append16(0)
            handle.write(Data(directory))
            handle.write(Data(end))
            try handle.synchronize()
            try handle.close()
            guard rename(temporary, path) == 0 else { throw RuntimeFailure("cannot rename \(temporary) to \(path)") }
        }
    }
}

/// CRC-32 (IEEE 802.3, the zip checksum).
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }
}

extension Array where Element == UInt8 {
    mutating func append16(_ v: UInt16) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8)) }
    mutating func append32(_ v: UInt32) { for k in 0..<4 { append(UInt8((v >> (8 * UInt32(k))) & 0xFF)) } }
}
