import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Framework
import Interop
import Models
import Serving
import ServiceLifecycle
import Testing
import TestSupport

/// `elmo serve` on loopback, driven by an HTTP client: vectors equal to `elmo embed`'s whatever the batch (to float
/// rounding: other batch shapes may take OpenBLAS into other kernels), requests
/// merged into batches, a full queue answered 429, every bad input answered with its status and one JSON error, and
/// shutdown finishing the requests in flight.
@Suite("elmo serve", .serialized)
struct ServeTests {
    /// A random-weight model saved as a checkpoint.
    static let checkpoint: String = {
        var rng = SeededRandom(seed: 41)
        return RandomModel.checkpoint(in: RepositoryPaths.temporaryDirectory("serve"), cellSize: 64, projectionDim: 16, rng: &rng)
    }()

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    }

    /// A running server and a client for it.
    final class Running: @unchecked Sendable {
        let server: EmbeddingServer
        let group: ServiceGroupHandle
        let port: Int
        let session = URLSession(configuration: .ephemeral)

        init(limits: RequestLimits = RequestLimits(), batching: DynamicBatcher.Settings) async throws {
            server = try EmbeddingServer(modelName: ServeTests.checkpoint, limits: limits, batching: batching) {
                try ELMoEmbedder(checkpoint: ServeTests.checkpoint)
            }
            (group, port) = try await ServiceGroupHandle.start(server)
        }

        func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = ["Content-Type": "application/json"]) async throws -> Reply {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = method
            request.httpBody = body
            for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
            let (data, response) = try await session.data(for: request)
            let http = response as! HTTPURLResponse
            var fields: [String: String] = [:]
            for (k, v) in http.allHeaderFields { fields[String(describing: k).lowercased()] = String(describing: v) }
            return Reply(status: http.statusCode, headers: fields, body: data)
        }

        func embed(_ object: Any, accept: String? = nil) async throws -> Reply {
            var headers = ["Content-Type": "application/json"]
            if let accept { headers["Accept"] = accept }
            return try await request("POST", "/v1/embed", body: try JSONSerialization.data(withJSONObject: object), headers: headers)
        }

        func stop() async {
            await group.stop()
            server.batcher.shutdown()
        }
    }

    static func worst(_ a: [Float], _ b: [Float]) -> Float {
        a.count == b.count ? zip(a, b).map { abs($0 - $1) }.max() ?? 0 : .infinity
    }

    @Test func jsonFloatsParseBackToTheSameBits() throws {
        let values: [Float] = [0.1, 1.0 / 3, -0.0, 1e-45, 1.17549435e-38, 3.4028235e38, -2.5e-7, 123456.79, 1, 0.99999994]
        let text = EmbedResponse.json([Tensor(shape: [2, 5], scalars: values)])
        let object = try JSONSerialization.jsonObject(with: Data(text)) as! [String: Any]
        let rows = (object["embeddings"] as! [[[Double]]])[0]
        #expect(rows.flatMap { $0 }.map { Float($0).bitPattern } == values.map(\.bitPattern))
        #expect(object["shapes"] as? [[Int]] == [[2, 5]])

        // Several outputs of different ranks (pooled [D], top [n, D], all [L, n, D]) in one answer; the widest floats
        // fill the buffer to its computed bound without passing it.
        var rng = SeededRandom(seed: 3)
        var random = (0..<3000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }.filter(\.isFinite)
        #expect(random.allSatisfy { $0.description.utf8.count <= JSONText.longestFloat })
        random[0] = -1.00303895e-36   // sign, nine digits, point, e-36
        #expect(random[0].description.utf8.count == JSONText.longestFloat)
        let outputs = [Tensor(shape: [6], scalars: Array(random[0..<6])), Tensor(shape: [3, 4], scalars: Array(random[6..<18])),
                       Tensor(shape: [2, 3, 4], scalars: Array(random[18..<42]))]
        let many = try JSONSerialization.jsonObject(with: Data(EmbedResponse.json(outputs))) as! [String: Any]
        #expect(many["shapes"] as? [[Int]] == [[6], [3, 4], [2, 3, 4]])
        let embeddings = many["embeddings"] as! [Any]
        let flat = ((embeddings[0] as! [Double]) + (embeddings[1] as! [[Double]]).flatMap { $0 }
                    + (embeddings[2] as! [[[Double]]]).flatMap { $0.flatMap { $0 } }).map { Float($0).bitPattern }
        #expect(flat == random[0..<42].map(\.bitPattern))
    }

    static func sentence(_ k: Int) -> [String] {
        let words = ["the", "cat", "sat", "naïve", "“quoted”", ".", "a", "dog"]
        return (0..<(1 + (k * 7) % 13)).map { words[($0 * 3 + k) % words.count] }
    }

    @Test func concurrentRequestsAreBatchedAndGetEmbedsVectors() async throws {
        var batching = DynamicBatcher.Settings()
        batching.maxWait = 0.05
        let running = try await Running(batching: batching)
        let reference = try ELMoEmbedder(checkpoint: Self.checkpoint)
        let replies = try await withThrowingTaskGroup(of: (Int, Reply, Reply).self) { group in
            for k in 0..<24 {
                group.addTask {
                    let sentences = (0..<(1 + k % 3)).map { Self.sentence(k + 5 * $0) }
                    let binary = try await running.embed(["sentences": sentences], accept: "application/x-safetensors")
                    let text = try await running.embed(["sentences": sentences.map { $0.joined(separator: " ") }, "layers": "top"])
                    return (k, binary, text)
                }
            }
            var all: [(Int, Reply, Reply)] = []
            for try await reply in group { all.append(reply) }
            return all
        }
        for (k, binary, text) in replies {
            let sentences = (0..<(1 + k % 3)).map { Self.sentence(k + 5 * $0) }
            #expect(binary.status == 200 && text.status == 200, "request \(k): \(binary.status) \(text.status)")
            #expect(binary.headers["content-type"] == "application/x-safetensors")
            let file = try SafeTensors.parse([UInt8](binary.body), source: "reply \(k)")
            let shapes = try #require(text.json?["shapes"] as? [[Int]]), embeddings = try #require(text.json?["embeddings"] as? [Any])
            for (i, sentence) in sentences.enumerated() {
                // Alone, in a batch of one: what `elmo embed` computes for this sentence.
                let expected = reference.encode([sentence])[0]
                let served = try #require(file[String(i)]).floatingPoint(Float.self, name: String(i), source: "reply")
                #expect(served.shape == expected.shape)
                #expect(Self.worst(served.scalars, expected.scalars) <= 1e-5, "request \(k) sentence \(i): binary answer")
                let n = sentence.count, d = expected.shape[2]
                #expect(shapes[i] == [n, d])
                let rows = try #require(embeddings[i] as? [[Double]])
                let top = Array(expected.scalars[(2 * n * d)...])
                #expect(Self.worst(rows.flatMap { $0 }.map { Float($0) }, top) <= 1e-5, "request \(k) sentence \(i): JSON answer")
            }
        }
        // Merged: fewer batches than sentences.
        let metrics = String(decoding: try await running.request("GET", "/metrics").body, as: UTF8.self)
        func value(_ name: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        let batches = try #require(value("elmo_batch_sentences_count")), sentences = try #require(value("elmo_sentences_total"))
        let sent: Int = (0..<24).map { 2 * (1 + $0 % 3) }.reduce(0, +)
        #expect(sentences == Double(sent))
        #expect(batches < sentences, "no request was batched with another: \(batches) batches for \(sentences) sentences")
        #expect(metrics.contains("elmo_requests_total{status=\"200\"} 48"))
        await running.stop()
    }

    @Test func badInputsGetTheirStatusAndOneJSONError() async throws {
        var limits = RequestLimits()
        limits.maxSentences = 4
        limits.maxTokensPerSentence = 10
        limits.maxBodyBytes = 2000
        let running = try await Running(limits: limits, batching: DynamicBatcher.Settings())
        let json = ["Content-Type": "application/json"]
        let cases: [(String, Data?, [String: String], Int, String?)] = [
            ("empty body", Data(), json, 400, "body"),
            ("not JSON", Data("{\"sentences\": [".utf8), json, 400, "body"),
            ("not an object", Data("[[\"a\"]]".utf8), json, 400, "body"),
            ("no sentences", Data("{}".utf8), json, 400, "sentences"),
            ("sentences not an array", Data("{\"sentences\": \"a b\"}".utf8), json, 400, "sentences"),
            ("no sentence", Data("{\"sentences\": []}".utf8), json, 400, "sentences"),
            ("a number for a sentence", Data("{\"sentences\": [[\"a\"], 5]}".utf8), json, 400, "sentences[1]"),
            ("a number for a token", Data("{\"sentences\": [[\"a\", 3]]}".utf8), json, 400, "sentences[0][1]"),
            ("an empty token", Data("{\"sentences\": [[\"a\", \"\"]]}".utf8), json, 400, "sentences[0][1]"),
            ("a sentence without tokens", Data("{\"sentences\": [\"a\", \"  \\t \"]}".utf8), json, 400, "sentences[1]"),
            ("an empty token list", Data("{\"sentences\": [[]]}".utf8), json, 400, "sentences[0]"),
            ("unknown layers", Data("{\"sentences\": [\"a\"], \"layers\": \"middle\"}".utf8), json, 400, "layers"),
            ("layers not a string", Data("{\"sentences\": [\"a\"], \"layers\": 2}".utf8), json, 400, "layers"),
            ("unknown pool", Data("{\"sentences\": [\"a\"], \"pool\": \"sum\"}".utf8), json, 400, "pool"),
            ("unknown field", Data("{\"sentences\": [\"a\"], \"layer\": \"top\"}".utf8), json, 400, "layer"),
            ("too many sentences", Data("{\"sentences\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}".utf8), json, 413, "sentences"),
            ("too many tokens", Data("{\"sentences\": [\"a\", \"1 2 3 4 5 6 7 8 9 10 11\"]}".utf8), json, 413, "sentences[1]"),
            ("body too large", Data(("{\"sentences\": [\"" + String(repeating: "a ", count: 1500) + "\"]}").utf8), json, 413, "body"),
            ("wrong content type", Data("sentences=a".utf8), ["Content-Type": "application/x-www-form-urlencoded"], 415, "Content-Type"),
            ("unknown Accept", Data("{\"sentences\": [\"a\"]}".utf8), ["Content-Type": "application/json", "Accept": "text/csv"], 406, "Accept"),
            ("npy of ragged outputs", Data("{\"sentences\": [\"a\", \"a b\"]}".utf8), ["Content-Type": "application/json", "Accept": "application/x-npy"], 406, "Accept"),
        ]
        #expect(cases.count >= 15)
        for (name, body, headers, status, field) in cases {
            let reply = try await running.request("POST", "/v1/embed", body: body, headers: headers)
            #expect(reply.status == status, "\(name): \(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
            #expect(reply.headers["content-type"] == "application/json", "\(name)")
            let error = reply.json?["error"] as? [String: Any]
            #expect(error?["status"] as? Int == status, "\(name)")
            #expect(error?["field"] as? String == field, "\(name): field \(String(describing: error?["field"]))")
            #expect((error?["message"] as? String)?.isEmpty == false, "\(name)")
        }
        // What is allowed: npy of same-shaped outputs (pooled), at the limits.
        let pooled = try await running.embed(["sentences": ["a", "1 2 3 4 5 6 7 8 9 10"], "pool": "mean", "layers": "top"], accept: "application/x-npy")
        #expect(pooled.status == 200 && pooled.headers["content-type"] == "application/x-npy")
        #expect(pooled.body.starts(with: [0x93] + Array("NUMPY".utf8)))
        #expect(try await running.request("GET", "/healthz").status == 200)
        #expect(try await running.request("GET", "/nowhere").status == 404)
        // The OpenAPI document describes exactly the routes served, and each answers.
        let yaml = try String(contentsOfFile: RepositoryPaths.path("docs/openapi.yaml"), encoding: .utf8)
        var documented: [String] = [], path = ""
        var inPaths = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") { inPaths = line == "paths:"; continue }
            guard inPaths else { continue }
            if line.hasPrefix("  /") { path = String(line.dropFirst(2).dropLast()) }
            for method in ["get", "post", "put", "delete"] where line == "    \(method):" { documented.append("\(method.uppercased()) \(path)") }
        }
        #expect(documented.sorted() == EmbeddingServer.routes.map { "\($0.0) \($0.1)" }.sorted())
        for (method, route) in EmbeddingServer.routes {
            let reply = try await running.request(method, route, body: method == "POST" ? Data("{\"sentences\": [\"a\"]}".utf8) : nil)
            #expect(reply.status == 200, "\(method) \(route)")
        }
        await running.stop()
    }

    @Test func aFullQueueAnswers429AndShutdownFinishesRequestsInFlight() async throws {
        var batching = DynamicBatcher.Settings()
        batching.maxWait = 2.0          // sentences sit in the queue for two seconds
        batching.maxQueuedTokens = 16
        let running = try await Running(batching: batching)
        let first = Task { try await running.embed(["sentences": [Array(repeating: "cat", count: 10)]]) }
        // Once the first is queued (watched, not timed: a busy machine may take long to get it there).
        let deadline = Date().addingTimeInterval(60)
        while running.server.batcher.queueDepth.tokens < 10, Date() < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(running.server.batcher.queueDepth.tokens == 10)
        let refused = try await running.embed(["sentences": [Array(repeating: "dog", count: 10)]])
        #expect(refused.status == 429)
        #expect(Int(refused.headers["retry-after"] ?? "") ?? 0 >= 1)
        #expect((refused.json?["error"] as? [String: Any])?["status"] as? Int == 429)
        // A request larger than the whole queue can never run: 413, not 429.
        let huge = try await running.embed(["sentences": [Array(repeating: "dog", count: 17)]])
        #expect(huge.status == 413)
        // Shut down while the first is still queued: it is answered.
        let stopping = Task { await running.stop() }
        let answer = try await first.value
        #expect(answer.status == 200)
        await stopping.value
    }
}

@Suite("elmo serve: command line")
struct ServeCommandLineTests {
    /// `elmo serve` runs `elmo-serve` with its arguments; a bad flag stops it with one line and exit 2.
    @Test func badFlagsStopWithOneLine() throws {
        let elmo = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("elmo").path
        for (arguments, mention) in [(["serve", "--port", "99999"], "--port 99999"), (["serve", "--max-batch-tokens", "0"], "--max-batch-tokens 0"),
                                     (["serve", "--max-queue-tokens", "10"], "--max-queue-tokens 10"), (["serve", "--precision", "fp8"], "--precision fp8"),
                                     (["serve", "--init-from-ckpt", "/nonexistent/model"], "/nonexistent/model")] {
            let outcome = try runToEnd(elmo, arguments), text = outcome.stderr
            #expect(outcome.status == 2, "\(arguments): \(text)")
            #expect(text.split(separator: "\n").count == 1 && text.contains(mention), "\(arguments): \(text)")
        }
    }
}

/// Runs a server's service group on a free port until ``stop()``.
final class ServiceGroupHandle: @unchecked Sendable {
    private let task: Task<Void, any Error>
    private let trigger: @Sendable () async -> Void

    private init(task: Task<Void, any Error>, trigger: @escaping @Sendable () async -> Void) {
        self.task = task
        self.trigger = trigger
    }

    static func start(_ server: EmbeddingServer) async throws -> (ServiceGroupHandle, Int) {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let group = server.serviceGroup(host: "127.0.0.1", port: 0, signals: []) { port in continuation.yield(port) }
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw InputError("server did not start") }
        return (ServiceGroupHandle(task: task, trigger: { await group.triggerGracefulShutdown() }), port)
    }

    func stop() async {
        await trigger()
        _ = try? await task.value
    }
}
