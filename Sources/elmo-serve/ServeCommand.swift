import ArgumentParser
import CLISupport
import Dispatch
import Foundation
import Framework
import Models
import Serving

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elmo serve",
        abstract: "Serve ELMo vectors over HTTP: POST /v1/embed, GET /healthz, GET /metrics (docs/serve.md).",
        discussion: """
            Requests from all connections are merged into batches of at most --max-batch-tokens padded tokens, taken \
            when the budget is full or the oldest sentence has waited --max-wait-ms. Stateless, with batch-invariant products: a \
            sentence gets the bits `elmo embed` gives it, whatever it is batched with. Past --max-queue-tokens waiting, requests get \
            429 with Retry-After. SIGTERM or SIGINT: requests in flight finish, then the server exits.
            """)

    @Option(help: "Checkpoint DIR/STEP (default: the shipped model).") var initFromCkpt = ShippedModels.elmo
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port, printed at start).") var port = 8080
    @Option(help: "Padded tokens (sentences × the longest one's tokens) per batch.") var maxBatchTokens = 2048
    @Option(help: "Longest time a sentence waits for batch-mates, in milliseconds.") var maxWaitMs = 5.0
    @Option(help: "Tokens that may wait at once; past this, 429.") var maxQueueTokens = 32_768
    @Option(help: "Threads running batches (each holds a copy of the model; each batch uses both LSTM directions' threads).")
    var computeThreads = 1
    @Option(help: "Sentences per request at most (413 past it).") var maxSentences = 256
    @Option(help: "Tokens per sentence at most (413 past it).") var maxTokensPerSentence = 512
    @Option(help: "Request body bytes at most (413 past it).") var maxBodyBytes = 4 << 20
    @Option(help: "fp32, or bf16: every product by a weight (LSTMs, char-CNN, highways) in bfloat16, float32 sums (CPUs with AVX512-BF16 or AMX).") var precision = "fp32"

    func run() throws {
        try Check.positive(maxBatchTokens, "--max-batch-tokens")
        try Check.positive(maxWaitMs, "--max-wait-ms")
        try Check.positive(maxQueueTokens, "--max-queue-tokens")
        try Check.positive(computeThreads, "--compute-threads")
        try Check.positive(maxSentences, "--max-sentences")
        try Check.positive(maxTokensPerSentence, "--max-tokens-per-sentence")
        try Check.positive(maxBodyBytes, "--max-body-bytes")
        guard (0...65535).contains(port) else { throw InputError("--port \(port): expected 0…65535") }
        guard maxQueueTokens >= maxTokensPerSentence else {
            throw InputError("--max-queue-tokens \(maxQueueTokens): must hold at least one sentence of --max-tokens-per-sentence \(maxTokensPerSentence)")
        }
        let arithmetic = try ComputePrecision(flag: "--precision", value: precision)
        var limits = RequestLimits()
        limits.maxSentences = maxSentences
        limits.maxTokensPerSentence = maxTokensPerSentence
        limits.maxBodyBytes = maxBodyBytes
        var batching = DynamicBatcher.Settings()
        batching.maxBatchTokens = maxBatchTokens
        batching.maxWait = maxWaitMs / 1000
        batching.maxQueuedTokens = maxQueueTokens
        batching.computeThreads = computeThreads
        // A sentence gets the bits `elmo embed` gives it, whoever it is batched with.
        BLAS.batchInvariant = true
        let server = try EmbeddingServer(modelName: initFromCkpt, limits: limits, batching: batching) {
            // A batch never has more sentences than tokens: one pass per batch.
            try ELMoEmbedder(checkpoint: initFromCkpt, batchSize: maxBatchTokens, precision: arithmetic)
        }
        let host = self.host
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: (any Error)? = nil
        Task {
            do {
                try await server.run(host: host, port: port) { bound in
                    let line = "elmo serve: listening on http://\(host):\(bound) (model \(server.modelName), \(server.layerCount) layers × \(server.dimension))\n"
                    FileHandle.standardOutput.write(Data(line.utf8))   // unbuffered: scripts wait for this line
                }
            } catch {
                failure = error
            }
            finished.signal()
        }
        finished.wait()
        if let failure { throw InputError("serve: \(failure)") }
        printError("elmo serve: stopped")
    }
}
