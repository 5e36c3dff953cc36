import CHDF5
import Foundation
import Framework
#if canImport(Glibc)
import Glibc
#endif

/// The HDF5 file `allennlp elmo` writes, laid out in full before any vector is computed.
///
/// Every dataset (one per input line, float32, named by its key) is created first, contiguous and with its
/// storage allocated, together with `sentence_to_index` and the root attributes; the file is then closed and
/// the vectors are written into their reserved bytes by offset. So HDF5's metadata is complete and on disk
/// before the long part starts, a killed run leaves nothing half-written that HDF5 would have to repair,
/// and the same job creates the same bytes (no timestamps): a resumed run ends with the uninterrupted run's file.
public enum EmbeddingHDF5 {
    /// One dataset to reserve: its name and shape.
    public struct Dataset: Sendable {
        public var name: String
        public var shape: [Int]
        public init(name: String, shape: [Int]) {
            self.name = name
            self.shape = shape
        }
        public var byteCount: Int { shape.reduce(1, *) * MemoryLayout<Float>.size }
    }

    /// Creates `path` with `datasets` reserved in order, `sentence_to_index` when given (the JSON bytes) and
    /// string attributes on the root; returns each dataset's data offset in the file.
    public static func create(path: String, datasets: [Dataset], sentenceToIndex: [UInt8]?,
                              attributes: [(String, String)]) throws -> [Int64] {
        let file = elmo_h5_create(path)
        guard file >= 0 else { throw InputError("--output \(path): cannot create an HDF5 file there") }
        var closed = false
        defer { if !closed { _ = elmo_h5_close_checked(file) } }
        var offsets: [Int64] = []
        offsets.reserveCapacity(datasets.count)
        var dims = [UInt64](repeating: 0, count: 16)
        for dataset in datasets {
            for (k, extent) in dataset.shape.enumerated() { dims[k] = UInt64(extent) }
            let offset = dims.withUnsafeBufferPointer { elmo_h5_create_float_dataset(file, dataset.name, Int32(dataset.shape.count), $0.baseAddress) }
            guard offset >= 0 else {
                throw InputError("--output \(path): cannot create dataset \(dataset.name.debugDescription) (an invalid HDF5 name, or the disk is full)")
            }
            offsets.append(offset)
        }
        if let json = sentenceToIndex {
            let status = (json + [0]).withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { elmo_h5_write_string_dataset(file, "sentence_to_index", $0.baseAddress) }
            }
            guard status == 0 else { throw InputError("--output \(path): cannot write sentence_to_index (is the disk full?)") }
        }
        for (name, value) in attributes {
            guard elmo_h5_set_string_attribute(file, name, value) == 0 else {
                throw InputError("--output \(path): cannot write attribute \(name)")
            }
        }
        closed = true
        guard elmo_h5_close_checked(file) == 0 else { throw InputError("--output \(path): cannot finish the HDF5 layout (is the disk full?)") }
        // The layout's metadata grows with the number of datasets; hand it back before the vectors are computed.
        elmo_h5_release_free_lists()
        ProcessMemory.releaseFreeHeap()
        return offsets
    }
}

extension HDF5File {
    /// A string attribute of the root group, or nil.
    public func stringAttribute(_ name: String) -> String? {
        Self.string { elmo_h5_get_string_attribute(handle, name, $0, $1) }
    }

    /// Element 0 of a variable-length string dataset (`sentence_to_index`), or nil.
    public func stringDataset(_ name: String) -> String? {
        Self.string { elmo_h5_read_string_dataset(handle, name, $0, $1) }
    }

    /// Runs a C reader that copies a string into a buffer of a given capacity and returns its length (or the
    /// length needed, or -1), growing the buffer once when needed.
    private static func string(_ read: (UnsafeMutablePointer<CChar>, Int) -> Int64) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        var length = buffer.withUnsafeMutableBufferPointer { read($0.baseAddress!, $0.count) }
        if length >= buffer.count {
            buffer = [CChar](repeating: 0, count: Int(length) + 1)
            length = buffer.withUnsafeMutableBufferPointer { read($0.baseAddress!, $0.count) }
        }
        guard length >= 0, length < buffer.count else { return nil }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Where contiguous dataset `name`'s data starts in the file, or nil.
    public func dataOffset(_ name: String) -> Int64? {
        let offset = elmo_h5_dataset_offset(handle, name)
        return offset >= 0 ? offset : nil
    }

    /// How many links the root group holds.
    public var rootLinkCount: Int { Int(elmo_h5_root_link_count(handle)) }
}

/// A new HDF5 file of float32 arrays, written beside its final name and renamed into place by ``commit()``: an
/// interrupted write never leaves a half file under `path`, nor replaces an earlier one.
public final class HDF5ArrayWriter {
    public let path: String
    private let role: String
    private let temporary: String
    private var handle: hid_t

    public init(path: String, role: String) throws {
        self.path = path
        self.role = role
        temporary = "\(path).tmp-\(getpid())"
        handle = elmo_h5_create(temporary)
        guard handle >= 0 else { throw InputError("\(role) \(path): cannot create an HDF5 file there") }
    }

    deinit {
        if handle >= 0 {
            _ = elmo_h5_close_checked(handle)
            unlink(temporary)
        }
    }

    /// Dataset `name` (slash-separated groups are created) of `shape` holding `values`.
    public func write(_ name: String, shape: [Int], values: [Float]) throws {
        precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
        let dims = shape.map { UInt64($0) }
        let status = values.withUnsafeBufferPointer { v in dims.withUnsafeBufferPointer { elmo_h5_write_float_array(handle, name, Int32(shape.count), $0.baseAddress, v.baseAddress) } }
        guard status == 0 else { throw InputError("\(role) \(path): cannot write dataset \(name) (is the disk full?)") }
    }

    /// Closes the file and puts it at `path`.
    public func commit() throws {
        let status = elmo_h5_close_checked(handle)
        handle = -1
        guard status == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw InputError("\(role) \(path): cannot finish the file (\(String(cString: strerror(errno))))")
        }
    }
}
