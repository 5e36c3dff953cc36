import Foundation
import Framework
import Interop
import Models

/// Limits on one `POST /v1/embed` request.
public struct RequestLimits: Sendable {
    public var maxSentences = 256
    public var maxTokensPerSentence = 512
    public var maxBodyBytes = 4 << 20
    public init() {}
}

/// An error answered as `{"error": {"status": …, "field": …, "message": …}}` with its HTTP status.
public struct APIError: Error, Sendable, Equatable {
    public var status: Int
    /// The request part at fault: a JSON path (`sentences[2][0]`), `body`, or a header name.
    public var field: String?
    public var message: String
    /// Seconds, for 429.
    public var retryAfter: Int?

    public init(_ status: Int, field: String?, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.field = field
        self.message = message
        self.retryAfter = retryAfter
    }

    public var json: [UInt8] {
        var out = Array("{\"error\": {\"status\": \(status), \"field\": ".utf8)
        if let field { out += Array(JSONText.quote(field).utf8) } else { out += Array("null".utf8) }
        out += Array(", \"message\": \(JSONText.quote(message))}}\n".utf8)
        return out
    }
}

/// A parsed, checked `POST /v1/embed` body:
/// `{"sentences": [["tok", …], …] | ["raw text", …], "layers": "all|top|average", "pool": "none|mean|max"}`.
/// A raw-text sentence is split as `elmo embed` splits a line (Python's `str.split()`).
public struct EmbedRequest: Sendable {
    public var sentences: [[String]]
    public var settings: EmbedSettings

    static let fields: Set<String> = ["sentences", "layers", "pool"]

    public static func parse(_ body: [UInt8], limits: RequestLimits) throws(APIError) -> EmbedRequest {
        guard !body.isEmpty else { throw APIError(400, field: "body", "empty body; expected a JSON object with \"sentences\"") }
        guard body.count <= limits.maxBodyBytes else {
            throw APIError(413, field: "body", "\(body.count) bytes; at most \(limits.maxBodyBytes)")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(body), options: [])
        } catch {
            throw APIError(400, field: "body", "not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw APIError(400, field: "body", "expected a JSON object") }
        if let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
            throw APIError(400, field: unknown, "unknown field; expected sentences, layers, pool")
        }
        var settings = EmbedSettings()
        if let layers = object["layers"] {
            guard let name = layers as? String, let choice = EmbedSettings.Layers(rawValue: name) else {
                throw APIError(400, field: "layers", "expected \"all\", \"top\" or \"average\"")
            }
            settings.layers = choice
        }
        if let pool = object["pool"] {
            guard let name = pool as? String, name == "none" || EmbedSettings.Pool(rawValue: name) != nil else {
                throw APIError(400, field: "pool", "expected \"none\", \"mean\" or \"max\"")
            }
            settings.pool = EmbedSettings.Pool(rawValue: name)
        }
        guard let raw = object["sentences"] else { throw APIError(400, field: "sentences", "missing") }
        guard let list = raw as? [Any] else {
            throw APIError(400, field: "sentences", "expected an array of token arrays or of strings")
        }
        guard !list.isEmpty else { throw APIError(400, field: "sentences", "empty: nothing to embed") }
        guard list.count <= limits.maxSentences else {
            throw APIError(413, field: "sentences", "\(list.count) sentences; at most \(limits.maxSentences) per request")
        }
        var sentences: [[String]] = []
        sentences.reserveCapacity(list.count)
        for (i, element) in list.enumerated() {
            let tokens: [String]
            if let text = element as? String {
                tokens = PythonText.split(text)
            } else if let array = element as? [Any] {
                var words: [String] = []
                for (j, token) in array.enumerated() {
                    guard let word = token as? String else { throw APIError(400, field: "sentences[\(i)][\(j)]", "expected a string token") }
                    guard !word.isEmpty else { throw APIError(400, field: "sentences[\(i)][\(j)]", "empty token") }
                    words.append(word)
                }
                tokens = words
            } else {
                throw APIError(400, field: "sentences[\(i)]", "expected an array of string tokens or a string")
            }
            guard !tokens.isEmpty else { throw APIError(400, field: "sentences[\(i)]", "no tokens") }
            guard tokens.count <= limits.maxTokensPerSentence else {
                throw APIError(413, field: "sentences[\(i)]", "\(tokens.count) tokens; at most \(limits.maxTokensPerSentence) per sentence")
            }
            sentences.append(tokens)
        }
        return EmbedRequest(sentences: sentences, settings: settings)
    }
}

/// The answer's encodings: JSON (default), one `.npy` array (`Accept: application/x-npy`, when every output has one
/// shape: they are stacked), or safetensors (`Accept: application/x-safetensors`, tensors "0", "1", …).
public enum EmbedResponse {
    public enum Format: String, Sendable {
        case json = "application/json"
        case npy = "application/x-npy"
        case safetensors = "application/x-safetensors"

        /// The format an `Accept` header asks for; nil when it names none of ours.
        public static func negotiate(_ accept: String?) -> Format? {
            guard let accept, !accept.isEmpty else { return .json }
            let types = accept.split(separator: ",").map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased() }
            for type in types {
                if let format = Format(rawValue: type) { return format }
                if type == "*/*" || type == "application/*" { return .json }
            }
            return nil
        }
    }

    public static func encode(_ outputs: [Tensor<Float>], format: Format) throws(APIError) -> [UInt8] {
        switch format {
        case .json: return json(outputs)
        case .npy:
            let shape = outputs[0].shape
            guard outputs.allSatisfy({ $0.shape == shape }) else {
                throw APIError(406, field: "Accept", "application/x-npy needs one shape for all outputs (pool, or sentences of one length); use JSON or application/x-safetensors")
            }
            var stacked: [Float] = []
            stacked.reserveCapacity(outputs.count * outputs[0].scalars.count)
            for output in outputs { stacked += output.scalars }
            return NumPy.npy(Tensor(shape: [outputs.count] + shape, scalars: stacked))
        case .safetensors:
            var file = SafeTensors()
            for (k, output) in outputs.enumerated() { file[String(k)] = StoredTensor(output) }
            return file.serialized()
        }
    }

    /// `{"shapes": [[…], …], "embeddings": [nested arrays]}`; floats in their shortest round-trip form, so a client
    /// that parses them back to float32 gets the computed values bit for bit.
    public static func json(_ outputs: [Tensor<Float>]) -> [UInt8] {
        var out = Array("{\"shapes\": [".utf8)
        out += Array(outputs.map { "[" + $0.shape.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ").utf8)
        out += Array("], \"embeddings\": [".utf8)
        out.reserveCapacity(out.count + outputs.reduce(4) { $0 + $1.scalars.count * (JSONText.longestFloat + 2) })
        for (k, output) in outputs.enumerated() {
            if k > 0 { out += [0x2C, 0x20] }
            out += JSONText.nestedArray(output)
        }
        out += Array("]}\n".utf8)
        return out
    }
}
