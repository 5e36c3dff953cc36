/// A value a plugin option can hold, parsed from its text (`--encoder-option layers=mix`).
public protocol OptionValue: Sendable {
    init?(optionText: String)
    var optionText: String { get }
    /// What a valid text looks like, for errors and `elmo list`: "an integer".
    static var optionTypeDescription: String { get }
}

extension Int: OptionValue {
    public init?(optionText: String) { self.init(optionText) }
    public var optionText: String { String(self) }
    public static var optionTypeDescription: String { "an integer" }
}

extension Double: OptionValue {
    public init?(optionText: String) {
        guard let value = Double(optionText), value.isFinite else { return nil }
        self = value
    }
    public var optionText: String { String(self) }
    public static var optionTypeDescription: String { "a finite number" }
}

extension Bool: OptionValue {
    public init?(optionText: String) {
        switch optionText.lowercased() {
        case "true", "1", "yes": self = true
        case "false", "0", "no": self = false
        default: return nil
        }
    }
    public var optionText: String { String(self) }
    public static var optionTypeDescription: String { "true or false" }
}

extension String: OptionValue {
    public init?(optionText: String) { self = optionText }
    public var optionText: String { self }
    public static var optionTypeDescription: String { "text" }
}

/// Enumerations with string cases are options whose text is one of their cases.
extension OptionValue where Self: RawRepresentable & CaseIterable, RawValue == String {
    public init?(optionText: String) { self.init(rawValue: optionText) }
    public var optionText: String { rawValue }
    public static var optionTypeDescription: String { "one of " + allCases.map(\.rawValue).joined(separator: ", ") }
}

/// One option of a plugin, declared once — key, type, default, allowed values, help — and read by the
/// plugin's factory (`options.value(of:)`), by validation, and by `elmo list` (through ``info``).
public struct PluginOption<Value: OptionValue>: Sendable {
    public let key: String
    /// nil: the option is required.
    public let defaultValue: Value?
    public let help: String
    /// What a valid value is, for errors: "a number in [0, 1)".
    public let expected: String
    let isValid: @Sendable (Value) -> Bool

    public init(_ key: String, default defaultValue: Value?, help: String, expected: String? = nil,
                where isValid: @escaping @Sendable (Value) -> Bool = { _ in true }) {
        self.key = key
        self.defaultValue = defaultValue
        self.help = help
        self.expected = expected ?? Value.optionTypeDescription
        self.isValid = isValid
    }

    public var info: OptionInfo {
        OptionInfo(key: key, help: help, defaultText: defaultValue?.optionText, expected: expected)
    }
}

extension PluginOption where Value == Double {
    /// A number > 0.
    public static func positive(_ key: String, default value: Double?, help: String) -> PluginOption {
        PluginOption(key, default: value, help: help, expected: "a positive number", where: { $0 > 0 })
    }
    /// A number ≥ 0.
    public static func nonNegative(_ key: String, default value: Double?, help: String) -> PluginOption {
        PluginOption(key, default: value, help: help, expected: "a number ≥ 0", where: { $0 >= 0 })
    }
    /// A number in [0, 1).
    public static func fraction(_ key: String, default value: Double?, help: String) -> PluginOption {
        PluginOption(key, default: value, help: help, expected: "a number in [0, 1)", where: { $0 >= 0 && $0 < 1 })
    }
}

extension PluginOption where Value == Int {
    /// An integer > 0.
    public static func positive(_ key: String, default value: Int?, help: String) -> PluginOption {
        PluginOption(key, default: value, help: help, expected: "a positive integer", where: { $0 > 0 })
    }
}

/// What `elmo list` and error messages show of an option, whatever its type.
public struct OptionInfo: Sendable, Equatable {
    public let key: String
    public let help: String
    public let defaultText: String?
    public let expected: String

    /// For options read by hand rather than through an ``PluginOption`` (a composite's `PART.KEY`).
    public init(key: String, help: String, defaultText: String? = nil, expected: String = "text") {
        self.key = key
        self.help = help
        self.defaultText = defaultText
        self.expected = expected
    }
}
