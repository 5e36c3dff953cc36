/// Every plugin table of the program. The executables build one at start by calling each
/// module's `register(into:)`; tests build their own, adding plugins of their own.
public struct Registries: Sendable {
    public var encoders = EncoderRegistry(kind: "encoder")
    public var heads = HeadRegistry(kind: "head")
    public var optimizers = OptimizerRegistry(kind: "optimizer")

    public init() {}

    /// `elmo list`: every registered name with its summary and options, grouped by kind.
    public func listing() -> String {
        var lines: [String] = []
        func section(_ title: String, _ components: [ComponentInfo]) {
            lines.append("\(title):")
            for c in components {
                lines.append("  \(c.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(c.summary)")
                for o in c.options {
                    let d = o.defaultText.map { " (default \($0))" } ?? ""
                    let expected = o.expected == String.optionTypeDescription ? "" : " (\(o.expected))"
                    lines.append("      \(o.key)\(expected): \(o.help)\(d)")
                }
            }
        }
        section("encoders", encoders.components)
        section("heads", heads.components)
        section("optimizers", optimizers.components)
        return lines.joined(separator: "\n")
    }
}
