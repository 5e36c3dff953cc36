import CDNNL

/// `C = A·B` or `C += A·B` for one fixed shape, with B — a weight matrix — packed once into oneDNN's blocked
/// layout (its brgemm kernels for AVX-512, AVX2, AVX512-BF16 and AMX), so that a product repeated with the same
/// weights (an LSTM's T steps, every batch of `embed`) pays for packing once instead of at every call, as a BLAS
/// call does. In `.bfloat16` the weights are stored as bfloat16 and A is rounded to bfloat16 at each call;
/// products accumulate in float32 either way.
///
/// Not thread-safe: each instance has its own oneDNN stream and scratch; give each thread its own instance.
public final class PackedMatmul {
    public enum Precision: String, Sendable, CaseIterable {
        case float32, bfloat16
    }

    public let m: Int, n: Int, k: Int
    public let precision: Precision
    public let accumulate: Bool
    /// oneDNN's name of the kernel it chose (e.g. "brg:avx512_core_bf16").
    public let implementation: String

    private let primitive: dnnl_primitive_t
    private let stream: dnnl_stream_t
    private let source: dnnl_memory_t          // A as the product reads it (float32 in place, or bfloat16 scratch)
    private let userSource: dnnl_memory_t?     // A as the caller holds it, when it must be converted
    private let convertSource: dnnl_primitive_t?
    private let packedWeights: dnnl_memory_t
    /// The caller's weights and the reorder that packs them; nil in an instance that reads another's packed weights.
    private let userWeights: dnnl_memory_t?
    private let packWeights: dnnl_primitive_t?
    /// The instance whose packed weights this one reads (kept alive with it).
    private let weightsOwner: PackedMatmul?
    private let destination: dnnl_memory_t

    /// B is `[k, n]` with row stride `ldb`, or with `transposedWeights` its transpose stored `[n, k]` (row stride
    /// `ldb`); A is `[m, k]` with row stride `lda`, C `[m, n]` with row stride `ldc`. Throws when oneDNN has no
    /// kernel for the request (bfloat16 on a CPU without AVX512-BF16 or AMX: see ``bfloat16Available``).
    ///
    /// With `sharingWeightsOf`, an instance made for the same weights (same n, k, layout and precision; any m) whose
    /// packed copy this one reads instead of packing its own, when oneDNN chose the same packed layout for both:
    /// another thread's or another row count's product over one copy. ``repack(weights:)`` on the owner updates both.
    public init(m: Int, n: Int, k: Int, weights: UnsafePointer<Float>, ldb: Int, transposedWeights: Bool = false,
                lda: Int? = nil, ldc: Int? = nil, accumulate: Bool = false, precision: Precision = .float32,
                sharingWeightsOf owner: PackedMatmul? = nil) throws {
        precondition(m > 0 && n > 0 && k > 0, "PackedMatmul needs positive sizes, got \(m)×\(n)×\(k)")
        if precision == .bfloat16, !Self.bfloat16Available {
            throw InputError("bfloat16 products need a CPU with AVX512-BF16 or AMX; this one has \(Self.isaName) (use float32)")
        }
        self.m = m; self.n = n; self.k = k
        self.precision = precision
        self.accumulate = accumulate
        let engine = Self.engine
        let computeType: dnnl_data_type_t = precision == .bfloat16 ? dnnl_bf16 : dnnl_f32

        var userSourceDesc = Self.matrix([m, k], dnnl_f32, strides: [lda ?? k, 1])
        var sourceDesc = precision == .bfloat16 ? Self.matrix([m, k], dnnl_bf16, strides: [k, 1]) : userSourceDesc
        var userWeightsDesc = Self.matrix([k, n], dnnl_f32, strides: transposedWeights ? [1, ldb] : [ldb, 1])
        var anyWeightsDesc = dnnl_memory_desc_t()
        Self.check(dnnl_memory_desc_init_by_tag(&anyWeightsDesc, 2, Self.dims([k, n]), computeType, dnnl_format_tag_any), "weights")
        var destinationDesc = Self.matrix([m, n], dnnl_f32, strides: [ldc ?? n, 1])

        var description = dnnl_matmul_desc_t()
        Self.check(dnnl_matmul_desc_init(&description, &sourceDesc, &anyWeightsDesc, nil, &destinationDesc), "matmul")
        var attributes: dnnl_primitive_attr_t? = nil
        Self.check(dnnl_primitive_attr_create(&attributes), "attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        if accumulate {
            var postOps: dnnl_post_ops_t? = nil
            Self.check(dnnl_post_ops_create(&postOps), "post-ops")
            Self.check(dnnl_post_ops_append_sum(postOps, 1), "sum post-op")
            Self.check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "post-ops")
            dnnl_post_ops_destroy(postOps)
        }
        var primitiveDescription: dnnl_primitive_desc_t? = nil
        let status = dnnl_primitive_desc_create(&primitiveDescription, &description, attributes, engine, nil)
        guard status == dnnl_success, let primitiveDescription else {
            throw InputError("oneDNN has no \(precision.rawValue) matrix product for \(m)×\(k) · \(k)×\(n) on this CPU (status \(status.rawValue))")
        }
        defer { dnnl_primitive_desc_destroy(primitiveDescription) }
        var name: UnsafePointer<CChar>? = nil
        dnnl_primitive_desc_query(primitiveDescription, dnnl_query_impl_info_str, 0, &name)
        implementation = name.map { String(cString: $0) } ?? "?"
        var made: dnnl_primitive_t? = nil
        Self.check(dnnl_primitive_create(&made, primitiveDescription), "matmul primitive")
        primitive = made!

        // Pack the weights once: the caller's float32 layout → the layout the kernel chose.
        let packedDesc = dnnl_primitive_desc_query_md(primitiveDescription, dnnl_query_weights_md, 0)!
        var packedDescCopy = packedDesc.pointee
        if let owner, owner.n == n, owner.k == k, owner.precision == precision,
           let ownerDesc = owner.packedWeightsDescription, dnnl_memory_desc_equal(ownerDesc, packedDesc) != 0 {
            (weightsOwner, userWeights, packWeights) = (owner.weightsOwner ?? owner, nil, nil)
            packedWeights = owner.packedWeights
        } else {
            weightsOwner = nil
            userWeights = Self.memory(&userWeightsDesc, UnsafeMutableRawPointer(mutating: weights))
            packedWeights = Self.memory(&packedDescCopy, elmo_dnnl_memory_allocate())
            packWeights = Self.reorder(&userWeightsDesc, &packedDescCopy)
        }
        var made2: dnnl_stream_t? = nil
        Self.check(dnnl_stream_create(&made2, engine, dnnl_stream_default_flags.rawValue), "stream")
        stream = made2!

        if precision == .bfloat16 {
            userSource = Self.memory(&userSourceDesc, nil)
            source = Self.memory(&sourceDesc, elmo_dnnl_memory_allocate())
            convertSource = Self.reorder(&userSourceDesc, &sourceDesc)
        } else {
            userSource = nil
            source = Self.memory(&sourceDesc, nil)
            convertSource = nil
        }
        destination = Self.memory(&destinationDesc, nil)
        if weightsOwner == nil { repack(weights: weights) }
    }

    deinit {
        for p in [primitive] + [packWeights, convertSource].compactMap({ $0 }) { dnnl_primitive_destroy(p) }
        let owned = weightsOwner == nil ? [packedWeights] : []   // a sharer's packed weights are its owner's
        for memory in [source, destination] + owned + [userWeights, userSource].compactMap({ $0 }) { dnnl_memory_destroy(memory) }
        dnnl_stream_destroy(stream)
    }

    /// True when this instance reads another's packed weights (see `sharingWeightsOf`).
    public var sharesWeights: Bool { weightsOwner != nil }

    /// Packs new weights (same shape and layout as at creation): after an optimizer step. On the owner of shared
    /// weights; a sharer refuses (its owner's repack updates it).
    public func repack(weights: UnsafePointer<Float>) {
        guard let userWeights, let packWeights else { preconditionFailure("repack the owner of shared packed weights") }
        Self.check(dnnl_memory_set_data_handle(userWeights, UnsafeMutableRawPointer(mutating: weights)), "weights handle")
        execute(packWeights, [(DNNL_ARG_FROM, userWeights), (DNNL_ARG_TO, packedWeights)])
    }

    private var packedWeightsDescription: UnsafePointer<dnnl_memory_desc_t>? {
        var desc: UnsafePointer<dnnl_memory_desc_t>? = nil
        Self.check(dnnl_memory_get_memory_desc(packedWeights, &desc), "packed weights descriptor")
        return desc
    }

    /// C (=, or += with `accumulate`) A · B.
    public func run(_ a: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>) {
        let input = UnsafeMutableRawPointer(mutating: a)
        if let convertSource, let userSource {
            Self.check(dnnl_memory_set_data_handle(userSource, input), "source handle")
            execute(convertSource, [(DNNL_ARG_FROM, userSource), (DNNL_ARG_TO, source)])
        } else {
            Self.check(dnnl_memory_set_data_handle(source, input), "source handle")
        }
        Self.check(dnnl_memory_set_data_handle(destination, UnsafeMutableRawPointer(c)), "destination handle")
        execute(primitive, [(DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, packedWeights), (DNNL_ARG_DST, destination)])
    }

    private func execute(_ primitive: dnnl_primitive_t, _ arguments: [(Int32, dnnl_memory_t)]) {
        var args = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
        Self.check(dnnl_primitive_execute(primitive, stream, Int32(args.count), &args), "execute")
        Self.check(dnnl_stream_wait(stream), "wait")
    }

    // MARK: - The process's oneDNN

    /// One CPU engine for the process (oneDNN engines are thread-safe; streams are not).
    nonisolated(unsafe) private static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t? = nil
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "CPU engine")
        return engine!
    }()

    /// True when oneDNN runs bfloat16 products natively here (AVX512-BF16 or AMX), not by emulation.
    public static var bfloat16Available: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return isa & dnnl_cpu_isa_avx512_core_bf16.rawValue == dnnl_cpu_isa_avx512_core_bf16.rawValue
    }

    /// True when oneDNN may use AMX tiles here (Intel Sapphire Rapids and later).
    public static var amxAvailable: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return isa & dnnl_cpu_isa_avx512_core_amx.rawValue == dnnl_cpu_isa_avx512_core_amx.rawValue
    }

    /// True when oneDNN may use AVX-512 kernels here (its effective instruction set, which `ONEDNN_MAX_CPU_ISA` caps).
    public static var avx512Available: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return isa & dnnl_cpu_isa_avx512_core.rawValue == dnnl_cpu_isa_avx512_core.rawValue
    }

    /// The widest instruction set oneDNN dispatches to on this CPU.
    public static var isaName: String {
        if amxAvailable { return "AMX" }
        if bfloat16Available { return "AVX512-BF16" }
        if avx512Available { return "AVX-512" }
        let isa = dnnl_get_effective_cpu_isa().rawValue
        if isa & dnnl_cpu_isa_avx2.rawValue == dnnl_cpu_isa_avx2.rawValue { return "AVX2" }
        return "no AVX2"
    }

    /// "major.minor.patch" of the oneDNN library loaded.
    public static var version: String {
        guard let v = dnnl_version() else { return "?" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.patch)"
    }

    /// oneDNN's own threads (OpenMP). Callers that split work across threads themselves set 1.
    public static func setThreads(_ count: Int) {
        precondition(count >= 1)
        elmo_omp_set_num_threads(Int32(count))
    }

    // MARK: - Helpers

    /// A `dnnl_dims_t` (int64_t[12]) as an array, which passes as the pointer the C API takes. (A pointer to a
    /// tuple's first element covers that element only.)
    private static func dims(_ values: [Int]) -> [Int64] {
        values.map(Int64.init) + [Int64](repeating: 0, count: 12 - values.count)
    }

    private static func matrix(_ shape: [Int], _ type: dnnl_data_type_t, strides: [Int]) -> dnnl_memory_desc_t {
        var desc = dnnl_memory_desc_t()
        check(dnnl_memory_desc_init_by_strides(&desc, 2, dims(shape), type, dims(strides)), "memory descriptor")
        return desc
    }

    private static func memory(_ desc: inout dnnl_memory_desc_t, _ handle: UnsafeMutableRawPointer?) -> dnnl_memory_t {
        var memory: dnnl_memory_t? = nil
        check(dnnl_memory_create(&memory, &desc, engine, handle), "memory")
        return memory!
    }

    private static func reorder(_ from: inout dnnl_memory_desc_t, _ to: inout dnnl_memory_desc_t) -> dnnl_primitive_t {
        var description: dnnl_primitive_desc_t? = nil
        check(dnnl_reorder_primitive_desc_create(&description, &from, engine, &to, engine, nil), "reorder")
        defer { dnnl_primitive_desc_destroy(description) }
        var primitive: dnnl_primitive_t? = nil
        check(dnnl_primitive_create(&primitive, description), "reorder primitive")
        return primitive!
    }

    /// oneDNN fails only on programming errors once a primitive exists (shapes are checked at creation).
    private static func check(_ status: dnnl_status_t, _ what: String) {
        precondition(status == dnnl_success, "oneDNN \(what): status \(status.rawValue)")
    }
}

/// The arithmetic of a model's forward products: fp32 throughout, or bf16 for every product by a weight — the LSTMs'
/// per-step products and input projections, the char-CNN, highways and projection — through oneDNN with the weights
/// packed as bfloat16 and float32 sums; the elementwise math stays fp32. For `embed`, a frozen encoder and (mixed
/// precision, float32 weights repacked after each step) `pretrain --precision bf16`.
public enum ComputePrecision: String, CaseIterable, Sendable, OptionValue {
    case fp32, bf16

    /// The per-step product backend this precision asks the LSTM layers for (nil: the process default).
    public var stepProducts: StepKernels.ProductBackend? { self == .bf16 ? .oneDNN(.bfloat16) : nil }
    /// The products over a whole pass (``Parameter/packedPrecision``): bfloat16 in bf16; BLAS in fp32, where oneDNN's
    /// packed float32 measured no faster (`bench embed`, Benchmarks/RESULTS.md).
    public var packedProducts: PackedMatmul.Precision? { self == .bf16 ? .bfloat16 : nil }

    /// A command-line flag's value: parsed, and refused in one line naming the flag where this CPU cannot run it.
    public init(flag: String, value: String) throws {
        guard let parsed = ComputePrecision(rawValue: value) else { throw InputError("\(flag) \(value): expected fp32 or bf16") }
        try parsed.requireAvailable(flag)
        self = parsed
    }

    /// Refuses bf16, in one line naming `role`, on a CPU without AVX512-BF16 or AMX.
    public func requireAvailable(_ role: String) throws {
        if self == .bf16 && !PackedMatmul.bfloat16Available {
            throw InputError("\(role) bf16: needs a CPU with AVX512-BF16 or AMX; this one has \(PackedMatmul.isaName) (use fp32)")
        }
    }
}
