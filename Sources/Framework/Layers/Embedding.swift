/// Lookup table: row `id` of `table` [V, D] for every id.
///
/// Its gradient is row-sparse: backward adds into the looked-up rows only and records them (see
/// ``Parameter/touchedRows``). `paddingIndex`, when set, names a row that receives no gradient
/// (as PyTorch's `padding_idx`), for ids that mean "no token".
public struct Embedding<T: Scalar>: HasParameters {
    public let table: Parameter<T>
    public let paddingIndex: Int?

    public var vocabularySize: Int { table.shape[0] }
    public var dimension: Int { table.shape[1] }
    public var parameters: [Parameter<T>] { [table] }

    public init(table: Parameter<T>, paddingIndex: Int? = nil) {
        precondition(table.value.rank == 2 && table.isRowSparse, "Embedding table must be a row-sparse [V, D] parameter")
        self.table = table
        self.paddingIndex = paddingIndex
    }

    public init(name: String, vocabularySize: Int, dimension: Int, paddingIndex: Int? = nil,
                initializer: Initializer, rng: inout SeededRandom) {
        var value: Tensor<T> = initializer.make([vocabularySize, dimension], rng: &rng)
        if let paddingIndex {
            for j in 0..<dimension { value.scalars[paddingIndex * dimension + j] = 0 }
        }
        self.init(table: Parameter(name: name, value: value, rowSparse: true), paddingIndex: paddingIndex)
    }

    /// ids [N] → vectors [N, D].
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(_ ids: [Int32]) -> Tensor<T> {
        table.value.gatheringRows(ids)
    }

    /// Adds dOut [N, D] into the rows named by `ids`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(_ dOut: Tensor<T>, ids: [Int32]) {
        guard table.isTrainable else { return }
        let d = dimension
        precondition(dOut.shape == [ids.count, d], "Embedding dOut \(dOut.shape) for \(ids.count) ids")
        dOut.withUnsafeBufferPointer { g in
            table.grad.withUnsafeMutableBufferPointer { tg in
                for (n, id) in ids.enumerated() {
                    let row = Int(id)
                    if row == paddingIndex { continue }
                    table.markRowTouched(row)
                    let dst = tg.baseAddress! + row * d, src = g.baseAddress! + n * d
                    for j in 0..<d { dst[j] += src[j] }
                }
            }
        }
    }
}
