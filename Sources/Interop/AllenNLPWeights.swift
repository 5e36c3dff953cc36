import CHDF5
import Foundation
import Framework
import Models

/// A read-only HDF5 file of float datasets (the libhdf5 C API).
public final class HDF5File {
    public let path: String
    let handle: hid_t

    public init(path: String, role: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw InputError("\(role) \(path): no such file") }
        let id = elmo_h5_open_readonly(path)
        guard id >= 0 else { throw InputError("\(role) \(path): not a readable HDF5 file (truncated or another format)") }
        self.path = path
        handle = id
    }

    deinit { elmo_h5_close(handle) }

    public func hasDataset(_ name: String) -> Bool { elmo_h5_has_dataset(handle, name) == 1 }

    /// The dataset's extents; throws naming it when it is missing.
    public func shape(_ name: String) throws -> [Int] {
        guard hasDataset(name) else { throw InputError("\(path): dataset \(name) is missing") }
        var dims = [UInt64](repeating: 0, count: 16)
        let rank = dims.withUnsafeMutableBufferPointer { elmo_h5_shape(handle, name, $0.baseAddress, 16) }
        guard rank >= 0 else { throw InputError("\(path): dataset \(name) has an unreadable shape") }
        return dims.prefix(Int(rank)).map { Int($0) }
    }

    /// The dataset as float32, row-major.
    public func floats(_ name: String) throws -> (shape: [Int], values: [Float]) {
        let shape = try self.shape(name)
        var values = [Float](repeating: 0, count: shape.reduce(1, *))
        let status = values.withUnsafeMutableBufferPointer { elmo_h5_read_float(handle, name, $0.baseAddress) }
        switch status {
        case 0: return (shape, values)
        case -2: throw InputError("\(path): dataset \(name) is not numeric")
        default: throw InputError("\(path): dataset \(name) cannot be read (the file is truncated or damaged)")
        }
    }
}

/// AllenNLP / bilm-tf pretrained ELMo (`options.json` + `weights.hdf5`) as a swift-elmo model.
///
/// The weight file holds the char-CNN and both LSTM stacks in TensorFlow's layout, which is ours
/// (docs/checkpoint-format.md): `y = x·W + b`, LSTM gates i, j, f, o with the forget bias +1 added at
/// run time, `[x; h]` rows in one kernel. Only the character table differs: bilm-tf's has 261 rows,
/// ours 262 with the padding id 0 first (AllenNLP inserts the same zero row). The file has no softmax,
/// so the model gets none: it embeds, and `eval`/`pretrain` refuse it.
public enum AllenNLPWeights {
    /// Datasets of the bilm-tf `dump_weights` layout for each of our parameters, with the shape
    /// expected in the file (`nil` = the parameter's own shape).
    public static func sources(_ options: BiLMOptions) -> [(parameter: String, dataset: String, fileShape: [Int]?)] {
        var list: [(String, String, [Int]?)] = [("char_cnn.char_embed", "char_embed", nil)]
        for (k, filter) in options.filters.enumerated() {
            list.append(("char_cnn.conv_\(k).weight", "CNN/W_cnn_\(k)", [1, filter[0], options.charEmbeddingDim, filter[1]]))
            list.append(("char_cnn.conv_\(k).bias", "CNN/b_cnn_\(k)", nil))
        }
        for h in 0..<options.highwayCount {
            list.append(("char_cnn.highway_\(h).carry.weight", "CNN_high_\(h)/W_carry", nil))
            list.append(("char_cnn.highway_\(h).carry.bias", "CNN_high_\(h)/b_carry", nil))
            list.append(("char_cnn.highway_\(h).transform.weight", "CNN_high_\(h)/W_transform", nil))
            list.append(("char_cnn.highway_\(h).transform.bias", "CNN_high_\(h)/b_transform", nil))
        }
        list.append(("char_cnn.projection.weight", "CNN_proj/W_proj", nil))
        list.append(("char_cnn.projection.bias", "CNN_proj/b_proj", nil))
        for (index, direction) in [(0, Direction.forward), (1, Direction.backward)] {
            for l in 0..<options.layerCount {
                let cell = "RNN_\(index)/RNN/MultiRNNCell/Cell\(l)/LSTMCell"
                let name = "lstm.\(direction.rawValue).layer_\(l)"
                list.append(("\(name).kernel", "\(cell)/W_0", nil))
                list.append(("\(name).bias", "\(cell)/B", nil))
                list.append(("\(name).projection", "\(cell)/W_P_0", nil))
            }
        }
        return list
    }

    /// The model of `optionsPath` with every char-CNN and LSTM weight from `weightsPath`; its softmax
    /// (over the three sentence specials only) is zero.
    public static func load(optionsPath: String, weightsPath: String) throws -> (BidirectionalLM<Float>, Vocabulary) {
        let options = try BiLMOptions.parse(Files.readBytes(optionsPath, role: "--options"), source: "--options \(optionsPath)")
        let file = try HDF5File(path: weightsPath, role: "--weights")
        let vocabulary = try Vocabulary(tokens: [])
        var rng = SeededRandom(seed: 0)
        let model = BidirectionalLM<Float>(options: options, vocabularySize: vocabulary.count, rng: &rng)
        let byName = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0) })
        var filled = Set<String>()
        for (name, dataset, fileShape) in sources(options) {
            guard let parameter = byName[name] else { continue }   // e.g. no projection when P == D
            let (shape, values) = try file.floats(dataset)
            if name == "char_cnn.char_embed" {
                // 261 rows as bilm-tf trains them (ids 0…260), or 262 with the padding row already in front.
                let rows = parameter.shape[0], columns = parameter.shape[1]
                guard shape.count == 2, shape[1] == columns, shape[0] == rows - 1 || shape[0] == rows else {
                    throw InputError("\(weightsPath): dataset \(dataset) has shape \(shape), expected [\(rows - 1), \(columns)] (or [\(rows), \(columns)])")
                }
                parameter.value.scalars = shape[0] == rows ? values : [Float](repeating: 0, count: columns) + values
            } else {
                let expected = fileShape ?? parameter.shape
                guard shape == expected else {
                    throw InputError("\(weightsPath): dataset \(dataset) has shape \(shape), options.json implies \(expected)")
                }
                parameter.value.scalars = values
            }
            filled.insert(name)
        }
        let softmaxNames = Set(model.softmax.parameters.map(\.name))
        if let unfilled = model.parameters.first(where: { !filled.contains($0.name) && !softmaxNames.contains($0.name) }) {
            throw InputError("\(weightsPath): nothing in the file maps to parameter \(unfilled.name)")
        }
        for p in model.softmax.parameters { p.value.zero() }
        return (model, vocabulary)
    }

    /// Writes `model`'s char-CNN and LSTMs as the pair AllenNLP and bilm-tf load: `optionsPath` (options.json) and
    /// `weightsPath` (bilm-tf's `dump_weights` layout; the character table without its padding row 0, which only
    /// padding reads). ``load(optionsPath:weightsPath:)`` reads the pair back to the same weights bit for bit.
    public static func export(_ model: BidirectionalLM<Float>, optionsPath: String, weightsPath: String) throws {
        let writer = try HDF5ArrayWriter(path: weightsPath, role: "--output-weights")
        let byName = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0) })
        for (name, dataset, fileShape) in sources(model.options) {
            guard let parameter = byName[name] else { continue }
            if name == "char_cnn.char_embed" {
                let columns = parameter.shape[1]
                try writer.write(dataset, shape: [parameter.shape[0] - 1, columns], values: Array(parameter.value.scalars[columns...]))
            } else {
                try writer.write(dataset, shape: fileShape ?? parameter.shape, values: parameter.value.scalars)
            }
        }
        try writer.commit()
        try Files.writeAtomically(Array((model.options.jsonText() + "\n").utf8), to: optionsPath)
    }

    /// Writes the imported model as checkpoint `DIR/STEP` (parameters only; marked as having no LM head).
    public static func importCheckpoint(optionsPath: String, weightsPath: String, output prefix: String) throws -> BidirectionalLM<Float> {
        let (model, vocabulary) = try load(optionsPath: optionsPath, weightsPath: weightsPath)
        var file = BiLMCheckpoint.parametersFile(model, vocabulary: vocabulary)
        file.metadata[BiLMCheckpoint.importedFromKey] = "allennlp \(URL(fileURLWithPath: weightsPath).lastPathComponent)"
        let directory = URL(fileURLWithPath: prefix).deletingLastPathComponent().path
        try Files.ensureDirectory(directory, role: "--output")
        try file.write(to: BiLMCheckpoint.parametersPath(prefix))
        return model
    }
}
