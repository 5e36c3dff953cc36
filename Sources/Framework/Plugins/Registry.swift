/// One option a plugin accepts, for `elmo list` and for error messages.
public struct OptionSpec: Sendable, Equatable {
    public let name: String
    public let help: String
    public let defaultValue: String?

    public init(_ name: String, help: String, default defaultValue: String? = nil) {
        self.name = name
        self.help = help
        self.defaultValue = defaultValue
    }
}

/// What a registry knows about a plugin besides its factory.
public struct ComponentInfo: Sendable, Equatable {
    public let name: String
    public let summary: String
    public let options: [OptionSpec]

    public init(name: String, summary: String, options: [OptionSpec] = []) {
        self.name = name
        self.summary = summary
        self.options = options
    }
}

/// String-valued options handed to a plugin's factory (from flags or a config file).
///
/// Typed getters parse and validate; every key read is remembered so that, after the factory
/// returns, keys nobody read are rejected (a misspelt option never silently falls back to its
/// default — AllenNLP's `assert_empty`).
public struct ComponentOptions: Sendable {
    public let values: [String: String]
    /// Who the options are for, for messages: "optimizer adam".
    public let context: String
    private(set) var readKeys: Set<String> = []

    public init(_ values: [String: String] = [:], context: String) {
        self.values = values
        self.context = context
    }

    public mutating func string(_ key: String, default fallback: String) -> String {
        readKeys.insert(key)
        return values[key] ?? fallback
    }

    public mutating func optionalString(_ key: String) -> String? {
        readKeys.insert(key)
        return values[key]
    }

    public mutating func double(
        _ key: String, default fallback: Double, where valid: (Double) -> Bool = { $0.isFinite }, expected: String = "a finite number"
    ) throws -> Double {
        readKeys.insert(key)
        guard let text = values[key] else { return fallback }
        guard let value = Double(text), value.isFinite, valid(value) else {
            throw InputError("\(context): option \(key)=\(text) is invalid, expected \(expected)")
        }
        return value
    }

    /// A number > 0.
    public mutating func positive(_ key: String, default fallback: Double) throws -> Double {
        try double(key, default: fallback, where: { $0 > 0 }, expected: "a positive number")
    }

    /// A number ≥ 0.
    public mutating func nonNegative(_ key: String, default fallback: Double) throws -> Double {
        try double(key, default: fallback, where: { $0 >= 0 }, expected: "a number ≥ 0")
    }

    /// A number in [0, 1).
    public mutating func fraction(_ key: String, default fallback: Double) throws -> Double {
        try double(key, default: fallback, where: { $0 >= 0 && $0 < 1 }, expected: "a number in [0, 1)")
    }

    public mutating func int(
        _ key: String, default fallback: Int, where valid: (Int) -> Bool = { _ in true }, expected: String = "an integer"
    ) throws -> Int {
        readKeys.insert(key)
        guard let text = values[key] else { return fallback }
        guard let value = Int(text), valid(value) else {
            throw InputError("\(context): option \(key)=\(text) is invalid, expected \(expected)")
        }
        return value
    }

    public mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        readKeys.insert(key)
        guard let text = values[key] else { return fallback }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw InputError("\(context): option \(key)=\(text) is invalid, expected true or false")
        }
    }

    /// Keys given but never read by the factory.
    public var unreadKeys: [String] { values.keys.filter { !readKeys.contains($0) }.sorted() }
}

/// Name → factory for one kind of plugin (encoders, heads or optimizers).
///
/// Swift runs no code when a module loads, so registration is explicit: each module exposes
/// `register(into:)` and the executables call them once at start. Duplicate names are refused;
/// an unknown name is answered with the list of known ones.
public struct Registry<Context, Product>: Sendable {
    public typealias Factory = @Sendable (inout ComponentOptions, Context) throws -> Product

    /// "encoder", "head", "optimizer".
    public let kind: String
    private var entries: [String: (info: ComponentInfo, factory: Factory)] = [:]
    private var order: [String] = []

    public init(kind: String) { self.kind = kind }

    public mutating func register(_ info: ComponentInfo, factory: @escaping Factory) throws {
        guard entries[info.name] == nil else {
            throw RuntimeFailure("\(kind) \(info.name) is registered twice")
        }
        entries[info.name] = (info, factory)
        order.append(info.name)
    }

    /// Registered plugins in registration order.
    public var components: [ComponentInfo] { order.map { entries[$0]!.info } }
    public var names: [String] { order }

    public func info(_ name: String) throws -> ComponentInfo {
        guard let entry = entries[name] else { throw unknown(name) }
        return entry.info
    }

    /// Builds the plugin `name` with `options`; options it does not know are an input error.
    public func make(_ name: String, options: [String: String] = [:], context: Context) throws -> Product {
        guard let entry = entries[name] else { throw unknown(name) }
        var componentOptions = ComponentOptions(options, context: "\(kind) \(name)")
        let product = try entry.factory(&componentOptions, context)
        let unread = componentOptions.unreadKeys
        if !unread.isEmpty {
            let known = entry.info.options.map(\.name)
            throw InputError("\(kind) \(name) has no option \(unread.joined(separator: ", ")) (its options: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        return product
    }

    private func unknown(_ name: String) -> InputError {
        InputError("unknown \(kind) '\(name)' (known: \(order.joined(separator: ", ")))")
    }
}
