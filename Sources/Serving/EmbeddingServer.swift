import Foundation
import Framework
import Hummingbird
import Interop
import Logging
import Models
import NIOCore
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `elmo serve`: `POST /v1/embed`, `GET /healthz`, `GET /metrics` over a ``DynamicBatcher``.
public final class EmbeddingServer: Sendable {
    public let batcher: DynamicBatcher
    public let limits: RequestLimits
    public let modelName: String
    public let layerCount: Int
    public let dimension: Int
    let registry = PrometheusCollectorRegistry()
    private let sentences: Counter
    private let tokens: Counter
    private let batchSentences: ValueHistogram
    private let batchTokens: ValueHistogram
    private let batchSeconds: DurationHistogram
    private let requestSeconds: DurationHistogram
    private let queueTokens: Gauge
    private let queueSentences: Gauge

    public init(modelName: String, limits: RequestLimits, batching: DynamicBatcher.Settings,
                makeEmbedder: () throws -> ELMoEmbedder<Float>) throws {
        self.modelName = modelName
        self.limits = limits
        let registry = self.registry
        sentences = registry.makeCounter(name: "elmo_sentences_total", help: "Sentences embedded.")
        tokens = registry.makeCounter(name: "elmo_tokens_total", help: "Tokens embedded.")
        let sizes: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
        let batchSentences = registry.makeValueHistogram(name: "elmo_batch_sentences", buckets: sizes, help: "Sentences per batch.")
        let batchTokens = registry.makeValueHistogram(name: "elmo_batch_tokens", buckets: sizes.map { $0 * 16 }, help: "Padded tokens per batch.")
        let seconds: [Duration] = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(50),
                                   .milliseconds(100), .milliseconds(200), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10)]
        let batchSeconds = registry.makeDurationHistogram(name: "elmo_batch_duration_seconds", buckets: seconds, help: "Compute time per batch.")
        requestSeconds = registry.makeDurationHistogram(name: "elmo_request_duration_seconds", buckets: seconds,
                                                        help: "Time from a request's body to its answer.")
        queueTokens = registry.makeGauge(name: "elmo_queue_tokens", help: "Tokens waiting for a batch.")
        queueSentences = registry.makeGauge(name: "elmo_queue_sentences", help: "Sentences waiting for a batch.")
        self.batchSentences = batchSentences
        self.batchTokens = batchTokens
        self.batchSeconds = batchSeconds
        var shape = (layers: 0, dimension: 0)
        batcher = try DynamicBatcher(settings: batching, onBatch: { report in
            batchSentences.record(Double(report.sentences))
            batchTokens.record(Double(report.paddedTokens))
            batchSeconds.recordNanoseconds(Int64(report.seconds * 1e9))
        }, makeEmbedder: {
            let embedder = try makeEmbedder()
            shape = (embedder.layerCount, embedder.dimension)
            return embedder
        })
        layerCount = shape.layers
        dimension = shape.dimension
    }

    /// Every route as (method, path): what docs/openapi.yaml must describe (a test compares them).
    public static let routes = [("POST", "/v1/embed"), ("GET", "/healthz"), ("GET", "/metrics")]

    /// The routes, for `Application` or a test client.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("v1/embed") { request, _ -> Response in
            await self.embed(request)
        }
        router.get("healthz") { _, _ -> Response in
            let (waitingSentences, waitingTokens) = self.batcher.queueDepth
            let body = "{\"status\": \"ok\", \"model\": \(JSONText.quote(self.modelName)), \"layers\": \(self.layerCount), "
                + "\"dimension\": \(self.dimension), \"queue_sentences\": \(waitingSentences), \"queue_tokens\": \(waitingTokens)}\n"
            return Self.response(.ok, type: "application/json", Array(body.utf8))
        }
        router.get("metrics") { _, _ -> Response in
            let (waitingSentences, waitingTokens) = self.batcher.queueDepth
            self.queueSentences.set(Double(waitingSentences))
            self.queueTokens.set(Double(waitingTokens))
            return Self.response(.ok, type: "text/plain; version=0.0.4", self.registry.emitToBuffer())
        }
        return router
    }

    func embed(_ request: Request) async -> Response {
        let started = ContinuousClock.now
        do {
            if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
                throw APIError(415, field: "Content-Type", "\(type); expected application/json")
            }
            // A full queue answers before the body is read or parsed: refusing must cost less than serving.
            if let retryAfter = batcher.fullQueueRetryAfter {
                throw APIError(429, field: nil, "the queue is full; retry later", retryAfter: retryAfter)
            }
            guard let format = EmbedResponse.Format.negotiate(request.headers[.accept]) else {
                throw APIError(406, field: "Accept", "expected application/json, application/x-npy or application/x-safetensors")
            }
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: limits.maxBodyBytes)
            } catch is NIOTooManyBytesError {
                throw APIError(413, field: "body", "more than \(limits.maxBodyBytes) bytes")
            }
            let parsed = try EmbedRequest.parse(Array(buffer.readableBytesView), limits: limits)
            let vectors: [Tensor<Float>]
            do {
                vectors = try await batcher.embed(parsed.sentences)
            } catch DynamicBatcher.Refusal.queueFull(let retryAfter) {
                throw APIError(429, field: nil, "the queue is full; retry later", retryAfter: retryAfter)
            } catch DynamicBatcher.Refusal.tooLarge(let count, let limit) {
                throw APIError(413, field: "sentences", "\(count) tokens in all; the queue holds at most \(limit)")
            } catch {
                throw APIError(503, field: nil, "shutting down")
            }
            let outputs = vectors.map { parsed.settings.select($0) }
            let body = try EmbedResponse.encode(outputs, format: format)
            sentences.increment(by: Int64(parsed.sentences.count))
            tokens.increment(by: Int64(parsed.sentences.reduce(0) { $0 + $1.count }))
            count(status: 200)
            requestSeconds.record(ContinuousClock.now - started)
            return Self.response(.ok, type: format.rawValue, body)
        } catch let error as APIError {
            count(status: error.status)
            var response = Self.response(.init(code: error.status), type: "application/json", error.json)
            if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        } catch {
            count(status: 500)
            return Self.response(.internalServerError, type: "application/json", APIError(500, field: nil, "\(error)").json)
        }
    }

    private func count(status: Int) {
        registry.makeCounter(name: "elmo_requests_total", labels: [("status", String(status))], help: "Embedding requests by HTTP status.").increment()
    }

    static func response(_ status: HTTPResponse.Status, type: String, _ bytes: [UInt8]) -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Serves until SIGTERM or SIGINT; requests in flight finish, then the compute threads stop.
    public func run(host: String, port: Int, onListening: @escaping @Sendable (Int) -> Void) async throws {
        try await serviceGroup(host: host, port: port, signals: [.sigterm, .sigint], onListening: onListening).run()
        batcher.shutdown()
    }

    /// The server as a service group: `run()` serves until one of `signals` arrives or `triggerGracefulShutdown()`
    /// is called (tests), finishing the requests in flight.
    public func serviceGroup(host: String, port: Int, signals: [UnixSignal], onListening: @escaping @Sendable (Int) -> Void) -> ServiceGroup {
        var logger = Logger(label: "elmo-serve")
        logger.logLevel = .warning
        let app = Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "swift-elmo"),
                              onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) }, logger: logger)
        return ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: signals, logger: logger))
    }
}
