import Foundation
import Framework

/// Model options in AllenNLP's `options.json` shape, plus the named presets (tiny, paddle, small, medium, original).
public struct BiLMOptions: Sendable, Equatable {
    public var cellSize: Int                 // lstm.dim
    public var projectionDim: Int            // lstm.projection_dim
    public var layerCount: Int               // lstm.n_layers
    public var cellClip: Double?
    public var projectionClip: Double?
    public var skipConnections: Bool
    public var charEmbeddingDim: Int
    public var filters: [[Int]]              // [[width, count]…]
    public var highwayCount: Int
    public var maxCharactersPerToken: Int
    public var activation: String

    public init(cellSize: Int, projectionDim: Int, layerCount: Int, cellClip: Double?, projectionClip: Double?,
                skipConnections: Bool, charEmbeddingDim: Int, filters: [[Int]], highwayCount: Int,
                maxCharactersPerToken: Int, activation: String) {
        self.cellSize = cellSize
        self.projectionDim = projectionDim
        self.layerCount = layerCount
        self.cellClip = cellClip
        self.projectionClip = projectionClip
        self.skipConnections = skipConnections
        self.charEmbeddingDim = charEmbeddingDim
        self.filters = filters
        self.highwayCount = highwayCount
        self.maxCharactersPerToken = maxCharactersPerToken
        self.activation = activation
    }

    public var filterCount: Int { filters.reduce(0) { $0 + $1[1] } }
    /// The LSTM has a projection when its cell is wider than its output (bilm-tf's num_proj).
    public var hasLSTMProjection: Bool { projectionDim < cellSize }

    public static let presetNames = ["tiny", "paddle", "small", "medium", "original"]
    static let fullFilters = [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]]

    public static func preset(_ name: String) -> BiLMOptions? {
        func make(_ cell: Int, _ proj: Int, _ filters: [[Int]], _ highways: Int, clip: Double? = 3, skip: Bool = true) -> BiLMOptions {
            BiLMOptions(cellSize: cell, projectionDim: proj, layerCount: 2, cellClip: clip, projectionClip: clip,
                        skipConnections: skip, charEmbeddingDim: 16, filters: filters, highwayCount: highways,
                        maxCharactersPerToken: 50, activation: "relu")
        }
        switch name {
        case "tiny": return make(512, 64, [[1, 32], [2, 32], [3, 64], [4, 128]], 1)
        case "paddle": return make(512, 512, fullFilters, 2, clip: nil, skip: false)
        case "small": return make(1024, 128, fullFilters, 1)
        case "medium": return make(2048, 256, fullFilters, 1)
        case "original": return make(4096, 512, fullFilters, 2)
        default: return nil
        }
    }

    /// A preset name or the path of an options.json.
    public static func resolve(_ config: String) throws -> BiLMOptions {
        if let preset = preset(config) { return preset }
        guard config.hasSuffix(".json") || FileManager.default.fileExists(atPath: config) else {
            throw InputError("--config \(config): not a preset (\(presetNames.joined(separator: ", "))) nor an options.json file")
        }
        return try parse(Files.readBytes(config, role: "--config"), source: "--config \(config)")
    }

    /// Parses AllenNLP options.json text; every missing or out-of-range key is an input error naming it.
    public static func parse(_ bytes: [UInt8], source: String) throws -> BiLMOptions {
        let root = try JSONText.parseObject(bytes, source: source)
        func object(_ o: [String: Any], _ key: String, _ path: String) throws -> [String: Any] {
            guard let v = o[key] else { throw InputError("\(source): missing key \(path)") }
            guard let d = v as? [String: Any] else { throw InputError("\(source): \(path) must be an object") }
            return d
        }
        func int(_ o: [String: Any], _ key: String, _ path: String, minimum: Int = 1) throws -> Int {
            guard let v = o[key] else { throw InputError("\(source): missing key \(path)") }
            // On Linux every NSNumber casts to Bool; JSON booleans are the __NSCFBoolean subclass.
            guard let n = v as? NSNumber, Double(n.intValue) == n.doubleValue, !JSONText.isBoolean(v) else {
                throw InputError("\(source): \(path) must be an integer")
            }
            guard n.intValue >= minimum else { throw InputError("\(source): \(path) = \(n.intValue) must be ≥ \(minimum)") }
            return n.intValue
        }
        func clip(_ o: [String: Any], _ key: String, _ path: String) throws -> Double? {
            guard let v = o[key], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, n.doubleValue > 0 else { throw InputError("\(source): \(path) must be a positive number or null") }
            return n.doubleValue
        }
        func bool(_ o: [String: Any], _ key: String, _ path: String) throws -> Bool {
            guard let v = o[key], !(v is NSNull) else { return false }
            guard JSONText.isBoolean(v), let b = v as? Bool else { throw InputError("\(source): \(path) must be true or false") }
            return b
        }
        let lstm = try object(root, "lstm", "lstm")
        let cnn = try object(root, "char_cnn", "char_cnn")
        let embedding = try object(cnn, "embedding", "char_cnn.embedding")
        guard let rawFilters = cnn["filters"] else { throw InputError("\(source): missing key char_cnn.filters") }
        guard let filterList = rawFilters as? [[NSNumber]], !filterList.isEmpty,
              filterList.allSatisfy({ $0.count == 2 && $0[0].intValue >= 1 && $0[1].intValue >= 1 }) else {
            throw InputError("\(source): char_cnn.filters must be a non-empty list of [width, count] pairs of positive integers")
        }
        let activation = (cnn["activation"] as? String) ?? "relu"
        guard activation == "relu" else { throw InputError("\(source): char_cnn.activation \(activation) is not supported (relu)") }
        let maxChars = cnn["max_characters_per_token"] == nil ? 50 : try int(cnn, "max_characters_per_token", "char_cnn.max_characters_per_token")
        guard maxChars == CharacterIDs.tokenLength else {
            throw InputError("\(source): char_cnn.max_characters_per_token must be \(CharacterIDs.tokenLength)")
        }
        if cnn["n_characters"] != nil {
            let n = try int(cnn, "n_characters", "char_cnn.n_characters")
            guard n == 261 || n == 262 else { throw InputError("\(source): char_cnn.n_characters must be 261 or 262, got \(n)") }
        }
        let options = BiLMOptions(
            cellSize: try int(lstm, "dim", "lstm.dim"),
            projectionDim: try int(lstm, "projection_dim", "lstm.projection_dim"),
            layerCount: try int(lstm, "n_layers", "lstm.n_layers"),
            cellClip: try clip(lstm, "cell_clip", "lstm.cell_clip"),
            projectionClip: try clip(lstm, "proj_clip", "lstm.proj_clip"),
            skipConnections: try bool(lstm, "use_skip_connections", "lstm.use_skip_connections"),
            charEmbeddingDim: try int(embedding, "dim", "char_cnn.embedding.dim"),
            filters: filterList.map { $0.map(\.intValue) },
            highwayCount: try int(cnn, "n_highway", "char_cnn.n_highway", minimum: 0),
            maxCharactersPerToken: maxChars, activation: activation)
        guard options.filters.allSatisfy({ $0[0] <= maxChars }) else {
            throw InputError("\(source): char_cnn.filters has a width above max_characters_per_token")
        }
        guard options.projectionDim <= options.cellSize else {
            throw InputError("\(source): lstm.projection_dim \(options.projectionDim) exceeds lstm.dim \(options.cellSize)")
        }
        return options
    }

    /// options.json text (AllenNLP keys), with the vocabulary size when given.
    public func jsonText(vocabularySize: Int? = nil) -> String {
        func clip(_ x: Double?) -> String { x.map { JSONText.number($0) } ?? "null" }
        let filterText = filters.map { "[\($0[0]), \($0[1])]" }.joined(separator: ", ")
        var text = "{\"lstm\": {\"dim\": \(cellSize), \"projection_dim\": \(projectionDim), \"n_layers\": \(layerCount), "
        text += "\"cell_clip\": \(clip(cellClip)), \"proj_clip\": \(clip(projectionClip)), "
        text += "\"use_skip_connections\": \(skipConnections)}, "
        text += "\"char_cnn\": {\"activation\": \"\(activation)\", \"embedding\": {\"dim\": \(charEmbeddingDim)}, "
        text += "\"filters\": [\(filterText)], \"n_highway\": \(highwayCount), \"n_characters\": 262, "
        text += "\"max_characters_per_token\": \(maxCharactersPerToken)}"
        if let vocabularySize { text += ", \"n_tokens_vocab\": \(vocabularySize)" }
        return text + "}"
    }
}
